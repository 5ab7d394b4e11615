"""Auxiliary fetches of rights documents, and a per-origin once-only cache.

Auxiliary requests copy Scrapy's RobotsTxtMiddleware habits: high priority,
``NO_CALLBACK``, never filtered, marked with ``tdmguard_aux`` so the rights
checks skip them (the blocklist still applies). Redirects are followed here,
by hand, so the count of consecutive redirects is ours to enforce.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar, cast
from urllib.parse import urljoin

from scrapy import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred, DeferredList
from twisted.python.failure import Failure

from tdmguard.middlewares import signals
from tdmguard.middlewares.exceptions import error_text
from tdmguard.middlewares.snapshots import Snapshot, utcnow
from tdmguard.middlewares.vocab import AUX_META

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

PRIORITY = 1000

T = TypeVar("T")

#: Response flags Scrapy sets on a body that may not be whole: ``partial``
#: (the connection closed before the end of a body sent without
#: Content-Length: Twisted cannot tell a clean close from a reset, RFC 9112
#: §8), ``dataloss`` (fewer bytes than Content-Length, kept only when
#: ``DOWNLOAD_FAIL_ON_DATALOSS`` is off) and ``download_stopped`` (a
#: ``StopDownload`` from a ``bytes_received`` handler).
TRUNCATED_FLAGS = frozenset({"partial", "dataloss", "download_stopped"})


def truncation(response: Response) -> str:
    """Why *response*'s body may be cut off ("" when it arrived whole).

    A 206 is cut off too: tdmguard never sends ``Range``, so a 206 Partial
    Content is part of a representation (RFC 9110 §15.3.7), though 2xx.
    """
    if response.status == 206:
        span = (response.headers.get(b"Content-Range") or b"").decode("latin-1")[:80]
        return (f"206 Partial Content ({span or 'no Content-Range'}) to a request "
                "for the whole representation: a part of it, not the whole")
    flags = TRUNCATED_FLAGS.intersection(response.flags)
    if not flags:
        return ""
    if "partial" in flags:
        how = "the connection closed before the end of a body sent without Content-Length"
    elif "dataloss" in flags:
        how = "fewer bytes arrived than its Content-Length announced"
    else:
        how = "the download was stopped"
    return f"body cut off after {len(response.body)} bytes ({how})"


@dataclass(slots=True)
class Fetched:
    """The outcome of one auxiliary fetch (after redirects)."""

    url: str
    response: Response | None = None
    error: str | None = None
    redirects: list[str] = field(default_factory=list)
    too_many_redirects: bool = False
    #: The body may be cut off (``error`` says how): never read as whole.
    truncated: bool = False

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None

    def headers(self) -> dict[str, list[str]]:
        if self.response is None:
            return {}
        return {
            k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs]
            for k, vs in self.response.headers.items()
        }

    def snapshot(self, kind: str, origin: str, limit: int, keep_body: bool = True) -> Snapshot:
        body = self.response.body[:limit] if (self.response is not None and keep_body) else b""
        error = self.error
        if self.too_many_redirects:
            error = f"more than {len(self.redirects) - 1} consecutive redirects"
        return Snapshot(kind, self.url, origin, utcnow(), self.status, self.headers(), body,
                        error, list(self.redirects))


async def fetch_document(crawler: Crawler, url: str, kind: str,
                         max_redirects: int = 5) -> Fetched:
    """GET *url* through the downloader, following up to *max_redirects*.

    A body that may be cut off (:func:`truncation`) is an ``error``: the
    response is kept for the snapshot, but no reader may read it as whole.
    """
    result = Fetched(url)
    bounds = aux_bounds(crawler)
    while True:
        request = Request(
            url, priority=PRIORITY, callback=NO_CALLBACK, dont_filter=True,
            meta={AUX_META: kind, "dont_redirect": True, "dont_retry": True,
                  "handle_httpstatus_all": True, "dont_cache": True,
                  # A body cut short is an error, whatever DOWNLOAD_FAIL_ON_DATALOSS says.
                  "download_fail_on_dataloss": True, **bounds},
        )
        try:
            response = await crawler.engine.download_async(request)
        except Exception as exc:
            result.error = error_text(exc)
            result.response = None
            return result
        result.response = response
        cut = truncation(response)
        if cut:
            result.error, result.truncated = cut, True
            return result
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location:
            url = urljoin(response.url, location.decode("latin-1"))
            result.redirects.append(url)
            if len(result.redirects) > max_redirects:
                result.too_many_redirects = True
                return result
            continue
        return result


async def gather(*awaitables: Awaitable[T]) -> list[T]:
    """Await several coroutines concurrently (under any reactor), results in
    order; the first failure is raised once all have finished."""
    if not awaitables:
        return []
    results = await maybe_deferred_to_future(
        DeferredList([deferred_from_coro(a) for a in awaitables], consumeErrors=True))
    values: list[T] = []
    for ok, value in results:
        if not ok:
            cast(Failure, value).raiseException()  # DeferredList: (False, Failure)
        values.append(value)
    return values


def emit_snapshot(crawler: Crawler, snapshot: Snapshot) -> None:
    crawler.signals.send_catch_log(signals.snapshot_fetched, snapshot=snapshot)


async def fetch_snapshot(crawler: Crawler, origin: str, url: str, kind: str,
                         max_redirects: int, limit: int) -> tuple[Fetched, Snapshot]:
    """Fetch a rights document and record it as a ledger snapshot.

    Never raises: whatever broke is the fetch's ``error``, which every reader
    turns into its fail-closed answer. More than *max_redirects* redirects
    count as no response.
    """
    crawler.stats.inc_value(f"tdmguard/location/fetch/{kind}")
    try:
        got = await fetch_document(crawler, url, kind, max_redirects)
    except Exception as exc:  # fail closed through the reader's "no response"
        logger.error("%s fetch of %s failed", kind, url, exc_info=True)
        got = Fetched(url, error=error_text(exc))
    if got.too_many_redirects:
        got.response = None
        got.error = f"more than {max_redirects} consecutive redirects"
    snapshot = got.snapshot(kind, origin, limit)
    snapshot.url = url
    emit_snapshot(crawler, snapshot)
    return got, snapshot


def body_of(got: Fetched, limit: int) -> bytes:
    return got.response.body[:limit] if got.response is not None else b""


def parse_fetched(parse: Callable[[bytes, int | None, str], T], got: Fetched,
                  limit: int) -> T:
    """Run a reader's ``parse(body, status, url)`` on a fetch. A fetch that
    failed or was cut off is read as no response (the reader's fail-closed
    state), with the real cause as the reader's ``error``."""
    if got.error is None:
        return parse(body_of(got, limit), got.status, got.url)
    doc = parse(b"", None, got.url)
    if getattr(doc, "state", "") == "error" and hasattr(doc, "error"):
        doc.error = got.error
    return doc


