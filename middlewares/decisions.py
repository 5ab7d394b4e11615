"""One decision per request, made before the spider sees anything.

Enabled by the add-on. Sits at order 585 in ``DOWNLOADER_MIDDLEWARES``: after
decompression and redirects on the way back, so response-level checks see the
final, decoded response. It collects the reasons earlier checks stored in
``request.meta["tdmguard_reasons"]``, runs the response checks registered with
:data:`RESPONSE_CHECKS` (content signals, lawful access), and sends
``tdmguard.middlewares.signals.decision_recorded`` once per request. A response that
any reason reserves is dropped (:class:`~tdmguard.middlewares.exceptions.Refused`).
RSL licences a page names (:mod:`tdmguard.middlewares.rsllinks`) are fetched, once
each, before that decision.

A response whose body may be cut off (Scrapy's ``partial``, ``dataloss`` or
``download_stopped`` flags) is dropped with an ``http`` ``unreadable`` reason.

It also refuses, before download, any request whose User-Agent header does
not carry our product token, and any request carrying credentials
(``Authorization``): tdmguard never crawls under another name or logged in.

Stats: ``tdmguard/decisions/{fetched,refused,dropped,failed}``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.misc import build_from_crawler, load_object

from tdmguard.middlewares import signals
from tdmguard.middlewares.exceptions import Refused, error_text
from tdmguard.middlewares.fetch import truncation
from tdmguard.middlewares.rsllinks import RslLicences
from tdmguard.middlewares.settings import Config
from tdmguard.middlewares.snapshots import request_origin, utcnow
from tdmguard.middlewares.vocab import (
    AUX_META,
    REASONS_META,
    RESERVED,
    RSL_REFS_META,
    SNAPSHOTS_META,
    UNREADABLE,
    Decision,
    Reason,
    add_reasons,
    is_allowed,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.spiders import Spider

    from tdmguard.middlewares.readers.rsl import LicenseRef

logger = logging.getLogger(__name__)

ResponseCheck = Callable[["Request", "Response"], list[Reason]]

#: Response checks run on every final response, in order. Each class is built
#: with ``from_crawler`` (raising NotConfigured when its setting is off) and
#: offers ``check(request, response) -> list[Reason]``.
RESPONSE_CHECKS: list[str] = [
    "tdmguard.middlewares.responsesignals.ResponseSignals",
    "tdmguard.middlewares.lawful.LawfulAccess",
]


class DecisionMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.config = Config.from_settings(crawler.settings)
        self._lower_tokens = tuple(t.lower() for t in self.config.tokens)
        #: User-Agent header bytes -> carries one of our tokens (a crawl sends few).
        self._honest: dict[bytes, bool] = {}
        self.response_checks: list[ResponseCheck] = []
        for path in RESPONSE_CHECKS:
            try:
                component = build_from_crawler(load_object(path), crawler)
            except NotConfigured as exc:
                logger.warning("Disabled %s: %s", path, exc)
                continue
            self.response_checks.append(component.check)
        try:
            self.licences: RslLicences | None = RslLicences.from_crawler(crawler)
        except NotConfigured:
            self.licences = None
        self.stats = crawler.stats
        #: Requests that passed every check and left for the downloader, not yet
        #: decided: on an interrupt each still gets its decision (:meth:`interrupt`).
        self.in_flight: dict[int, Request] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DecisionMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        raw = request.headers.get(b"User-Agent") or b""
        honest = self._honest.get(raw)
        if honest is None:
            if len(self._honest) > 1024:
                self._honest.clear()
            ua = raw.decode("latin-1").lower()
            honest = self._honest[raw] = any(t in ua for t in self._lower_tokens)
        reasons = []
        if not honest:
            ua = raw.decode("latin-1")
            reasons.append(Reason(
                "lawful-access", RESERVED, rule=f"User-Agent: {ua}", source="User-Agent",
                detail="the User-Agent header does not carry our product token; "
                "tdmguard never crawls under another name"))
        if b"Authorization" in request.headers or b"Proxy-Authorization" in request.headers:
            reasons.append(Reason(
                "lawful-access", RESERVED, rule="Authorization header", source="Authorization",
                detail="tdmguard never sends credentials"))
        if reasons:
            if request.meta.get(AUX_META):
                raise IgnoreRequest("auxiliary fetch refused: " + reasons[0].detail)
            add_reasons(request, reasons)
            raise Refused(reasons)
        if request.meta.get(AUX_META):
            return
        self.in_flight[id(request)] = request

    def interrupt(self, why: str) -> int:
        """Record a decision for every request still in flight (the crawl is
        stopping): stage ``failed``, not allowed, with *why*. Returns how many."""
        pending = list(self.in_flight.values())
        self.in_flight.clear()
        for request in pending:
            self._record(request, request.meta.get(REASONS_META, []), "failed", None, None,
                         None, error=why)
        return len(pending)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response | Coroutine[Any, Any, Response]:
        if request.meta.get(AUX_META):
            return response
        reasons: list[Reason] = request.meta.setdefault(REASONS_META, [])
        cut = truncation(response)
        if cut:
            # RFC 9112 §8: a close-delimited body is complete only "unless an
            # error was indicated by the underlying connection", which Twisted
            # cannot tell apart from a clean close; a meta tag or embedded
            # metadata may have been cut off with it.
            self.stats.inc_value("tdmguard/decisions/truncated")
            reasons.append(Reason(
                "http", UNREADABLE, rule=f"HTTP {response.status}, {cut}",
                source=response.url,
                detail=f"the response {cut}: its rights signals cannot be read whole "
                "(RFC 9112 §8)"))
        for check in self.response_checks:
            reasons.extend(check(request, response))
        refs = request.meta.pop(RSL_REFS_META, None)
        if refs and self.licences is not None:
            # The page names RSL licences: fetched (once) before deciding.
            return self._decide_after_licences(request, response, reasons, refs)
        return self._decide(request, response, reasons)

    async def _decide_after_licences(self, request: Request, response: Response,
                                     reasons: list[Reason], refs: list[LicenseRef]
                                     ) -> Response:
        assert self.licences is not None
        reasons.extend(await self.licences.reasons(request, refs))
        return self._decide(request, response, reasons)

    def _decide(self, request: Request, response: Response, reasons: list[Reason]) -> Response:
        body = response.body
        if not is_allowed(reasons):
            self._record(request, reasons, "dropped", response.status, None, None)
            raise Refused(reasons, stage="dropped")
        if response.status == 429 or response.status >= 500:
            # Nothing usable was received; RetryMiddleware (550) may try again,
            # which gets a decision of its own.
            self._record(request, reasons, "failed", response.status, None, None,
                         error=f"HTTP {response.status}")
            return response
        self._record(request, reasons, "fetched", response.status,
                     hashlib.sha256(body).hexdigest(), len(body))
        return response

    def process_exception(self, request: Request, exception: Exception,
                          spider: Spider | None = None) -> None:
        if isinstance(exception, IgnoreRequest) and not isinstance(exception, Refused):
            # Dropped by a later component before it left: not in flight any more.
            self.in_flight.pop(id(request), None)
        if request.meta.get(AUX_META):
            return
        if isinstance(exception, Refused):
            if exception.stage == "refused":
                self._record(request, exception.reasons, "refused", None, None, None)
            return
        if isinstance(exception, IgnoreRequest):
            return
        reasons = request.meta.get(REASONS_META, [])
        self._record(request, reasons, "failed", None, None, None,
                     error=error_text(exception))

    def record_dropped(self, request: Request, reasons: list[Reason], status: int) -> None:
        """A response a later component (decompression) would not pass on:
        decided ``dropped`` here, since :meth:`process_response` never saw it."""
        self._record(request, reasons, "dropped", status, None, None)

    def _record(self, request: Request, reasons: list[Reason], stage: str,
                status: int | None, sha: str | None, length: int | None,
                error: str | None = None) -> None:
        self.in_flight.pop(id(request), None)
        record_decision(self.crawler, self.config, request, reasons, stage, status=status,
                        content_sha256=sha, content_length=length, error=error)


def record_decision(crawler: Crawler, config: Config, request: Request,
                    reasons: list[Reason], stage: str, *, status: int | None = None,
                    content_sha256: str | None = None, content_length: int | None = None,
                    error: str | None = None, user_agent: str | None = None) -> None:
    """Build the one decision for *request* and send ``decision_recorded``.

    The single place a decision is made, for every component that decides.
    """
    decision = Decision(
        url=request.url,
        # A failed download passed nothing on: never recorded as allowed.
        allowed=stage != "failed" and is_allowed(reasons),
        reasons=list(reasons),
        at=utcnow(),
        origin=request_origin(request),
        # Refused before UserAgentMiddleware ran: the header that would have been sent.
        user_agent=(request.headers.get(b"User-Agent") or b"").decode("latin-1")
        or user_agent or getattr(getattr(crawler, "spider", None), "user_agent", None)
        or crawler.settings.get("USER_AGENT") or "",
        tokens=config.tokens,
        purpose=config.purpose,
        stage=stage,
        status=status,
        content_sha256=content_sha256,
        content_length=content_length,
        snapshots=dict(request.meta.get(SNAPSHOTS_META, {})),
        redirect_urls=list(request.meta.get("redirect_urls", [])),
        error=error,
    )
    crawler.stats.inc_value(f"tdmguard/decisions/{stage}")
    crawler.signals.send_catch_log(signals.decision_recorded, decision=decision)

