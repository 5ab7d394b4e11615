"""Location-level rights reservations, read before any page of an origin.

Enabled by the add-on (``TDMGUARD_LOCATION_ENABLED``). Order 120, after
robots.txt (100). Per origin, fetched once while other requests wait and
cached ``TDMGUARD_LOCATION_CACHE_TTL`` seconds (at most 24 h; failures are
re-fetched after ``TDMGUARD_LOCATION_RETRY_AFTER``), each fetch stored as a
ledger snapshot:

- ``/.well-known/tdmrep.json`` (TDMRep, ``TDMGUARD_TDMREP_ENABLED``);
- ``/ai.txt`` (Spawning, ``TDMGUARD_AITXT_ENABLED``);
- RSL licences named by robots.txt ``License:`` (``TDMGUARD_RSL_ENABLED``;
  licences the operator holds: ``TDMGUARD_RSL_LICENSES``);
- from the robots.txt already fetched: ``Content-Usage`` (IETF aipref),
  ``Content-Signal`` (Cloudflare) and ``DisallowAITraining`` rules
  (``TDMGUARD_CONTENT_USAGE_ENABLED``, ``TDMGUARD_CONTENT_SIGNAL_ENABLED``,
  ``TDMGUARD_DISALLOW_AI_TRAINING_ENABLED``).

Which protocols run, what each fetches and how each is evaluated come from
:mod:`tdmguard.middlewares.registry` (the location-stage entries switched on).

A reservation here means the page is never requested. In ``rfc`` mode a
tdmrep.json reservation is decided after the response (the spec lets a
header or meta ``0`` supersede it); in ``strict`` mode it holds at once.
Reasons that only say a signal is absent are not stored (the snapshots are).

Stats: ``tdmguard/location/refused``, ``tdmguard/location/fetch/<kind>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tdmguard.middlewares import registry
from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.fetch import (
    Fetched,
    PerOrigin,
    fetch_snapshot,
    gather,
    parse_fetched,
)
from tdmguard.middlewares.registry import LOCATION, LocationContext, RobotsInput
from tdmguard.middlewares.robotspolicy import RobotsPolicy
from tdmguard.middlewares.robotstxt import RobotsTxtMiddleware
from tdmguard.middlewares.settings import Config, require_enabled
from tdmguard.middlewares.snapshots import request_origin
from tdmguard.middlewares.vocab import (
    AUX_META,
    SNAPSHOTS_META,
    TDMREP_META,
    UNAVAILABLE,
    Reason,
    add_reasons,
    is_allowed,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

__all__ = ["DOC_LIMIT", "TDMREP_META", "LocationRulesMiddleware", "informative"]

DOC_LIMIT = 512000


def informative(reasons: list[Reason]) -> list[Reason]:
    """Drop reasons that only say a signal is absent."""
    return [r for r in reasons if r.verdict != UNAVAILABLE]


@dataclass(slots=True)
class OriginDocs:
    #: Per protocol name: its documents for this origin, parsed.
    docs: dict[str, list[Any]] = field(default_factory=dict)
    snapshots: dict[str, str] = field(default_factory=dict)


class LocationRulesMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_LOCATION_ENABLED")
        self.crawler = crawler
        self.config = Config.from_settings(s)
        self.matching = s.get("TDMGUARD_TDMREP_MATCHING", "first")
        self.rsl_held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        #: The location-level protocols switched on, from the registry.
        self.protocols = registry.evaluators(s.getbool, LOCATION)
        self._in_robots = [p for p, _ in self.protocols if p.from_robots is not None]
        self._documents = [p for p, _ in self.protocols if p.documents is not None]
        self._parsers: dict[str, Callable[[bytes, int | None, str], Any]] = {}
        for p in self._documents:
            assert p.parse is not None, p.name  # the registry gives documents a parser
            self._parsers[p.name] = p.parse
        self.ttl = min(s.getfloat("TDMGUARD_LOCATION_CACHE_TTL", 86400), 86400.0)
        self.retry_after = s.getfloat("TDMGUARD_LOCATION_RETRY_AFTER", 300)
        self.max_redirects = s.getint("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5)
        self._docs: PerOrigin[OriginDocs] = PerOrigin()
        self._robots_signals: dict[str, dict[str, Any]] = {}
        self._robots_mw: RobotsTxtMiddleware | None = None
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LocationRulesMiddleware:
        return cls(crawler)

    def _robots(self) -> RobotsTxtMiddleware | None:
        if self._robots_mw is None:
            self._robots_mw = self.crawler.get_downloader_middleware(RobotsTxtMiddleware)
        return self._robots_mw

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META) or not request.url.startswith(("http://", "https://")):
            return
        origin = request_origin(request)
        robots_mw = self._robots() if self._in_robots else None
        policy = None
        if robots_mw is not None:
            # The version the robots.txt check judged this request under: with a
            # short cache lifetime a second fetch could answer differently (a
            # 503 has no Content-Usage lines) and must not decide the signals.
            policy = (robots_mw.judged_policy(request) or robots_mw.cached_policy(origin)
                      or await robots_mw.policy_for(origin))
        in_robots = self._signals_for(policy)
        docs = await self._docs.get(origin, lambda: self._load(origin, in_robots))
        c = self.config
        ctx = LocationContext(request.url, c.tokens, c.purpose, c.mode, self.matching,
                              self.rsl_held, in_robots, docs.docs, request.meta)
        reasons: list[Reason] = []
        for _protocol, evaluate in self.protocols:
            # Each evaluator answers [] at once when its protocol found nothing
            # for this origin (hot path).
            reasons += evaluate(ctx)
        reasons = informative(reasons)
        request.meta.setdefault(SNAPSHOTS_META, {}).update(docs.snapshots)
        add_reasons(request, reasons)
        if not is_allowed(reasons):
            self.stats.inc_value("tdmguard/location/refused")
            logger.debug("Refused by a location-level reservation: %(request)s",
                         {"request": request})
            raise Refused(reasons)

    async def documents_for(self, origin: str, policy: RobotsPolicy | None
                            ) -> tuple[dict[str, Any], OriginDocs]:
        """What the in-robots.txt protocols read from *policy* (the origin's
        robots.txt version), and the origin's other location-level documents
        from this middleware's cache (fetched once, while others wait), as a
        crawl's requests see them; for components that decide many URLs of
        an origin without a request each (``tdmguard audit``)."""
        in_robots = self._signals_for(policy)
        docs = await self._docs.get(origin, lambda: self._load(origin, in_robots))
        return in_robots, docs

    def _signals_for(self, policy: RobotsPolicy | None) -> dict[str, Any]:
        """What each protocol read inside this robots.txt version (parsed once)."""
        if policy is None or policy.parsed is None:
            return {}
        key = policy.snapshot.sha256
        found = self._robots_signals.get(key)
        if found is None:
            robots = RobotsInput(policy.snapshot.body, policy.parsed, self.config.tokens,
                                 policy.source)
            found = {}
            for p in self._in_robots:
                assert p.from_robots is not None
                value = p.from_robots(robots)
                if value is not None:
                    found[p.name] = value
            self._robots_signals[key] = found
        return found

    async def _load(self, origin: str, in_robots: dict[str, Any]
                    ) -> tuple[OriginDocs, float]:
        # The documents are independent: fetched together, so a new origin
        # costs one round trip after robots.txt, not one per document.
        docs = OriginDocs()
        jobs: list[tuple[str, str, str]] = []
        for p in self._documents:
            assert p.documents is not None
            jobs += [(p.name, kind, url) for kind, url in p.documents(origin, in_robots)]
        fetched = await gather(*(self._get(origin, url, kind, docs) for _, kind, url in jobs))
        failed = False
        for (name, _kind, _url), got in zip(jobs, fetched, strict=True):
            doc = parse_fetched(self._parsers[name], got, DOC_LIMIT)
            docs.docs.setdefault(name, []).append(doc)
            failed |= getattr(doc, "state", "") == "error"
        ttl = self.retry_after if failed else self.ttl
        return docs, time.monotonic() + ttl

    async def _get(self, origin: str, url: str, kind: str, docs: OriginDocs) -> Fetched:
        got, snapshot = await fetch_snapshot(self.crawler, origin, url, kind,
                                             self.max_redirects, DOC_LIMIT)
        docs.snapshots[kind if kind != "rsl" else f"rsl:{url}"] = snapshot.sha256
        return got

