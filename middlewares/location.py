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
  ``Content-Signal`` (Cloudflare) and ``DisallowAITraining`` rules.

A reservation here means the page is never requested. In ``rfc`` mode a
tdmrep.json reservation is decided after the response (the spec lets a
header or meta ``0`` supersede it); in ``strict`` mode it holds at once.
Reasons that only say a signal is absent are not stored (the snapshots are).

Stats: ``tdmguard/location/refused``, ``tdmguard/location/fetch/<kind>``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING


from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.fetch import AUX_META, Fetched, PerOrigin, body_of, fetch_snapshot, gather
from tdmguard.middlewares.readers import aipref, aitraining, aitxt, contentsignal, rsl, tdmrep
from tdmguard.middlewares.robotspolicy import RobotsPolicy
from tdmguard.middlewares.robotstxt import RobotsTxtMiddleware, add_reasons
from tdmguard.middlewares.settings import Config, require_enabled
from tdmguard.middlewares.snapshots import request_origin
from tdmguard.middlewares.vocab import STRICT, UNAVAILABLE, Reason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

#: request.meta key holding the origin's parsed tdmrep.json for the response check.
TDMREP_META = "tdmguard_tdmrep_file"
DOC_LIMIT = 512000


def informative(reasons: list[Reason]) -> list[Reason]:
    """Drop reasons that only say a signal is absent."""
    return [r for r in reasons if r.verdict != UNAVAILABLE]


@dataclass(slots=True)
class RobotsSignals:
    """Signals carried inside one robots.txt version, parsed once."""

    content_usage: aipref.ContentUsageRules
    signals: contentsignal.ContentSignals
    ai_training: aitraining.AiTrainingRules
    licences: list[rsl.LicenseRef]


@dataclass(slots=True)
class OriginDocs:
    tdmrep: tdmrep.TdmRepFile | None = None
    aitxt: aitxt.AiTxt | None = None
    rsl_docs: list[rsl.RslDocument] = field(default_factory=list)
    snapshots: dict[str, str] = field(default_factory=dict)


class LocationRulesMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_LOCATION_ENABLED")
        self.crawler = crawler
        self.config = Config.from_settings(s)
        self.tdmrep_on = s.getbool("TDMGUARD_TDMREP_ENABLED", True)
        self.matching = s.get("TDMGUARD_TDMREP_MATCHING", "first")
        self.aitxt_on = s.getbool("TDMGUARD_AITXT_ENABLED", True)
        self.rsl_on = s.getbool("TDMGUARD_RSL_ENABLED", True)
        self.rsl_held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        self.ttl = min(s.getfloat("TDMGUARD_LOCATION_CACHE_TTL", 86400), 86400.0)
        self.retry_after = s.getfloat("TDMGUARD_LOCATION_RETRY_AFTER", 300)
        self.max_redirects = s.getint("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5)
        self._docs: PerOrigin[OriginDocs] = PerOrigin()
        self._robots_signals: dict[str, RobotsSignals] = {}
        self._robots_mw: RobotsTxtMiddleware | None = None
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LocationRulesMiddleware:
        return cls(crawler)

    def _robots(self) -> RobotsTxtMiddleware | None:
        if self._robots_mw is None:
            for mw in self.crawler.engine.downloader.middleware.middlewares:
                if isinstance(mw, RobotsTxtMiddleware):
                    self._robots_mw = mw
        return self._robots_mw

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META) or not request.url.startswith(("http://", "https://")):
            return
        origin = request_origin(request)
        robots_mw = self._robots()
        policy = None
        if robots_mw is not None:
            policy = robots_mw.cached_policy(origin) or await robots_mw.policy_for(origin)
        in_robots = self._signals_for(policy)
        docs = await self._docs.get(origin, lambda: self._load(origin, in_robots))
        url, c = request.url, self.config
        reasons: list[Reason] = []
        if in_robots is not None:
            # Only the readers that found something in this robots.txt: the
            # others could only say "absent" (hot path).
            cu, cs, at = in_robots.content_usage, in_robots.signals, in_robots.ai_training
            if cu.ours or cu.star or cu.alt_ours or cu.alt_star:
                reasons += cu.evaluate(url, True, c.purpose, c.mode)
            if cs.ours or cs.star:
                reasons += cs.evaluate(c.purpose, c.mode, url)
            if at.ours or at.star or at.policy:
                reasons += at.evaluate(url, c.purpose, c.mode)
        if docs.tdmrep is not None:
            request.meta[TDMREP_META] = docs.tdmrep
            if c.mode == STRICT:
                found = docs.tdmrep.evaluate(url, c.purpose, c.mode, self.matching)
                reasons += [r for r in found if r.blocks]
        if docs.aitxt is not None and docs.aitxt.state != "absent":
            reasons += docs.aitxt.evaluate(url, c.tokens, c.purpose, c.mode)
        if docs.rsl_docs:
            reasons += rsl.evaluate_all(docs.rsl_docs, url, c.purpose, c.mode, self.rsl_held)
        reasons = informative(reasons)
        request.meta.setdefault("tdmguard_snapshots", {}).update(docs.snapshots)
        add_reasons(request, reasons)
        if any(r.blocks for r in reasons):
            self.stats.inc_value("tdmguard/location/refused")
            logger.debug("Refused by a location-level reservation: %(request)s",
                         {"request": request})
            raise Refused(reasons)

    def _signals_for(self, policy: RobotsPolicy | None) -> RobotsSignals | None:
        if policy is None or policy.parsed is None:
            return None
        key = policy.snapshot.sha256
        found = self._robots_signals.get(key)
        if found is None:
            tokens, url = self.config.tokens, policy.source
            found = RobotsSignals(
                aipref.ContentUsageRules.parse(policy.snapshot.body, tokens, url),
                contentsignal.ContentSignals.from_robots(policy.parsed, tokens, url),
                aitraining.AiTrainingRules.from_robots(policy.parsed, tokens, url),
                rsl.discover(robots=policy.parsed, base_url=url) if self.rsl_on else [],
            )
            self._robots_signals[key] = found
        return found

    async def _load(self, origin: str, in_robots: RobotsSignals | None
                    ) -> tuple[OriginDocs, float]:
        # The documents are independent: fetched together, so a new origin
        # costs one round trip after robots.txt, not one per document.
        docs = OriginDocs()
        jobs: list[tuple[str, str]] = []
        if self.tdmrep_on:
            jobs.append(("tdmrep.json", f"{origin}/.well-known/tdmrep.json"))
        if self.aitxt_on:
            jobs.append(("ai.txt", f"{origin}/ai.txt"))
        for ref in in_robots.licences if in_robots is not None else []:
            jobs.append(("rsl", ref.url))
        fetched = await gather(*(self._get(origin, url, kind, docs) for kind, url in jobs))
        failed = False
        for (kind, _url), got in zip(jobs, fetched, strict=True):
            if kind == "tdmrep.json":
                docs.tdmrep = tdmrep.TdmRepFile.parse(_body(got), got.status, got.url)
                failed |= docs.tdmrep.state == "error"
            elif kind == "ai.txt":
                docs.aitxt = aitxt.AiTxt.parse(_body(got), got.status, got.url)
                failed |= docs.aitxt.state == "error"
            else:
                doc = rsl.RslDocument.parse(_body(got), got.status, got.url)
                docs.rsl_docs.append(doc)
                failed |= doc.state == "error"
        ttl = self.retry_after if failed else self.ttl
        return docs, time.monotonic() + ttl

    async def _get(self, origin: str, url: str, kind: str, docs: OriginDocs) -> Fetched:
        got, snapshot = await fetch_snapshot(self.crawler, origin, url, kind,
                                             self.max_redirects, DOC_LIMIT)
        docs.snapshots[kind if kind != "rsl" else f"rsl:{url}"] = snapshot.sha256
        return got


def _body(got: Fetched) -> bytes:
    return body_of(got, DOC_LIMIT)
