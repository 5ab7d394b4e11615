"""The audit's crawl: rights documents once per origin, then one verdict per input row.

:class:`DatasetAuditSpider` runs inside one Scrapy crawl with the add-on, so
every check, politeness rule and ledger write is the crawl's own:

1. *Origins.* For each origin with rows still to decide (the CLI's first pass
   over the input found them), the blocklists are asked first (a listed host
   is never contacted); otherwise the add-on's RobotsTxtMiddleware fetches its
   robots.txt and, unless that refuses every URL of the origin (then only
   when a row passes it after all), LocationRulesMiddleware its location-level
   documents
   (tdmrep.json, ai.txt, RSL licences), through their per-origin caches: one
   fetch per origin for the whole audit, ``CONCURRENT_REQUESTS`` origins at a
   time. Each document is a ledger snapshot (``--db``).
2. *Rows.* The input is read again, in order; each row is decided from its
   origin's cached documents with the same policy and registry evaluators a
   crawl uses (no page is requested), and recorded as a decision (stage
   ``refused``, or ``location`` when allowed at location level). With
   ``--fetch-pages`` each row allowed there is requested as a page instead
   (content discarded), and the crawl's DecisionMiddleware decides it fully.

Row verdicts go to the ``audit_rows`` table of the store
(:mod:`tdmguard.crawler.audit_store`: the ``--db`` ledger, or a temporary one),
keyed by input order, so pages finishing out of order still come out in order,
and a re-run skips rows already decided.

Why it is long: one spider runs the audit's two phases (each origin's
documents, then every row in order) and ``--fetch-pages``, and all three share
its per-origin state, its pending rows and its one way of recording a verdict.
The store, the inputs and the history judge are already modules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals as scrapy_signals

from tdmguard.crawler.audit_history import HistoryJudge, flag
from tdmguard.crawler.audit_inputs import Source, iter_rows, url_origin
from tdmguard.crawler.audit_store import BATCH, Store
from tdmguard.crawler.progress import Progress
from tdmguard.middlewares import registry, signals
from tdmguard.middlewares.chain import encode
from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.fetch import emit_snapshot, gather
from tdmguard.middlewares.registry import LOCATION, RESPONSE, LocationContext
from tdmguard.middlewares.snapshots import utcnow
from tdmguard.middlewares.vocab import (
    REASONS_META,
    RESERVED,
    SNAPSHOTS_META,
    UNAVAILABLE,
    Decision,
    Reason,
    is_allowed,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from tdmguard.crawler.audit_history import History

ROW_META = "tdmguard_audit_row"
#: The statuses a fetched row's response is handed over with (all but 3xx).
NON_REDIRECT = [s for s in range(100, 600) if not 300 <= s < 400]


# -- what the spider is given -------------------------------------------------------


@dataclass
class Plan:
    sources: list[Source]
    #: Origins with rows still to decide, in order of first appearance.
    origins: list[str]
    total: int
    done: bytearray
    store_path: str
    audit_id: int
    fetch_pages: bool = False
    history: History | None = None
    quiet: bool = False
    #: Filled by the spider: how many rows it decided, and the crawl's ledger id.
    decided: int = 0
    crawl_id: int | None = None
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OriginState:
    policy: Any = None
    in_robots: dict[str, Any] = field(default_factory=dict)
    docs: Any = None
    snapshots: dict[str, str] = field(default_factory=dict)
    #: A blocklist reason: refusing (the host is never contacted) or a warning.
    listed: Reason | None = None
    #: robots.txt refuses every URL but /robots.txt: the other documents are
    #: fetched only if a row passes robots.txt after all.
    deferred: bool = False


@lru_cache(maxsize=16384)
def _reasons_json(reasons: tuple[Reason, ...]) -> str:
    return encode([r.to_dict() for r in reasons])


@lru_cache(maxsize=1024)
def _list_json(items: tuple[str, ...]) -> str:
    return encode(list(items))


@lru_cache(maxsize=16384)
def _snapshots_json(items: tuple[tuple[str, str], ...]) -> str:
    return encode(dict(items))


def verdict_of(allowed: bool, reasons: list[Reason]) -> tuple[str, list[str]]:
    """``allowed``, ``reserved`` (with the protocols that reserved) or
    ``unreachable`` (only fail-closed reasons refused)."""
    if allowed:
        return "allowed", []
    protocols = list(dict.fromkeys(r.protocol for r in reasons if r.verdict == RESERVED))
    if protocols:
        return "reserved", protocols
    failing = list(dict.fromkeys(r.protocol for r in reasons if r.blocks))
    return "unreachable", failing


class DatasetAuditSpider(scrapy.Spider):
    """Decides the rows of a :class:`Plan` (see the module docstring)."""

    name = "dataset-audit"
    custom_settings = {"CONCURRENT_REQUESTS": 64}

    def __init__(self, plan: Plan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.states: dict[str, OriginState] = {}
        self.pending: dict[int, tuple[Any, ...]] = {}
        self.store: Store | None = None
        self.progress: Progress | None = None
        self.ledger_on = False
        self._now = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> DatasetAuditSpider:
        spider: DatasetAuditSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.closed_, signal=scrapy_signals.spider_closed)
        spider.ledger_on = bool(crawler.settings.get("TDMGUARD_DB"))
        return spider

    # -- components of the crawl ------------------------------------------------------

    def _component(self, path: str) -> Any:
        from scrapy.utils.misc import load_object

        try:
            return self.crawler.get_downloader_middleware(load_object(path))
        except (RuntimeError, ValueError):
            return None

    def _setup(self) -> None:
        self.store = Store(self.plan.store_path)
        self.blocklist = self._component("tdmguard.middlewares.blocklist.BlocklistMiddleware")
        self.robots = self._component("tdmguard.middlewares.robotstxt.RobotsTxtMiddleware")
        self.location = self._component(
            "tdmguard.middlewares.location.LocationRulesMiddleware")
        from tdmguard.middlewares.settings import Config

        s = self.crawler.settings
        self.config = Config.from_settings(s)
        self.user_agent = str(s.get("USER_AGENT") or "")
        self.matching = s.get("TDMGUARD_TDMREP_MATCHING", "first")
        self.rsl_held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        # Response-level signals (and lawful access) could still refuse a page
        # that location-level ones allow: such a verdict is incomplete.
        self.response_stage = bool(registry.enabled(s.getbool, RESPONSE))
        self.evaluators = registry.evaluators(s.getbool, LOCATION)
        for ext in getattr(self.crawler.extensions, "middlewares", ()):
            ledger = getattr(ext, "ledger", None)
            if ledger is not None and getattr(ledger, "crawl_id", None) is not None:
                self.plan.crawl_id = ledger.crawl_id
        self.judge: HistoryJudge | None = None
        if self.plan.history is not None:
            from tdmguard.middlewares.settings import load_ai_crawlers

            ai_names = self.robots.ai_names if self.robots is not None else \
                load_ai_crawlers(s.get("TDMGUARD_AI_CRAWLERS"))[0]
            in_robots = [p for p, _ in self.evaluators if p.from_robots is not None]
            self.judge = HistoryJudge(self.plan.history, self.config, ai_names, in_robots,
                                      self.evaluators, self.matching)
            for capture in self.plan.history.captures():
                if self.ledger_on:
                    emit_snapshot(self.crawler, capture.snapshot)

    # -- phase 1: each origin's documents, once -----------------------------------------

    async def _load_origin(self, origin: str) -> None:
        state = self.states[origin] = OriginState()
        if self.blocklist is not None:
            found = self.blocklist.lookup(origin + "/")
            if found is not None:
                state.listed = found[1]
                if found[1].blocks:
                    return  # never contacted, not even for robots.txt
            # A whole origin under a rightsholder reservation (a domain entry, a
            # URL prefix of "/"), or an unusable reservations list: never
            # contacted either; decide() refuses each row with the list's reasons.
            if self.blocklist.listed(origin + "/"):
                return
        if self.robots is not None:
            state.policy = await self.robots.policy_for(origin)
            state.snapshots["robots.txt"] = state.policy.snapshot.sha256
            if state.policy.access == "unreachable":
                return  # every row is refused; a crawl would ask for nothing more
            if self.judge is None and state.policy.refuses_every_url():
                # "Disallow: /" for us and no Allow: robots.txt refuses every row
                # but one for /robots.txt itself (RFC 9309 §2.2.2), and a crawl
                # asks an origin for its other documents only for a request
                # robots.txt allows. So does the audit: deferred until a row
                # needs them, which is almost always never. (With --history the
                # verdict at collection reads today's documents: fetched now.)
                state.deferred = True
                return
        await self._load_documents(origin, state)

    async def _load_documents(self, origin: str, state: OriginState) -> None:
        state.deferred = False
        if self.location is not None:
            # The location middleware's own per-origin cache, so pages fetched
            # later (--fetch-pages) reuse these documents.
            state.in_robots, docs = await self.location.documents_for(origin, state.policy)
            state.docs = docs.docs
            state.snapshots.update(docs.snapshots)

    async def _load_origins(self) -> None:
        origins = iter(self.plan.origins)
        n = max(1, self.crawler.settings.getint("CONCURRENT_REQUESTS", 16))
        with Progress(len(self.plan.origins), quiet=self.plan.quiet,
                      label="audit: rights documents") as progress:

            async def worker() -> None:
                for origin in origins:
                    await self._load_origin(origin)
                    state = self.states[origin]
                    refused = state.listed is not None and state.listed.blocks or (
                        state.policy is not None and state.policy.access == "unreachable"
                    ) or state.deferred
                    progress.advance(refused=int(bool(refused)))

            await gather(*(worker() for _ in range(min(n, len(self.plan.origins)))))

    # -- phase 2: every row, in order ---------------------------------------------------

    def _context(self, url: str, state: OriginState, in_robots: dict[str, Any] | None = None
                 ) -> LocationContext:
        c = self.config
        return LocationContext(url, c.tokens, c.purpose, c.mode, self.matching, self.rsl_held,
                               state.in_robots if in_robots is None else in_robots,
                               state.docs or {}, {})

    def _missing(self, origin: str) -> OriginState:
        """An origin whose documents were not fetched (cannot happen unless
        the first pass and this one disagree): refused, fail closed."""
        state = self.states[origin] = OriginState(listed=Reason(
            "tdmguard", "unreadable", source=origin,
            detail="the origin's rights documents were not fetched: refused"))
        return state

    def decide(self, url: str, state: OriginState) -> tuple[bool, list[Reason]]:
        """The location-level decision a crawl would make before requesting *url*."""
        if state.listed is not None and state.listed.blocks:
            return False, [state.listed]
        reasons: list[Reason] = [state.listed] if state.listed is not None else []
        # Request-stage lists (rightsholder reservations): from the URL alone.
        held = self.blocklist.listed(url) if self.blocklist is not None else []
        if held:
            return False, reasons + held
        if state.policy is not None:
            reasons += state.policy.evaluate(url)
            if not is_allowed(reasons):
                return False, reasons
        if state.docs is not None or state.in_robots:
            ctx = self._context(url, state)
            for _p, evaluate in self.evaluators:
                reasons += [r for r in evaluate(ctx) if r.verdict != UNAVAILABLE]
        return is_allowed(reasons), reasons

    async def start(self) -> Any:
        self._setup()
        plan = self.plan
        await self._load_origins()
        assert self.store is not None
        remaining = plan.total - sum(plan.done)
        self.progress = Progress(remaining, quiet=plan.quiet, label="audit: rows")
        idx = -1
        since_yield = 0
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        for source in plan.sources:
            for n, url, when, problem in iter_rows(source):
                idx += 1
                if problem is not None or plan.done[idx]:
                    continue
                assert url is not None
                origin = url_origin(url)
                state = self.states.get(origin) or self._missing(origin)
                if state.deferred and is_allowed(state.policy.evaluate(url)):
                    await self._load_documents(origin, state)
                allowed, reasons = self.decide(url, state)
                history = self._history(url, origin, when)
                base = (plan.audit_id, idx, source.name, n, url, origin, None, when)
                if allowed and plan.fetch_pages:
                    self.pending[idx] = (base, history, state)
                    delay = getattr(state.policy, "crawl_delay", None)
                    if delay and delay >= 1:
                        self.progress.waiting(origin, f"Crawl-delay {delay:g} s")
                    # Every status reaches page() but 3xx: redirects are followed
                    # (through the redirect guard and the lawful-access checks), so
                    # a row redirected to a login wall is decided by the wall.
                    yield scrapy.Request(url, callback=self.page, errback=self.page_failed,
                                         dont_filter=True,
                                         meta={ROW_META: idx,
                                               "handle_httpstatus_list": NON_REDIRECT})
                    continue
                stage = "location" if allowed else "refused"
                complete = not allowed or not self.response_stage
                snapshots = state.snapshots
                if self.blocklist is not None and not allowed:
                    cited = self.blocklist.documents_for(reasons)  # the reservations list
                    snapshots = {**snapshots, **cited} if cited else snapshots
                self._record(base, allowed, reasons, stage, None, snapshots, history,
                             complete=complete)
                if self.ledger_on:
                    self._send(url, origin, allowed, reasons, stage, snapshots)
                since_yield += 1
                if since_yield >= BATCH:
                    since_yield = 0
                    self._now = utcnow()
                    # Let the reactor breathe (signals, ledger timer, Ctrl-C).
                    await maybe_deferred_to_future(deferLater(reactor, 0, lambda: None))

    def _history(self, url: str, origin: str, when: str | None) -> Any:
        if self.judge is None:
            return None
        state = self.states.get(origin) or OriginState()
        capture, allowed, reasons = self.judge.decide(
            url, origin, when, lambda u, r: self._context(u, state, r))
        return capture, allowed, reasons

    def _send(self, url: str, origin: str, allowed: bool, reasons: list[Reason], stage: str,
              snapshots: dict[str, str]) -> None:
        decision = Decision(url=url, allowed=allowed, reasons=list(reasons), at=utcnow(),
                            origin=origin, user_agent=self.user_agent,
                            tokens=self.config.tokens, purpose=self.config.purpose,
                            stage=stage, snapshots=dict(snapshots))
        self.crawler.signals.send_catch_log(signals.decision_recorded, decision=decision)

    def _record(self, base: tuple[Any, ...], allowed: bool, reasons: list[Reason], stage: str,
                status: int | None, snapshots: dict[str, str], history: Any, *,
                complete: bool, error: str | None = None) -> None:
        assert self.store is not None and self.progress is not None
        verdict, protocols = verdict_of(allowed, reasons)
        h_flag = h_allowed = h_at = h_snap = h_reasons = None
        if history is not None:
            capture, then, then_reasons = history
            h_flag = flag(then, allowed)
            if capture is not None:
                h_allowed = int(bool(then))
                h_at = capture.at
                h_snap = capture.snapshot.sha256
                h_reasons = _reasons_json(tuple(then_reasons))
        self.store.add((*base, verdict, int(allowed), int(complete), stage, status,
                        _list_json(tuple(protocols)), _reasons_json(tuple(reasons)),
                        _snapshots_json(tuple(snapshots.items())), None,
                        self._now or utcnow(), h_flag, h_allowed, h_at, h_snap, h_reasons,
                        error))
        self.plan.decided += 1
        self.progress.advance(refused=0 if allowed else 1)

    # -- --fetch-pages ------------------------------------------------------------------

    def page(self, response: Response) -> None:
        request = response.request
        assert request is not None
        item = self.pending.pop(request.meta[ROW_META], None)
        if item is None:
            return
        base, history, state = item
        reasons = list(request.meta.get(REASONS_META, []))
        snapshots = dict(request.meta.get(SNAPSHOTS_META) or state.snapshots)
        status = response.status
        if status == 429 or status >= 500:  # nothing usable came (after any retries)
            why = f"HTTP {status}"
            reasons.append(Reason("http", "unreadable", rule=why, source=response.url,
                                  detail=f"the page could not be fetched ({why})"))
            self._record(base, False, reasons, "failed", status, snapshots, history,
                         complete=True, error=why)
            return
        self._record(base, True, reasons, "fetched", status, snapshots, history,
                     complete=True)

    def page_failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        if request is None:
            return
        item = self.pending.pop(request.meta.get(ROW_META, -1), None)
        if item is None:
            return
        base, history, state = item
        exc = failure.value
        snapshots = dict(request.meta.get(SNAPSHOTS_META) or state.snapshots)
        if isinstance(exc, Refused):
            self._record(base, False, list(exc.reasons), exc.stage, None, snapshots, history,
                         complete=True)
            return
        engine = self.crawler.engine
        if engine is None or not engine.running or getattr(
                getattr(engine, "_slot", None), "closing", None):
            return  # interrupted: left undecided, so a re-run asks again
        why = f"{type(exc).__name__}: {exc}"[:300]
        reasons = [*request.meta.get(REASONS_META, []),
                   Reason("http", "unreadable", rule=why, source=request.url,
                          detail=f"the page could not be fetched ({why})")]
        self._record(base, False, reasons, "failed", None, snapshots, history,
                     complete=True, error=why)

    def closed_(self, spider: Any = None, reason: str = "") -> None:
        if self.progress is not None:
            self.progress.close()
        if reason not in ("finished",):
            self.plan.interrupted = True
        if self.store is not None:
            self.store.flush()
            self.store.close()
            self.store = None


def run_audit(overrides: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Run the audit's crawl to the end in this process; return its stats."""
    from scrapy.crawler import CrawlerProcess

    from tdmguard.crawler.run import base_settings

    settings = base_settings({"LOG_LEVEL": "WARNING", **overrides})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(DatasetAuditSpider)

    failures: list[Any] = []
    process.crawl(crawler, plan=plan).addErrback(failures.append)
    process.start()
    if failures:
        from tdmguard.crawler.run import CrawlFailed

        exc = failures[0].value
        raise CrawlFailed(f"the audit could not start: {type(exc).__name__}: {exc}")
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    return stats
