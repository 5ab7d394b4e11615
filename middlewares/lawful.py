"""Lawful access (Code of Practice Measure 1.2(1)(a)) and polite crawling.

:class:`LawfulAccess` is a response check run by
:class:`~tdmguard.middlewares.decisions.DecisionMiddleware`
(``TDMGUARD_LAWFUL_ACCESS_ENABLED``). A response is dropped, with a
``lawful-access`` reason, when it answers 401, 402, 403, 407 or 451; when the
page is marked as not free (schema.org ``isAccessibleForFree`` false, in
JSON-LD, top level, ``@graph``, ``mainEntity`` or ``hasPart``, or in
microdata / RDFa); or when it was reached through a redirect to a login,
subscription or consent wall (``TDMGUARD_LOGIN_WALL_PATTERNS``, regular
expressions searched in each redirect target URL, case-insensitively). Such
pages are never retried by other means: the drop happens before Scrapy's
RetryMiddleware sees the response, and tdmguard never sends credentials.

:class:`LawfulAccessMiddleware` (downloader, order 70, after the blocklist)
refuses a redirect to a wall *before* it is requested, and refuses to start a
spider carrying ``http_user``/``http_pass``. The add-on calls
:func:`refuse_credentials` to switch Scrapy's HttpAuthMiddleware off and to
refuse ``HTTPAUTH_*`` settings.

:class:`PolitenessMiddleware` (downloader, order 570, between RetryMiddleware
and the decision; ``TDMGUARD_POLITENESS_ENABLED``) gives each origin its own
download slot, at most ``TDMGUARD_POLITENESS_CONCURRENCY`` requests in flight
and ``TDMGUARD_POLITENESS_DELAY`` seconds apart (a robots.txt Crawl-delay or a
higher ``DOWNLOAD_DELAY`` wins). On 429 and 503 it holds the origin's slot
for the ``Retry-After`` the server gave (seconds or an HTTP date), at least
``TDMGUARD_POLITENESS_BACKOFF`` doubled per consecutive 429/503 from that
origin, at most ``TDMGUARD_POLITENESS_MAX_WAIT``; Scrapy's RetryMiddleware
then retries (``RETRY_TIMES``) once the hold ends. A Retry-After longer than
the maximum means no retry at all. The hold uses the download slot's
``latercall`` (a private Scrapy API, as Crawl-delay uses ``_get_slot``); the
slot's queue counts a request as transferring as soon as it is dequeued, which
Scrapy 2.19 does only once the download task runs (a burst of requests queued
together would otherwise all start at once, past the concurrency limit).

Stats: ``tdmguard/lawful_access/dropped/<status|paywall|wall>``,
``tdmguard/lawful_access/refused/wall``,
``tdmguard/politeness/hold/<429|503>``, ``tdmguard/politeness/retry_after_too_long``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.http import TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.asyncio import call_later
from scrapy.utils.httpobj import urlparse_cached

from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.fetch import AUX_META
from tdmguard.middlewares.robotstxt import add_reasons
from tdmguard.middlewares.settings import ConfigError, require_enabled
from tdmguard.middlewares.snapshots import origin_of
from tdmguard.middlewares.vocab import RESERVED, Reason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

MEASURE = "Code of Practice Measure 1.2(1)(a)"
#: Statuses that deny or restrict access; never retried, never worked around.
STATUSES = {
    401: "the server requires authentication",
    402: "the server requires payment",
    403: "the server forbids access",
    407: "a proxy requires authentication",
    451: "the content is unavailable for legal reasons",
}
#: Default TDMGUARD_LOGIN_WALL_PATTERNS, searched in redirect targets.
DEFAULT_WALL_PATTERNS = [
    # a host whose first label names a login, account or consent service
    (r"^https?://(?:login|signin|sign-in|sso|auth|accounts?|myaccount|consent"
     r"|subscribe|subscriptions?|paywall)\."),
    # login and registration pages
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:log[-_]?in|log[-_]?on|sign[-_]?in|sign[-_]?on|sso"
     r"|auth|oauth2?|authenticate|authorize|session/new|register|registration|sign[-_]?up)"
     r"(?:[/?#.;]|$)"),
    # subscription and payment walls
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:subscribe|subscriptions?|subscriber-only"
     r"|paywall|premium-?wall|membership|become-a-member|join-?now|checkout)"
     r"(?:[/?#.;]|$)"),
    # consent walls
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:consent|cookie-?consent|cookie-?wall"
     r"|privacy-?consent|privacy-?gate(?:way)?|gdpr(?:-consent)?)(?:[/?#.;]|$)"),
]
HTTPAUTH = "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware"
_CREDENTIAL_SETTINGS = ("HTTPAUTH_USER", "HTTPAUTH_PASS", "http_user", "http_pass",
                        "HTTP_USER", "HTTP_PASS")
_FREE_KEYS = ("isAccessibleForFree", "schema:isAccessibleForFree",
              "http://schema.org/isAccessibleForFree",
              "https://schema.org/isAccessibleForFree")
_FALSE = frozenset({"false", "schema:false", "http://schema.org/false",
                    "https://schema.org/false"})
_MARKER = b"isaccessibleforfree"
# A JSON-LD block that is not valid JSON still says "not free" if this matches.
_FALSE_IN_TEXT = re.compile(
    r"isAccessibleForFree\"?\s*:\s*\"?(?:false|(?:https?://)?schema(?:\.org/|:)False)\b",
    re.IGNORECASE)


# -- settings -----------------------------------------------------------------


def wall_patterns(settings: BaseSettings) -> list[re.Pattern[str]]:
    """``TDMGUARD_LOGIN_WALL_PATTERNS``: a list, a JSON array, or a comma-separated
    string of regular expressions; ``ConfigError`` names a bad one."""
    value = settings.get("TDMGUARD_LOGIN_WALL_PATTERNS")
    if value is None:
        value = DEFAULT_WALL_PATTERNS
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigError(
                    f"TDMGUARD_LOGIN_WALL_PATTERNS: not a JSON array: {exc}") from None
        else:
            value = [p for p in text.split(",") if p.strip()]
    if not isinstance(value, (list, tuple)):
        raise ConfigError("TDMGUARD_LOGIN_WALL_PATTERNS: give a list of regular expressions")
    compiled = []
    for pattern in value:
        try:
            compiled.append(re.compile(str(pattern).strip(), re.IGNORECASE))
        except re.error as exc:
            raise ConfigError(
                f"TDMGUARD_LOGIN_WALL_PATTERNS: {pattern!r} is not a regular "
                f"expression: {exc}") from None
    return compiled


def _politeness_numbers(settings: BaseSettings) -> tuple[int, float, float, float]:
    try:
        values = (settings.getint("TDMGUARD_POLITENESS_CONCURRENCY", 2),
                  settings.getfloat("TDMGUARD_POLITENESS_DELAY", 0.25),
                  settings.getfloat("TDMGUARD_POLITENESS_BACKOFF", 2.0),
                  settings.getfloat("TDMGUARD_POLITENESS_MAX_WAIT", 600.0))
    except ValueError as exc:
        raise ConfigError(f"TDMGUARD_POLITENESS_*: {exc}") from None
    if min(values) < 0:
        raise ConfigError("TDMGUARD_POLITENESS_* settings cannot be negative")
    return values


def check_settings(settings: BaseSettings) -> None:
    """Start-up check (the add-on): patterns compile, numbers are numbers."""
    if settings.getbool("TDMGUARD_LAWFUL_ACCESS_ENABLED", True):
        wall_patterns(settings)
    if settings.getbool("TDMGUARD_POLITENESS_ENABLED", True):
        _politeness_numbers(settings)


def refuse_credentials(settings: BaseSettings) -> None:
    """Switch Scrapy's HttpAuthMiddleware off; refuse any credential setting."""
    for name in _CREDENTIAL_SETTINGS:
        if settings.get(name):
            raise ConfigError(
                f"{name} is set: tdmguard never sends credentials and never crawls "
                f"logged in ({MEASURE}); remove it")
    domain_priority = settings.getpriority("HTTPAUTH_DOMAIN") or 0
    if domain_priority > SETTINGS_PRIORITIES["default"] and settings.get("HTTPAUTH_DOMAIN"):
        raise ConfigError(
            "HTTPAUTH_DOMAIN is set: tdmguard never sends credentials; remove it")
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    from scrapy.downloadermiddlewares.httpauth import HttpAuthMiddleware

    for key, order in mws.items():
        if (key == HTTPAUTH or key is HttpAuthMiddleware) and order is not None:
            raise ConfigError(
                "HttpAuthMiddleware is enabled in DOWNLOADER_MIDDLEWARES: tdmguard "
                "never sends credentials; remove the entry")
    if HTTPAUTH not in mws:
        settings["DOWNLOADER_MIDDLEWARES"] = {**mws, HTTPAUTH: None}


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 §10.2.3), or ``None``."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- lawful access ------------------------------------------------------------


