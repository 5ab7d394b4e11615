"""Polite crawling: per-origin download slots, a minimum delay, Retry-After holds.

:class:`PolitenessMiddleware` (downloader, order 570, between RetryMiddleware
and the decision; ``TDMGUARD_POLITENESS_ENABLED``) gives each origin its own
download slot, at most ``TDMGUARD_POLITENESS_CONCURRENCY`` requests in flight
and ``TDMGUARD_POLITENESS_DELAY`` seconds apart (a robots.txt Crawl-delay or a
higher ``DOWNLOAD_DELAY`` wins). On 429 and 503 it holds the origin's slot
for the ``Retry-After`` the server gave (seconds or an HTTP date), at least
``TDMGUARD_POLITENESS_BACKOFF`` doubled per consecutive 429/503 from that
origin, at most ``TDMGUARD_POLITENESS_MAX_WAIT``; Scrapy's RetryMiddleware
then retries (``RETRY_TIMES``) once the hold ends. A Retry-After longer than
the maximum means no retry at all. The slot handling (creating an origin's
slot, holding it, counting a request as transferring as soon as it is
dequeued so a burst queued together keeps the concurrency limit) goes through
:mod:`tdmguard.middlewares.compat`, the one place that touches Scrapy
internals.

Stats: ``tdmguard/politeness/hold/<429|503>``,
``tdmguard/politeness/retry_after_too_long``.

:meth:`PolitenessMiddleware.waiting` says which origin the crawl is waiting
for and why (a Crawl-delay, a Retry-After hold), for progress displays.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy.utils.httpobj import urlparse_cached

from tdmguard.middlewares import compat, schema
from tdmguard.middlewares.settings import require_enabled
from tdmguard.middlewares.snapshots import origin_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)


def _politeness_numbers(settings: BaseSettings) -> tuple[int, float, float, float]:
    """Concurrency, delay, backoff and longest wait, typed by the one settings schema."""
    names = ("TDMGUARD_POLITENESS_CONCURRENCY", "TDMGUARD_POLITENESS_DELAY",
             "TDMGUARD_POLITENESS_BACKOFF", "TDMGUARD_POLITENESS_MAX_WAIT")
    concurrency, delay, backoff, wait = (
        schema.parse_value(n, settings.get(n, schema.DEFAULTS[n])) for n in names)
    return int(concurrency), float(delay), float(backoff), float(wait)


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
        self._floor = max(self.delay, s.getfloat("DOWNLOAD_DELAY", 0.0))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            return
        downloader = compat.downloader(self.crawler)
        if urlparse_cached(request).hostname not in downloader.per_slot_settings:
            # One slot per origin, as for Crawl-delay; a user's DOWNLOAD_SLOTS wins.
            request.meta.setdefault(downloader.DOWNLOAD_SLOT, origin_of(request.url))
        key, slot = compat.download_slot(self.crawler, request)
        if self._slots.get(key) is slot:
            return
        # A new slot (or one Scrapy collected while idle): apply our limits.
        self._slots[key] = slot
        if self.concurrency:
            slot.concurrency = min(slot.concurrency, self.concurrency)
        compat.count_transfers_on_dequeue(slot)
        if self.delay > slot.delay:
            compat.set_slot_delay(slot, self.delay)
        until = self._hold_until.get(key, 0.0)
        if until > time.monotonic():
            self._hold(slot, until)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        downloader = compat.downloader(self.crawler)
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

    def waiting(self, at_least: float = 1.0) -> tuple[str, str] | None:
        """The origin whose queued requests wait longest for its slot, and why
        (``"Crawl-delay 30 s"``, ``"held after HTTP 429/503, 42 s left"``), or None
        when no origin with requests queued waits *at_least* seconds between
        downloads. A delay above our own and ``DOWNLOAD_DELAY`` is the
        origin's robots.txt Crawl-delay."""
        now = time.monotonic()
        found: tuple[float, str, str] | None = None
        for key, slot in self._slots.items():
            if not slot.queue:
                continue
            held = self._hold_until.get(key, 0.0) - now
            if held > 0:
                wait, why = held, f"held after HTTP 429/503, {held:.0f} s left"
            elif slot.delay >= at_least:
                wait = slot.delay
                why = (f"Crawl-delay {slot.delay:g} s" if slot.delay > self._floor
                       else f"delay {slot.delay:g} s")
            else:
                continue
            if found is None or wait > found[0]:
                found = (wait, key, why)
        return None if found is None else (found[1], found[2])

    def _hold(self, slot: Slot, until: float) -> None:
        """Stop the slot from starting downloads until *until* (monotonic)."""
        compat.hold_slot(self.crawler, slot, until - time.monotonic())