def aux_bounds(crawler: Crawler) -> dict[str, float | int]:
    """Request meta bounding one rights-document fetch: its timeout
    (``TDMGUARD_DOCUMENT_TIMEOUT``, at most ``DOWNLOAD_TIMEOUT``) and size cap
    (``TDMGUARD_DOCUMENT_MAXSIZE``, its own: never below 1 MiB)."""
    s = crawler.settings
    meta: dict[str, float | int] = {}
    timeout = s.getfloat("TDMGUARD_DOCUMENT_TIMEOUT", 30.0)
    page = s.getfloat("DOWNLOAD_TIMEOUT", 180.0)
    if timeout > 0:
        # Never longer than a page may take.
        meta["download_timeout"] = min(timeout, page) if page > 0 else timeout
    maxsize = s.getint("TDMGUARD_DOCUMENT_MAXSIZE", 0)
    if maxsize > 0:
        meta["download_maxsize"] = maxsize
        meta["download_warnsize"] = 0
    return meta


class PerOrigin(Generic[T]):
    """A value per origin, made once while concurrent callers wait, kept
    until the expiry the maker returns (``time.monotonic()`` seconds)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[T, float]] = {}
        self._waiting: dict[str, list[Deferred[T]]] = {}

    def peek(self, origin: str) -> T | None:
        item = self._values.get(origin)
        if item is not None and item[1] > time.monotonic():
            return item[0]
        return None

    async def get(self, origin: str, make: Callable[[], Awaitable[tuple[T, float]]]) -> T:
        item = self._values.get(origin)
        if item is not None and item[1] > time.monotonic():
            return item[0]
        if origin in self._waiting:
            waiter: Deferred[T] = Deferred()
            self._waiting[origin].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[origin] = []
        try:
            value, expires = await make()
        except BaseException as exc:
            for waiter in self._waiting.pop(origin):
                waiter.errback(exc)
            raise
        self._values[origin] = (value, expires)
        for waiter in self._waiting.pop(origin):
            waiter.callback(value)
        return value