def _is_false(value: Any) -> bool:
    if isinstance(value, list):
        return any(_is_false(v) for v in value)
    if isinstance(value, dict):
        return _is_false(value.get("@value", value.get("@id")))
    if value is False:
        return True
    return isinstance(value, str) and value.strip().lower() in _FALSE


def _not_free(node: Any, where: str) -> Iterator[str]:
    """Where in a JSON-LD tree the page, or a part of it, is marked not free."""
    if isinstance(node, list):
        for item in node:
            yield from _not_free(item, where)
        return
    if not isinstance(node, dict):
        return
    if any(_is_false(node.get(key)) for key in _FREE_KEYS):
        yield where
    yield from _not_free(node.get("@graph"), where)
    for key in ("hasPart", "mainEntity"):
        yield from _not_free(node.get(key), f"{where} {key}")


def paywall_reasons(response: Response) -> list[Reason]:
    """``isAccessibleForFree`` false in the page's JSON-LD, microdata or RDFa."""
    if not isinstance(response, TextResponse) or _MARKER not in response.body.lower():
        return []
    if response.selector.type not in ("html", "xml"):  # JSON, for one, has no markup
        return []
    found: list[tuple[str, str]] = []
    for block in response.xpath(
            "//script[contains(translate(@type, 'JSONLD', 'jsonld'), 'ld+json')]/text()"
    ).getall():
        try:
            data = json.loads(block, strict=False)
        except ValueError:
            if _FALSE_IN_TEXT.search(block):
                found.append(("JSON-LD", "isAccessibleForFree: false (invalid JSON-LD)"))
            continue
        found += [("JSON-LD", f"isAccessibleForFree: false ({where})")
                  for where in _not_free(data, "JSON-LD")]
    for element in response.xpath(
            "//*[contains(@itemprop, 'isAccessibleForFree') "
            "or contains(@property, 'isAccessibleForFree')]"):
        value = (element.attrib.get("content") or element.attrib.get("href")
                 or element.xpath("normalize-space(.)").get() or "")
        if _is_false(value):
            kind = "microdata" if "itemprop" in element.attrib else "RDFa"
            found.append((kind, f'{kind} isAccessibleForFree="{value.strip()}"'))
    return [Reason("lawful-access", RESERVED, rule=rule, source=source,
                   detail="the page is marked as not free to access (schema.org "
                   f"isAccessibleForFree); paywalled content is not crawled ({MEASURE})")
            for source, rule in dict.fromkeys(found)]


