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

Fails closed. Stats: ``tdmguard/robotstxt/{fetch,allowed,refused}``,
``tdmguard/robotstxt/status/<class>``, ``tdmguard/robotstxt/error/<ExcType>``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from middlewares import signals
from middlewares.exceptions import Refused
from middlewares.robotspolicy import RobotsPolicy
from middlewares.settings import Config, load_ai_crawlers
from middlewares.snapshots import Snapshot, origin_of, utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

#: Meta key marking tdmguard's own auxiliary fetches (value: the document kind).
AUX_META = "tdmguard_aux"
REASONS_META = "tdmguard_reasons"
SNAPSHOTS_META = "tdmguard_snapshots"


def add_reasons(request: Request, reasons: list, kind: str | None = None,
                sha256: str | None = None) -> None:
    request.meta.setdefault(REASONS_META, []).extend(reasons)
    if kind and sha256:
        request.meta.setdefault(SNAPSHOTS_META, {})[kind] = sha256


class RobotsTxtMiddleware:
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("TDMGUARD_ROBOTSTXT_ENABLED", True):
            raise NotConfigured("TDMGUARD_ROBOTSTXT_ENABLED is off")
        self.crawler = crawler
        self.config = Config.from_settings(s)
        self.ttl = min(s.getfloat("TDMGUARD_ROBOTSTXT_CACHE_TTL", 86400), 86400.0)
        self.retry_after = s.getfloat("TDMGUARD_ROBOTSTXT_RETRY_AFTER", 300)
        self.max_bytes = max(s.getint("TDMGUARD_ROBOTSTXT_MAX_BYTES", 512000), 512000)
        self.max_redirects = s.getint("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5)
        self.too_many = s.get("TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS", "unreachable")
        self.crawl_delay = s.getbool("TDMGUARD_ROBOTSTXT_CRAWL_DELAY", True)
        self.ai_names, _ = load_ai_crawlers(s.get("TDMGUARD_AI_CRAWLERS"))
        self._policies: dict[str, RobotsPolicy] = {}
        self._waiting: dict[str, list[Deferred[RobotsPolicy]]] = {}
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META) or not request.url.startswith(("http://", "https://")):
            return
        origin = origin_of(request.url)
        policy = await self.policy_for(origin)
        reasons = policy.evaluate(request.url)
        add_reasons(request, reasons, "robots.txt", policy.snapshot.sha256)
        if any(r.blocks for r in reasons):
            self.stats.inc_value("tdmguard/robotstxt/refused")
            logger.debug("Refused by robots.txt: %(request)s", {"request": request})
            raise Refused(reasons)
        self.stats.inc_value("tdmguard/robotstxt/allowed")
        if self.crawl_delay and policy.crawl_delay:
            self._apply_delay(request, origin, policy.crawl_delay)

    def _apply_delay(self, request: Request, origin: str, delay: float) -> None:
        downloader = self.crawler.engine.downloader
        request.meta.setdefault(downloader.DOWNLOAD_SLOT, origin)
        _key, slot = downloader._get_slot(request)
        if slot.delay < delay or slot.jitter:
            # Jitter would shorten some waits below the site's Crawl-delay.
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0

    async def policy_for(self, origin: str) -> RobotsPolicy:
        policy = self._policies.get(origin)
        if policy is not None and policy.expires_at > time.monotonic():
            return policy
        if origin in self._waiting:
            waiter: Deferred[RobotsPolicy] = Deferred()
            self._waiting[origin].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[origin] = []
        try:
            policy = await self._fetch(origin)
        except Exception as exc:  # never fail open, whatever broke
            logger.error("robots.txt fetch for %s failed", origin, exc_info=True)
            policy = self._unreachable(origin, f"{origin}/robots.txt", None, type(exc).__name__, [], {})
        self._policies[origin] = policy
        for waiter in self._waiting.pop(origin):
            waiter.callback(policy)
        return policy

    async def _fetch(self, origin: str) -> RobotsPolicy:
        robots_url = url = f"{origin}/robots.txt"
        redirects: list[str] = []
        self.stats.inc_value("tdmguard/robotstxt/fetch")
        while True:
            request = Request(
                url,
                priority=self.DOWNLOAD_PRIORITY,
                callback=NO_CALLBACK,
                dont_filter=True,
                meta={
                    AUX_META: "robots.txt",
                    "dont_redirect": True,
                    "dont_retry": True,
                    "handle_httpstatus_all": True,
                    "dont_cache": True,
                },
            )
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:
                name = type(exc).__name__
                self.stats.inc_value(f"tdmguard/robotstxt/error/{name}")
                return self._unreachable(origin, robots_url, None, f"{name}: {exc}"[:300], redirects, {})
            status = response.status
            self.stats.inc_value(f"tdmguard/robotstxt/status/{status // 100}xx")
            location = response.headers.get(b"Location")
            if 300 <= status < 400 and location:
                if len(redirects) >= self.max_redirects:
                    detail = f"more than {self.max_redirects} consecutive redirects"
                    if self.too_many == "unavailable":
                        return self._make(origin, robots_url, response, redirects, "unavailable", detail)
                    return self._unreachable(origin, robots_url, status, detail, redirects, _headers(response))
                url = urljoin(response.url, location.decode("latin-1"))
                redirects.append(url)
                continue
            if 200 <= status < 300:
                return self._make(origin, robots_url, response, redirects, "success", "")
            if 400 <= status < 500 and status != 429:
                return self._make(origin, robots_url, response, redirects, "unavailable", "")
            detail = "HTTP 429 (treated as unreachable, as Google does)" if status == 429 else f"HTTP {status}"
            return self._unreachable(origin, robots_url, status, detail, redirects, _headers(response))

    def _make(self, origin: str, url: str, response: Response, redirects: list[str],
              access: str, detail: str) -> RobotsPolicy:
        body = response.body[: self.max_bytes] if access == "success" else b""
        snapshot = Snapshot("robots.txt", url, origin, utcnow(), response.status,
                            _headers(response), body, None, redirects)
        self._emit(snapshot)
        return RobotsPolicy(snapshot, access, self.config, self.ai_names,
                            time.monotonic() + self.ttl, detail=detail,
                            full_length=len(response.body), limit=self.max_bytes)

    def _unreachable(self, origin: str, url: str, status: int | None, error: str,
                     redirects: list[str], headers: dict[str, Any]) -> RobotsPolicy:
        snapshot = Snapshot("robots.txt", url, origin, utcnow(), status, headers, b"",
                            error, redirects)
        self._emit(snapshot)
        return RobotsPolicy(snapshot, "unreachable", self.config, self.ai_names,
                            time.monotonic() + self.retry_after, detail=error)

    def _emit(self, snapshot: Snapshot) -> None:
        self.crawler.signals.send_catch_log(signals.snapshot_fetched, snapshot=snapshot)


def _headers(response: Response) -> dict[str, list[str]]:
    return {
        k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs]
        for k, vs in response.headers.items()
    }
