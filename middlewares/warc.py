"""WARC output for training pipelines: what reached the spider, and the rights
documents it was decided under.

:class:`WarcExport` (extension, order 520) is installed by the add-on when
``TDMGUARD_WARC`` names a file (``.warc.gz``: one gzip member per record, as
Common Crawl writes them; any other name: plain WARC). It needs the ledger
(``TDMGUARD_DB``): each page record names its decision by the ledger's id.
The file is opened for appending, so a second crawl adds to it and the
offsets the ledger holds stay true. Written with warcio, WARC/1.1:

- a ``warcinfo`` record first (software, user agent, tokens, purpose, mode,
  ledger file and crawl id);
- each rights document fetched (robots.txt, tdmrep.json, ai.txt, RSL
  licences, ...) as a ``response`` record the way Common Crawl publishes its
  robots.txt captures: ``WARC-Target-URI`` the document's URL, ``WARC-Date``
  the fetch time, the full HTTP response (status line, headers, body), plus
  ``WARC-TDMGuard-Document-Kind`` and ``WARC-TDMGuard-Snapshot`` (the
  ledger's ``snapshots.sha256``); a fetch that received nothing (a network
  error) has no record;
- every response that passed the decision middleware (each page the spider
  was given) as a ``response`` record with ``WARC-TDMGuard-Decision-Id`` (the
  ledger's ``decisions.id``) and ``WARC-TDMGuard-Rights-Documents`` (the
  sha256 of the body of each rights document in force, comma-separated, in
  order of kind). A refused or dropped page never reaches the file.

Digests are sha256 in hex (``sha256:<hex>``), so each hash a page cites is
the ``WARC-Payload-Digest`` of a rights-document record.

Scrapy hands the spider decoded bodies, so ``Content-Encoding``,
``Transfer-Encoding`` and ``Content-Length`` are kept as ``X-Crawler-*``
headers and a ``Content-Length`` of the stored body is added, as Common
Crawl does.

A page's decision id exists once the ledger has written it, so page records
wait (at most a flush interval or two) until their decisions are in the
ledger; the wait is resolved on a timer, by reading the decisions written
since the crawl started. Records are built, digested, compressed and written
by one writer thread, so the reactor only queues them; where each record
landed (file, offset, length, record id) goes into the ledger's
``warc_records`` table, which ``tdmguard evidence`` reads.

Stats: ``tdmguard/warc/records/{page,document}``, ``tdmguard/warc/unlinked``
(a page whose decision never reached the ledger: written without a decision
id), ``tdmguard/warc/errors``. A failed write is logged and counted; the crawl
goes on.

Why it is long: the extension must write off the reactor and wait for the
ledger, and both keep the file and the ledger's links true: a writer thread
builds, digests and appends records, one gzip member each, and cuts off a
half-written record after a failed write, while page records wait on a timer
until their decision ids are in the ledger before their offsets go into
``warc_records``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import sqlite3
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, cast

from scrapy import signals as scrapy_signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from tdmguard.middlewares import signals
from tdmguard.middlewares.settings import Config, ConfigError, tdmguard_version
from tdmguard.middlewares.vocab import AUX_META

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from tdmguard.middlewares.snapshots import Snapshot
    from tdmguard.middlewares.vocab import Decision

logger = logging.getLogger(__name__)

__all__ = ["WarcExport", "check_settings"]

#: HTTP headers that describe the bytes on the wire, not the body stored.
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
#: Records queued for the writer thread at most (then the reactor waits).
QUEUE_SIZE = 1024


def check_settings(settings: BaseSettings) -> None:
    """A WARC file needs a ledger and a directory to go in (:class:`ConfigError`)."""
    path = settings.get("TDMGUARD_WARC")
    if not path:
        return
    if not settings.get("TDMGUARD_DB"):
        raise ConfigError("TDMGUARD_WARC needs TDMGUARD_DB: each WARC record names its "
                          "decision by the ledger's id")
    path = str(path)
    if os.path.isdir(path):
        raise ConfigError(f"TDMGUARD_WARC: {path} is a directory (give a file)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ConfigError(f"TDMGUARD_WARC: cannot create {path}: no directory {parent}")
    if not os.access(path if os.path.exists(path) else parent, os.W_OK):
        raise ConfigError(f"TDMGUARD_WARC: cannot write {path}")
    if os.path.exists(path) and os.path.getsize(path):
        # Appending to something else (the ledger, say) would damage it.
        with open(path, "rb") as fh:
            head = fh.read(5)
        if head[:2] != b"\x1f\x8b" and head != b"WARC/":
            raise ConfigError(f"TDMGUARD_WARC: {path} exists and is not a WARC file "
                              "(records are appended; give a new file or a WARC)")


@dataclass(slots=True)
class _Capture:
    """One response record to write, with where its pointer goes."""

    uri: str
    date: str
    status: int
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    warc_headers: dict[str, str]
    link: dict[str, Any] = field(default_factory=dict)


class _GzipMembers:
    """A file wrapper that gzips each record as its own member (level 6):
    warcio calls ``flush()`` at the end of every record."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self._z = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self.out.write(self._z.compress(data))
        return len(data)

    def flush(self) -> None:
        self.out.write(self._z.flush())
        self.out.flush()
        self.reset()

    def reset(self) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)