def wall_reason(targets: list[str], patterns: list[re.Pattern[str]]) -> Reason | None:
    """The first redirect target that is a login, subscription or consent wall."""
    for url in targets:
        for pattern in patterns:
            if pattern.search(url):
                return Reason(
                    "lawful-access", RESERVED, rule=pattern.pattern, source=url,
                    detail=f"redirected to {url}, a login, subscription or consent "
                    f"wall (TDMGUARD_LOGIN_WALL_PATTERNS); walls are never crawled "
                    f"through ({MEASURE})")
    return None


def redirect_targets(request: Request, final_url: str | None = None) -> list[str]:
    redirects = request.meta.get("redirect_urls") or []
    return [*redirects[1:], final_url or request.url] if redirects else []


class LawfulAccess:
    """Response check: statuses, paywall markup and login-wall redirects."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_LAWFUL_ACCESS_ENABLED")
        self.crawler = crawler
        self.patterns = wall_patterns(s)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LawfulAccess:
        return cls(crawler)

    def check(self, request: Request, response: Response) -> list[Reason]:
        reasons: list[Reason] = []
        kind = ""
        wall = wall_reason(redirect_targets(request, response.url), self.patterns)
        if wall is not None:
            reasons.append(wall)
            kind = "wall"
        if response.status in STATUSES:
            reasons.append(Reason(
                "lawful-access", RESERVED, rule=f"HTTP {response.status}",
                source="HTTP status",
                detail=f"{STATUSES[response.status]}; tdmguard neither retries nor "
                f"works around it ({MEASURE})"))
            kind = kind or "status"
        elif (paywall := paywall_reasons(response)):
            reasons += paywall
            kind = kind or "paywall"
        if kind:
            self.stats.inc_value(f"tdmguard/lawful_access/dropped/{kind}")
            logger.debug("Dropped for lawful access (%(kind)s): %(request)s",
                         {"kind": kind, "request": request})
        return reasons


class LawfulAccessMiddleware(LawfulAccess):
    """Downloader middleware: refuse a redirect to a wall before requesting it."""

    def __init__(self, crawler: Crawler) -> None:
        spider = crawler.spider
        for name in ("http_user", "http_pass"):
            if getattr(spider, name, None):
                raise ConfigError(
                    f"the spider sets {name}: tdmguard never sends credentials and "
                    f"never crawls logged in ({MEASURE}); remove it")
        super().__init__(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LawfulAccessMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META):
            return
        reason = wall_reason(redirect_targets(request), self.patterns)
        if reason is None:
            return
        self.stats.inc_value("tdmguard/lawful_access/refused/wall")
        logger.debug("Refused, redirect to a wall: %(request)s", {"request": request})
        add_reasons(request, [reason])
        raise Refused([reason])


# -- politeness ---------------------------------------------------------------


class _TransferQueue(deque):  # type: ignore[type-arg]
    """A slot queue that counts a request as transferring as soon as it leaves.

    Scrapy 2.19 adds a request to ``slot.transferring`` only when its download
    task first runs, so requests queued in one tick all start at once, past
    the slot's concurrency; counting it at ``popleft`` keeps the limit.
    """

    def __init__(self, slot: Slot, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self.slot = slot

    def popleft(self) -> Any:
        item = super().popleft()
        self.slot.transferring.add(item[0])
        return item


class PolitenessMiddleware:
    """Per-origin slots, a minimum delay, and Retry-After holds on 429/503."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_POLITENESS_ENABLED")
        self.crawler = crawler
        self.concurrency, self.delay, self.backoff, self.max_wait = _politeness_numbers(s)
        self._slots: dict[str, Slot] = {}
        self._hold_until: dict[str, float] = {}
        self._strikes: dict[str, int] = {}
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            return
        downloader = self.crawler.engine.downloader
        if urlparse_cached(request).hostname not in downloader.per_slot_settings:
            # One slot per origin, as for Crawl-delay; a user's DOWNLOAD_SLOTS wins.
            request.meta.setdefault(downloader.DOWNLOAD_SLOT, origin_of(request.url))
        key, slot = downloader._get_slot(request)
        if self._slots.get(key) is slot:
            return
        # A new slot (or one Scrapy collected while idle): apply our limits.
        self._slots[key] = slot
        if self.concurrency:
            slot.concurrency = min(slot.concurrency, self.concurrency)
        if type(slot.queue) is deque:
            slot.queue = _TransferQueue(slot, slot.queue)
        if self.delay > slot.delay:
            slot.delay, slot.jitter = self.delay, 0.0
        until = self._hold_until.get(key, 0.0)
        if until > time.monotonic():
            self._hold(slot, until)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        downloader = self.crawler.engine.downloader
        key = request.meta.get(downloader.DOWNLOAD_SLOT)
        if key is None:
            return response
        if response.status not in (429, 503):
            self._strikes.pop(key, None)
            return response
        strikes = self._strikes[key] = self._strikes.get(key, 0) + 1
        after = retry_after_seconds(response.headers.get(b"Retry-After"))
        wait = max(after or 0.0, self.backoff * 2 ** (strikes - 1))
        if after is not None and after > self.max_wait:
            # Coming back sooner than the server asked would not be polite.
            request.meta["dont_retry"] = True
            self.stats.inc_value("tdmguard/politeness/retry_after_too_long")
        wait = min(wait, self.max_wait)
        self.stats.inc_value(f"tdmguard/politeness/hold/{response.status}")
        logger.debug("HTTP %(status)s from %(slot)s: holding it %(wait).1f s",
                     {"status": response.status, "slot": key, "wait": wait})
        until = max(self._hold_until.get(key, 0.0), time.monotonic() + wait)
        self._hold_until[key] = until
        slot = downloader.slots.get(key)
        if slot is not None:
            self._hold(slot, until)
        return response

    def _hold(self, slot: Slot, until: float) -> None:
        """Stop the slot from starting downloads until *until* (monotonic)."""
        if slot.latercall is not None:
            slot.latercall.cancel()
        downloader = self.crawler.engine.downloader
        slot.latercall = call_later(max(0.0, until - time.monotonic()),
                                    downloader._latercall, slot)
