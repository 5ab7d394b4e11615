"""RFC 9309 robots.txt enforcement for Scrapy, replacing Scrapy's own.

Enabled by the add-on (``TDMGUARD_ROBOTSTXT_ENABLED``, default True), which
also sets ``ROBOTSTXT_OBEY = False`` so Scrapy's fail-open middleware is off.

One robots.txt per origin (scheme, host, port), fetched before any other
request to that origin; requests that arrive meanwhile wait for that fetch.
Status handling (RFC 9309 §2.3.1): 2xx parsed (HTML bodies yield no rules);
up to ``TDMGUARD_ROBOTSTXT_MAX_REDIRECTS`` redirects followed across hosts, the
rules applying to the original origin; 4xx "unavailable" (no restrictions,
body never parsed) except 429; 429, 5xx and network errors "unreachable":
complete disallow, re-fetched after ``TDMGUARD_ROBOTSTXT_RETRY_AFTER`` seconds.
Results are cached ``TDMGUARD_ROBOTSTXT_CACHE_TTL`` seconds (at most 24 h).
Crawl-delay sets the origin's download-slot delay (``TDMGUARD_ROBOTSTXT_CRAWL_DELAY``).

A robots.txt whose body was cut off (Scrapy's ``partial``/``dataloss``
flags, or a reset before Content-Length was reached) is unreachable too: a
cut-off file may have lost its ``Disallow`` lines.

Fails closed. Stats: ``tdmguard/robotstxt/{fetch,allowed,refused}``,
``tdmguard/robotstxt/status/<class>``, ``tdmguard/robotstxt/error/<ExcType>``.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import TYPE_CHECKING

from tdmguard.middlewares import compat
from tdmguard.middlewares.exceptions import Refused, error_text
from tdmguard.middlewares.fetch import Fetched, PerOrigin, emit_snapshot, fetch_document
from tdmguard.middlewares.robotspolicy import RobotsPolicy
from tdmguard.middlewares.settings import Config, load_ai_crawlers, require_enabled
from tdmguard.middlewares.snapshots import request_origin
from tdmguard.middlewares.vocab import AUX_META, add_reasons, is_allowed

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

__all__ = ["RobotsTxtMiddleware"]


class RobotsTxtMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_ROBOTSTXT_ENABLED")
        self.crawler = crawler
        self.config = Config.from_settings(s)
        self.ttl = min(s.getfloat("TDMGUARD_ROBOTSTXT_CACHE_TTL", 86400), 86400.0)
        self.retry_after = s.getfloat("TDMGUARD_ROBOTSTXT_RETRY_AFTER", 300)
        self.max_bytes = max(s.getint("TDMGUARD_ROBOTSTXT_MAX_BYTES", 512000), 512000)
        self.max_redirects = s.getint("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5)
        self.too_many = s.get("TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS", "unreachable")
        self.crawl_delay = s.getbool("TDMGUARD_ROBOTSTXT_CRAWL_DELAY", True)
        self.ai_names, _ = load_ai_crawlers(s.get("TDMGUARD_AI_CRAWLERS"))
        self._policies: PerOrigin[RobotsPolicy] = PerOrigin()
        #: The version each allowed request was judged under, for the location
        #: check (Content-Usage and the other in-robots.txt signals must be read
        #: from that same version, not from a later fetch; cleared with the request).
        self._judged: weakref.WeakKeyDictionary[Request, RobotsPolicy] = \
            weakref.WeakKeyDictionary()
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META) or not request.url.startswith(("http://", "https://")):
            return
        origin = request_origin(request)
        policy = await self.policy_for(origin)
        reasons = policy.evaluate(request.url)
        add_reasons(request, reasons, "robots.txt", policy.snapshot.sha256)
        if not is_allowed(reasons):
            self.stats.inc_value("tdmguard/robotstxt/refused")
            logger.debug("Refused by robots.txt: %(request)s", {"request": request})
            raise Refused(reasons)
        self.stats.inc_value("tdmguard/robotstxt/allowed")
        self._judged[request] = policy
        if self.crawl_delay and policy.crawl_delay:
            self._apply_delay(request, origin, policy.crawl_delay)

    def _apply_delay(self, request: Request, origin: str, delay: float) -> None:
        request.meta.setdefault(compat.downloader(self.crawler).DOWNLOAD_SLOT, origin)
        _key, slot = compat.download_slot(self.crawler, request)
        if slot.delay < delay or compat.slot_has_jitter(slot):
            # Jitter would shorten some waits below the site's Crawl-delay.
            compat.set_slot_delay(slot, max(slot.delay, delay))

    async def policy_for(self, origin: str) -> RobotsPolicy:
        """The origin's robots.txt policy, fetched once while others wait."""
        return await self._policies.get(origin, lambda: self._fetch(origin))

    def cached_policy(self, origin: str) -> RobotsPolicy | None:
        return self._policies.peek(origin)

    def judged_policy(self, request: Request) -> RobotsPolicy | None:
        """The robots.txt version *request* was allowed under, if this
        middleware judged it (None for requests it does not check)."""
        return self._judged.get(request)

    async def _fetch(self, origin: str) -> tuple[RobotsPolicy, float]:
        url = f"{origin}/robots.txt"
        self.stats.inc_value("tdmguard/robotstxt/fetch")
        try:
            got = await fetch_document(self.crawler, url, "robots.txt", self.max_redirects)
        except Exception as exc:  # never fail open, whatever broke
            logger.error("robots.txt fetch for %s failed", origin, exc_info=True)
            got = Fetched(url, error=error_text(exc))
        status = got.status
        if got.error is not None:
            name = "Truncated" if got.truncated else got.error.split(":", 1)[0]
            self.stats.inc_value(f"tdmguard/robotstxt/error/{name}")
            access, detail = "unreachable", got.error
        else:
            assert status is not None  # no error: fetch_document kept the response
            self.stats.inc_value(f"tdmguard/robotstxt/status/{status // 100}xx")
            if got.too_many_redirects:
                detail = f"more than {self.max_redirects} consecutive redirects"
                access = "unavailable" if self.too_many == "unavailable" else "unreachable"
            elif 200 <= status < 300:
                access, detail = "success", ""
            elif 400 <= status < 500 and status != 429:
                access, detail = "unavailable", ""
            elif status == 429:
                access, detail = "unreachable", "HTTP 429 (treated as unreachable, as Google does)"
            else:
                access, detail = "unreachable", f"HTTP {status}"
        snapshot = got.snapshot("robots.txt", origin, self.max_bytes,
                                keep_body=(access == "success"))
        snapshot.url = url
        emit_snapshot(self.crawler, snapshot)
        ttl = self.ttl if access != "unreachable" else self.retry_after
        policy = RobotsPolicy(snapshot, access, self.config, self.ai_names,
                              time.monotonic() + ttl, detail=detail, limit=self.max_bytes)
        return policy, policy.expires_at


