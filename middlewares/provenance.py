"""Provenance: every decision and rights-document fetch written to the ledger.

Enabled by the add-on when ``TDMGUARD_DB`` names a file (else NotConfigured).
Decisions are buffered and written in one transaction every
``TDMGUARD_DB_BATCH_SIZE`` decisions or ``TDMGUARD_DB_FLUSH_INTERVAL`` seconds,
whichever comes first, and at spider close. A ``kill -9`` loses at most the
unflushed batch. A failed write is logged and its rows stay queued for the
next one. Stats: ``tdmguard/ledger/flushes``, ``tdmguard/ledger/decisions``,
``tdmguard/ledger/errors``.

Writes run on the reactor's thread. A writer thread was tried and measured
worse: sqlite3's ``executemany`` takes the GIL back after every row, and each
time a busy crawl thread is made to hand it over (add-on benchmark with the
ledger on, 11 rounds: median 0.80 of plain Scrapy with the thread, 0.96 without;
CPU per page up 1.2 ms).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from scrapy import signals as scrapy_signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from tdmguard.blocklists.domains import psl_snapshot_version, registrable_domain
from tdmguard.middlewares import signals
from tdmguard.middlewares.blocklist_settings import describe_blocklists
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.settings import Config, effective_settings, tdmguard_version
from tdmguard.middlewares.snapshots import Snapshot, utcnow
from tdmguard.middlewares.vocab import Decision

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
        self.config = Config.from_settings(s)
        self.batch_size = s.getint("TDMGUARD_DB_BATCH_SIZE", 1000)
        self.interval = s.getfloat("TDMGUARD_DB_FLUSH_INTERVAL", 1.0)
        # Opened here, not on spider_opened: an unusable file stops the crawl
        # before any request is made (LedgerError), instead of crawling unrecorded.
        self.ledger: Ledger | None = Ledger(self.path, domain_of=domain_of)
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
        assert self.ledger is not None
        self.ledger.start_crawl(
            started_at=utcnow(), tdmguard_version=tdmguard_version(),
            user_agent=s.get("USER_AGENT"), tokens=list(self.config.tokens),
            mode=self.config.mode, purpose=self.config.purpose,
            settings=effective_settings(s),
            blocklists=describe_blocklists(s),
            psl_version=psl_snapshot_version(),
        )
        self._timer = task.LoopingCall(self.flush)
        self._timer.start(self.interval, now=False)
        # A forced stop (a second Ctrl-C) stops the reactor without closing the
        # spider: the ledger is still flushed and the crawl marked "forced".
        from twisted.internet import reactor

        # IReactorCore is a zope Interface, which mypy reads as a class (its first
        # parameter as self): called through Any.
        cast(Any, reactor).addSystemEventTrigger("before", "shutdown", self._reactor_stopping)

    def decision(self, decision: Decision) -> None:
        if self.ledger is None:
            return
        self.ledger.add(decision)
        if self.ledger.pending() >= self.batch_size:
            self.flush()

    def snapshot(self, snapshot: Snapshot) -> None:
        if self.ledger is not None:
            self.ledger.add_snapshot(snapshot)

    def flush(self) -> None:
        if self.ledger is None:
            return
        try:
            n = self.ledger.flush()
        except Exception:  # LedgerError: the rows stay queued in the Ledger for the next flush
            self.crawler.stats.inc_value("tdmguard/ledger/errors")
            logger.exception("Writing the ledger %s failed; the rows stay queued", self.path)
            return
        self._count(n)

    def _count(self, n: int) -> None:
        if n:
            self.crawler.stats.inc_value("tdmguard/ledger/flushes")
            self.crawler.stats.inc_value("tdmguard/ledger/decisions", n)

    def _interrupt_in_flight(self, why: str) -> None:
        """Every request still in flight gets its decision before the ledger closes."""
        from tdmguard.middlewares.decisions import DecisionMiddleware

        try:
            decider = self.crawler.get_downloader_middleware(DecisionMiddleware)
        except RuntimeError:  # the crawl never started its engine: nothing in flight
            return
        if decider is not None:
            decider.interrupt(why)

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        self._close(finish_reason(reason), reason or "finished")

    def _reactor_stopping(self) -> None:
        if self.ledger is not None:  # the spider never closed: a forced stop
            self._close("forced", "forced stop")

    def _close(self, reason: str, why: str) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if self.ledger is None:
            return
        # A queue drained normally leaves nothing in flight; a shutdown, a
        # CLOSESPIDER_* limit or a forced stop may: each such request is decided.
        self._interrupt_in_flight(f"interrupted: the crawl stopped ({why}) before a "
                                  "response was decided; the request may have reached "
                                  "the server")
        try:
            # Flushed here, not inside finish_crawl, so the stats count these rows too.
            self._count(self.ledger.flush())
            self.ledger.finish_crawl(utcnow(), reason=reason)
        except Exception:
            self.crawler.stats.inc_value("tdmguard/ledger/errors")
            logger.exception("Closing the ledger %s failed: %d rows of this crawl were not "
                             "written", self.path, self.ledger.pending())
        finally:
            self.ledger.close()
            self.ledger = None


#: How a crawl ended, as the ledger records it.
FINISH_REASONS = ("finished", "shutdown", "forced", "error")


def finish_reason(scrapy_reason: str) -> str:
    """Scrapy's close reason as one of :data:`FINISH_REASONS`: ``finished`` (a
    drained queue or a ``CLOSESPIDER_*`` limit), ``shutdown`` (Ctrl-C once,
    SIGTERM), ``error`` (anything else, e.g. ``cancelled``)."""
    if scrapy_reason in ("", "finished") or scrapy_reason.startswith("closespider_"):
        return "finished"
    if scrapy_reason == "shutdown":
        return "shutdown"
    return "error"
