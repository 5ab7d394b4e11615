"""Provenance: every decision and rights-document fetch written to the ledger.

Enabled by the add-on when ``TDMGUARD_DB`` names a file (else NotConfigured).
Decisions are buffered and written in one transaction every
``TDMGUARD_DB_BATCH_SIZE`` decisions or ``TDMGUARD_DB_FLUSH_INTERVAL`` seconds,
whichever comes first, and at spider close. A ``kill -9`` loses at most the
unflushed batch (and the one being written).

The writes run on one writer thread, in order, so the crawl never waits for
the disk: while a write is in progress new decisions keep collecting and go
in the next transaction (a slow disk gets bigger batches, not a stalled
crawl). Spider close waits for every write. A failed write is logged and its
rows stay queued for the next one. Stats: ``tdmguard/ledger/flushes``,
``tdmguard/ledger/decisions``, ``tdmguard/ledger/errors``.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals as scrapy_signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from blocklists.domains import psl_snapshot_version, registrable_domain
from middlewares import signals
from middlewares.blocklist import describe_blocklists
from middlewares.ledger import Ledger
from middlewares.settings import Config, effective_settings, tdmguard_version
from middlewares.snapshots import Snapshot, utcnow
from middlewares.vocab import Decision

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


@lru_cache(maxsize=65536)
def _domain_of_host(host: str) -> str:
    return registrable_domain(host)


def domain_of(url: str) -> str:
    return _domain_of_host(urlsplit(url).hostname or "")


class ProvenanceLog:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.path = s.get("TDMGUARD_DB")
        if not self.path:
            raise NotConfigured  # no ledger asked for: nothing to say
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = Config.from_settings(s)
        self.batch_size = s.getint("TDMGUARD_DB_BATCH_SIZE", 1000)
        self.interval = s.getfloat("TDMGUARD_DB_FLUSH_INTERVAL", 1.0)
        # Opened here, not on spider_opened: an unusable file stops the crawl
        # before any request is made (LedgerError), instead of crawling unrecorded.
        # From here on only the writer thread touches it.
        self.ledger: Ledger | None = Ledger(self.path, domain_of=domain_of,
                                            check_same_thread=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tdmguard-ledger")
        self._writing: Future[None] | None = None
        self._decisions: list[Decision] = []
        self._snapshots: list[Snapshot] = []
        self._timer: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=scrapy_signals.spider_closed)
        crawler.signals.connect(self.decision, signal=signals.decision_recorded)
        crawler.signals.connect(self.snapshot, signal=signals.snapshot_fetched)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProvenanceLog:
        return cls(crawler)

    def spider_opened(self, spider: Any = None) -> None:
        s = self.crawler.settings
        fields = dict(
            started_at=utcnow(), tdmguard_version=tdmguard_version(),
            user_agent=s.get("USER_AGENT"), tokens=list(self.config.tokens),
            mode=self.config.mode, purpose=self.config.purpose,
            settings=effective_settings(s),
            blocklists=describe_blocklists(s),
            psl_version=psl_snapshot_version(),
        )
        assert self.ledger is not None
        # Written before anything else the thread writes (it runs tasks in order).
        self._writing = self._writer.submit(self._run, self.ledger.start_crawl, **fields)
        self._timer = task.LoopingCall(self.flush)
        self._timer.start(self.interval, now=False)

    def decision(self, decision: Decision) -> None:
        self._decisions.append(decision)
        if len(self._decisions) >= self.batch_size:
            self.flush()

    def snapshot(self, snapshot: Snapshot) -> None:
        self._snapshots.append(snapshot)

    def flush(self, wait: bool = False) -> None:
        """Hand the buffered rows to the writer thread, unless it is still
        busy with the previous batch (they then go in the next one)."""
        if self.ledger is None or not (self._decisions or self._snapshots):
            return
        if not wait and self._writing is not None and not self._writing.done():
            return
        decisions, self._decisions = self._decisions, []
        snapshots, self._snapshots = self._snapshots, []
        self._writing = self._writer.submit(self._run, self._write, decisions, snapshots)

    def _write(self, decisions: list[Decision], snapshots: list[Snapshot]) -> None:
        ledger = self.ledger
        assert ledger is not None
        for snapshot in snapshots:
            ledger.add_snapshot(snapshot)
        for decision in decisions:
            ledger.add(decision)
        n = ledger.flush()
        if n:
            self.stats.inc_value("tdmguard/ledger/flushes")
            self.stats.inc_value("tdmguard/ledger/decisions", n)

    def _run(self, work: Any, *args: Any, **kwargs: Any) -> None:
        # On the writer thread. A failure leaves the rows queued in the
        # Ledger, so the next write (or the close) tries them again.
        try:
            work(*args, **kwargs)
        except Exception:
            self.stats.inc_value("tdmguard/ledger/errors")
            logger.exception("Writing the ledger %s failed; the rows stay queued", self.path)

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if self.ledger is None:
            return
        self.flush(wait=True)
        ledger = self.ledger
        self._writer.submit(self._run, ledger.finish_crawl, utcnow())
        self._writer.submit(ledger.close)
        self._writer.shutdown(wait=True)
        self.ledger = None