def http_headers(pairs: list[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    """Headers as stored with a decoded body: wire headers renamed ``X-Crawler-*``,
    and the stored body's ``Content-Length``."""
    out = []
    for name, value in pairs:
        if name.lower() in WIRE_HEADERS:
            name = "X-Crawler-" + "-".join(p.capitalize() for p in name.split("-"))
        out.append((name, value))
    out.append(("Content-Length", str(length)))
    return out


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class _WriterThread(threading.Thread):
    """Builds, digests, compresses and appends records; reports where each went."""

    def __init__(self, path: str) -> None:
        super().__init__(name="tdmguard-warc", daemon=True)
        self.path = os.path.abspath(path)
        self.gzip = path.endswith(".gz")
        self.queue: queue.Queue[_Capture | dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        #: (link, offset, length, record id) of written records; drained by the reactor.
        self.written: list[tuple[dict[str, Any], int, int, str]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        from warcio.warcwriter import WARCWriter

        try:
            fh = open(self.path, "ab")  # noqa: SIM115 - closed below, after the loop
        except OSError as exc:
            self.errors.append(f"cannot open {self.path}: {exc.strerror}")
            while self.queue.get() is not None:  # keep the reactor's puts from blocking
                pass
            return
        out: Any = _GzipMembers(fh) if self.gzip else fh
        writer = WARCWriter(out, gzip=False, warc_version="1.1")
        try:
            while (item := self.queue.get()) is not None:
                offset = fh.tell()
                try:
                    self._write(writer, fh, out, item)
                except Exception as exc:
                    logger.exception("Writing a WARC record to %s failed", self.path)
                    with self._lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    self._drop_partial(fh, out, offset)
        finally:
            fh.close()

    def _drop_partial(self, fh: IO[bytes], out: Any, offset: int) -> None:
        """Cut a half-written record off, so the next one starts clean."""
        try:
            fh.flush()
        except OSError:
            pass
        try:
            fh.truncate(offset)
            fh.seek(0, os.SEEK_END)
        except OSError:
            logger.exception("Could not cut a partial record off %s at %d", self.path, offset)
        if isinstance(out, _GzipMembers):
            out.reset()

    def _write(self, writer: Any, fh: IO[bytes], out: Any, item: _Capture | dict[str, Any]
               ) -> None:
        from warcio.statusandheaders import StatusAndHeaders

        offset = fh.tell()
        if isinstance(item, dict):  # the warcinfo record
            record = writer.create_warcinfo_record(os.path.basename(self.path), item)
        else:
            headers = StatusAndHeaders(_status_line(item.status),
                                       http_headers(item.headers, len(item.body)),
                                       protocol=item.protocol)
            # Digests computed here, in hex (sha256 in C, no base32 in Python):
            # warcio then skips its own pass over the record.
            headers.compute_headers_buffer(writer.header_filter)
            payload = hashlib.sha256(item.body)
            block = hashlib.sha256(headers.headers_buff)
            block.update(item.body)
            record = writer.create_warc_record(
                item.uri, "response", payload=BytesIO(item.body), length=len(item.body),
                http_headers=headers,
                warc_headers_dict={"WARC-Type": "response",
                                   "WARC-Record-ID": item.warc_headers["WARC-Record-ID"],
                                   "WARC-Target-URI": item.uri, "WARC-Date": item.date,
                                   **{k: v for k, v in item.warc_headers.items()
                                      if k != "WARC-Record-ID"},
                                   "WARC-Payload-Digest": "sha256:" + payload.hexdigest(),
                                   "WARC-Block-Digest": "sha256:" + block.hexdigest()})
        writer.write_record(record)
        if not self.gzip:
            out.flush()
        if isinstance(item, _Capture):
            with self._lock:
                self.written.append((item.link, offset, fh.tell() - offset,
                                     item.warc_headers["WARC-Record-ID"]))

    def take(self) -> tuple[list[tuple[dict[str, Any], int, int, str]], list[str]]:
        with self._lock:
            written, self.written = self.written, []
            errors, self.errors = self.errors, []
        return written, errors


def _warc_date(iso: str) -> str:
    """A ledger timestamp (``...56.956859Z``) as a WARC/1.1 date: the same text."""
    return iso if iso.endswith("Z") else iso + "Z"


class WarcExport:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        path = s.get("TDMGUARD_WARC")
        if not path:
            raise NotConfigured("TDMGUARD_WARC is not set")
        check_settings(s)
        self.crawler = crawler
        self.path = str(path)
        self.db_path = str(s.get("TDMGUARD_DB"))
        self.interval = s.getfloat("TDMGUARD_DB_FLUSH_INTERVAL", 1.0)
        self.stats = crawler.stats
        self.writer = _WriterThread(self.path)
        self.conn: sqlite3.Connection | None = None
        self.crawl_id: int | None = None
        self._last_id = 0
        #: decision url -> the decision of a response not yet received.
        self._decided: dict[str, Decision] = {}
        #: Page captures waiting for their decision's ledger id, by (url, at).
        self._waiting: dict[tuple[str, str], _Capture] = {}
        #: Ledger document hash -> sha256 of the document's body.
        self._bodies: dict[str, str] = {}
        self._timer: task.LoopingCall | None = None
        self._closed = False
        crawler.signals.connect(self.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(self.decision, signal=signals.decision_recorded)
        crawler.signals.connect(self.snapshot, signal=signals.snapshot_fetched)
        crawler.signals.connect(self.response_received, signal=scrapy_signals.response_received)
        # Connected after ProvenanceLog's (order 500), so it runs after the
        # ledger's last flush.
        crawler.signals.connect(self.spider_closed, signal=scrapy_signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcExport:
        return cls(crawler)

    # -- start ----------------------------------------------------------------

    def spider_opened(self, spider: Any = None) -> None:
        from tdmguard.middlewares.provenance import ProvenanceLog

        for ext in self.crawler.extensions.middlewares:
            if isinstance(ext, ProvenanceLog) and ext.ledger is not None:
                self.crawl_id = ext.ledger.crawl_id
        self.conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        self._last_id = self.conn.execute(
            "SELECT coalesce(max(id), 0) FROM decisions").fetchone()[0]
        self.writer.start()
        s = self.crawler.settings
        self.writer.queue.put({
            "software": f"tdmguard/{tdmguard_version()} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "http-header-user-agent": s.get("USER_AGENT"),
            "robots": "obey (tdmguard: RFC 9309, fail closed, and every other rights "
                      "protocol it reads)",
            "tdmguard-tokens": ",".join(Config.from_settings(s).tokens),
            "tdmguard-purpose": s.get("TDMGUARD_PURPOSE"),
            "tdmguard-mode": s.get("TDMGUARD_MODE"),
            "tdmguard-ledger": os.path.abspath(self.db_path),
            "tdmguard-crawl-id": self.crawl_id,
        })
        self._timer = task.LoopingCall(self.tick)
        self._timer.start(self.interval, now=False)
        from twisted.internet import reactor

        # A forced stop never closes the spider (see ProvenanceLog).
        cast(Any, reactor).addSystemEventTrigger("before", "shutdown", self._finish)

    # -- capture --------------------------------------------------------------

    def snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.status is None:
            return  # nothing was received
        body_sha = hashlib.sha256(snapshot.body).hexdigest()
        self._bodies[snapshot.sha256] = body_sha
        headers = [(k, v) for k, vs in snapshot.headers.items() for v in vs]
        extra = {"WARC-Record-ID": f"<urn:uuid:{uuid.uuid4()}>",
                 "WARC-TDMGuard-Document-Kind": snapshot.kind,
                 "WARC-TDMGuard-Snapshot": snapshot.sha256}
        if snapshot.redirects:
            extra["WARC-TDMGuard-Redirected-To"] = snapshot.redirects[-1]
        if snapshot.error:
            extra["WARC-TDMGuard-Error"] = " ".join(snapshot.error.split())
        self._put(_Capture(snapshot.url, _warc_date(snapshot.fetched_at), snapshot.status,
                           "HTTP/1.1", headers, snapshot.body, extra,
                           {"crawl_id": self.crawl_id, "decision_id": None,
                            "kind": snapshot.kind, "sha256": snapshot.sha256,
                            "target_uri": snapshot.url,
                            "warc_date": _warc_date(snapshot.fetched_at)}))
        self.stats.inc_value("tdmguard/warc/records/document")

    def decision(self, decision: Decision) -> None:
        if decision.status is not None and decision.stage in ("fetched", "failed"):
            self._decided[decision.url] = decision

    def response_received(self, response: Response, request: Request,
                          spider: Any = None) -> None:
        if request.meta.get(AUX_META):
            return
        decision = self._decided.pop(request.url, None)
        if decision is None:
            return
        protocol = str(response.protocol or "HTTP/1.1")
        if not protocol.upper().startswith("HTTP/"):
            protocol = "HTTP/1.1"
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, vs in response.headers.items() for v in vs]
        rights = ",".join(self._bodies.get(sha, sha) for _, sha in
                          sorted(decision.snapshots.items()))
        capture = _Capture(decision.url, _warc_date(decision.at), response.status, protocol,
                           headers, response.body,
                           {"WARC-Record-ID": f"<urn:uuid:{uuid.uuid4()}>",
                            "WARC-TDMGuard-Rights-Documents": rights},
                           {"kind": "page", "sha256": None, "target_uri": decision.url,
                            "warc_date": _warc_date(decision.at)})
        self._waiting[(decision.url, decision.at)] = capture

    def _put(self, item: _Capture) -> None:
        if not self._closed:
            self.writer.queue.put(item)

    # -- linking --------------------------------------------------------------

    def tick(self) -> None:
        self._resolve()
        self._store_links()

    def _resolve(self, final: bool = False) -> None:
        """Queue every waiting page whose decision the ledger now holds."""
        if self.conn is None or not self._waiting:
            return
        rows = self.conn.execute("SELECT id, crawl_id, url, at FROM decisions WHERE id > ? "
                                 "ORDER BY id", (self._last_id,)).fetchall()
        for did, crawl_id, url, at in rows:
            self._last_id = did
            capture = self._waiting.pop((url, at), None)
            if capture is None:
                continue
            capture.warc_headers["WARC-TDMGuard-Decision-Id"] = str(did)
            capture.link.update(crawl_id=crawl_id, decision_id=did)
            self._put(capture)
            self.stats.inc_value("tdmguard/warc/records/page")
        if final and self._waiting:
            logger.warning("%d responses had no decision in the ledger %s: written to %s "
                           "without a decision id", len(self._waiting), self.db_path,
                           self.path)
            for capture in self._waiting.values():
                capture.link.update(crawl_id=self.crawl_id, decision_id=None)
                self._put(capture)
                self.stats.inc_value("tdmguard/warc/unlinked")
            self._waiting.clear()

    def _store_links(self) -> None:
        written, errors = self.writer.take()
        for error in errors:
            self.stats.inc_value("tdmguard/warc/errors")
            logger.error("WARC output %s: %s", self.path, error)
        if not written or self.conn is None:
            return
        filename = self.writer.path
        rows = [(link.get("crawl_id"), link.get("decision_id"), link["kind"], link["sha256"],
                 link["target_uri"], link["warc_date"], filename, offset, length, record_id)
                for link, offset, length, record_id in written]
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany(
                    "INSERT INTO warc_records (crawl_id, decision_id, kind, sha256, "
                    "target_uri, warc_date, filename, offset, length, record_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error:
            self.stats.inc_value("tdmguard/warc/errors")
            logger.exception("Recording %d WARC records in the ledger %s failed",
                             len(rows), self.db_path)

    # -- close ----------------------------------------------------------------

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        self._finish()

    def _finish(self) -> None:
        if self._closed or self.conn is None:
            return
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self._resolve(final=True)
        self._closed = True
        self.writer.queue.put(None)
        self.writer.join()
        self._store_links()
        self.conn.close()
        self.conn = None
