"""The ledger: every decision in SQLite, hash-chained with the crawls and the
rights documents in force. A public interface: tables and columns change only
by a new migration (:mod:`tdmguard.middlewares.migrations`; README, "The ledger").

Writes are batched: :meth:`Ledger.flush` runs one ``BEGIN IMMEDIATE``
transaction that reads the chain head, hashes the batch onto it
(:mod:`tdmguard.middlewares.chain`) and commits, so processes appending to
one file serialise (each waits up to ``busy_timeout``) and a crash loses at
most the unflushed batch. Any failure to open or write is a one-line
:class:`LedgerError`; a failed flush keeps its rows queued.

Why it is long: every append (crawl, finish, snapshot and its fetch, decision
and its links) runs in the same ``BEGIN IMMEDIATE`` transaction on one chain
head, with id caches that a rollback must forget, so the writer is one class;
and the decision flush, the crawl's hot path, builds each record's hash input
by hand with per-combination caches instead of calling
:func:`~tdmguard.middlewares.chain.record_hash` per row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from functools import lru_cache
from typing import Any

import sqlite_utils

from tdmguard.middlewares import sqlitefile
from tdmguard.middlewares.chain import (
    CHAINED,
    GENESIS,
    HASHED,
    LedgerError,
    checkpoint,
    encode,
    record_hash,
    row_hash,
    verify,
)
from tdmguard.middlewares.migrate import apply_pending
from tdmguard.middlewares.migrations import MIGRATIONS, text_or_bytes
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import Decision, Reason

__all__ = ["GENESIS", "HASHED", "MIGRATIONS", "Ledger", "LedgerError", "checkpoint",
           "open_existing", "record_hash", "row_hash", "verify"]

#: The tables a ledger needs; any others (FTS, views, a user's own) are left alone.
LEDGER_TABLES = frozenset({"crawls", "snapshots", "snapshot_fetches", "decisions",
                           "chain_head"})

_AFTER_HOST = frozenset(("", "/", "?", "#", ":"))
_json_str = json.encoder.encode_basestring  # what encode uses for a str
_DECISION_INSERT = (f"INSERT INTO decisions (seq, {', '.join(CHAINED['decisions'])}, "
                    f"prev_hash, hash) VALUES ({', '.join('?' * (len(CHAINED['decisions']) + 3))})")


def _json_value(value: Any) -> str:
    """One scalar exactly as :data:`encode` writes it."""
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return encode(value)


@lru_cache(maxsize=8192)
def _reasons_json(reasons: tuple[Reason, ...]) -> str:
    return encode([r.to_dict() for r in reasons])


@lru_cache(maxsize=8192)
def _items_json(items: tuple[tuple[str, str], ...]) -> str:
    return encode(dict(items))


@lru_cache(maxsize=256)
def _list_json(items: tuple[str, ...]) -> str:
    return encode(list(items))


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return encode(value)
    return value


def open_existing(path: str) -> sqlite_utils.Database:
    """Open a ledger for reading; never creates one (:class:`LedgerError`)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(16)
    except FileNotFoundError:
        raise LedgerError(f"no ledger at {path}: give the --db file a crawl wrote") from None
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from None
    if magic != sqlitefile.SQLITE_MAGIC:
        raise LedgerError(f"{path} is not an SQLite file, so not a tdmguard ledger")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db = sqlite_utils.Database(conn)
        names = set(db.table_names())
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path} is not a readable SQLite file ({exc})") from None
    if not {"decisions", "snapshots", "crawls", "chain_head"} <= names:
        raise LedgerError(f"{path} is an SQLite file but not a tdmguard ledger "
                          "(no decisions/snapshots/crawls tables)")
    return db


def check_path(path: str) -> None:
    """A one-line reason why *path* cannot be a ledger file, before SQLite tries."""
    sqlitefile.check_path(path, "ledger", "a tdmguard ledger", LedgerError)


def _one_line(path: str, exc: sqlite3.Error) -> LedgerError:
    text = str(exc)
    if "full" in text or "I/O" in text:
        return LedgerError(f"cannot write the ledger {path}: {text} (is the disk full?)")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"cannot write the ledger {path}: the file is read-only")
    if "locked" in text or "busy" in text:
        return LedgerError(f"cannot write the ledger {path}: {text} (another writer holds it)")
    return LedgerError(f"cannot use the ledger {path}: {text}")


class Ledger:
    """A writer. ``Ledger(path)`` creates or migrates the file."""

    def __init__(self, path: str, busy_timeout: float = 30.0,
                 domain_of: Any = None) -> None:
        self.path = path
        #: url -> registrable domain, for the ``domain`` column.
        self.domain_of = domain_of
        check_path(path)
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise _one_line(path, exc) from None
        try:
            self._migrate(conn, busy_timeout)
            # WAL + NORMAL: a process crash (kill -9) loses nothing committed; only
            # a power cut can lose the last commits, never corrupt the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay hot
            # Checkpoint every ~80 MB of WAL rather than 4 MB: copying pages back is
            # most of the cost of a write on slow disks.
            conn.execute("PRAGMA wal_autocheckpoint=20000")
        except LedgerError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                raise LedgerError(f"{path} is not a usable SQLite file ({exc})") from None
            raise _one_line(path, exc) from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.crawl_id: int | None = None
        self._finished = False
        self._decisions: list[Decision] = []
        self._snapshots: list[tuple[Snapshot, int | None]] = []
        self._domains: dict[str, str] = {}  # origin -> registrable domain
        #: JSON of the columns origin..snapshots, per distinct combination.
        self._middles: dict[tuple[Any, ...], str] = {}
        self._forget_ids()
        self.flushed = 0

    def _migrate(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        """Apply pending migrations under the write lock, re-checked once held,
        so processes creating one file at once take turns (issue 10, item 6)."""
        apply_pending(conn, MIGRATIONS, busy_timeout, self._check_tables)

    def _check_tables(self, names: set[str]) -> None:
        if names and not LEDGER_TABLES & names:
            raise LedgerError(f"{self.path} holds other tables "
                              f"({', '.join(sorted(names)[:5])}): not a tdmguard "
                              "ledger")

    def _forget_ids(self) -> None:
        """Drop cached row ids (after a rollback they may not exist)."""
        self._snap_ids: dict[str, int] = {}
        self._fetch_by_origin: dict[tuple[str, str, str], int] = {}
        self._fetch_by_doc: dict[tuple[str, str], int] = {}
        #: (origin, snapshot items) -> (links JSON, link rows without the decision id).
        self._links: dict[tuple[Any, ...], tuple[str, list[tuple[Any, ...]]]] = {}

    # -- chained appends ------------------------------------------------------------

    def _begin(self) -> list[Any]:
        self.conn.execute("BEGIN IMMEDIATE")
        return list(self.conn.execute(
            "SELECT hash, seq, count FROM chain_head WHERE id = 1").fetchone())

    def _next_id(self, table: str) -> int:
        next_id: int = self.conn.execute(
            f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]
        return next_id

    def _insert(self, head: list[Any], table: str, row: dict[str, Any]) -> int:
        row_id = row["id"] = self._next_id(table)
        head[1] += 1
        digest = record_hash(head[0], head[1], table, [row.get(c) for c in CHAINED[table]])
        row.update(seq=head[1], prev_hash=head[0], hash=digest)
        self.conn.execute(f"INSERT INTO {table} ({', '.join(row)}) "
                          f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
        head[0] = digest
        return row_id

    def _commit(self, head: list[Any]) -> None:
        self.conn.execute("UPDATE chain_head SET hash = ?, seq = ?, count = ? WHERE id = 1",
                          head)
        self.conn.execute("COMMIT")

    def _write(self, work: Any) -> Any:
        """Run *work(head)* in one chained transaction; errors become LedgerError."""
        try:
            head = self._begin()
            result = work(head)
            self._commit(head)
            return result
        except BaseException as exc:
            if self.conn.in_transaction:  # some errors (a full disk) roll back by themselves
                self.conn.execute("ROLLBACK")
            self._forget_ids()
            if isinstance(exc, sqlite3.Error):
                raise _one_line(self.path, exc) from None
            raise

    def start_crawl(self, **fields: Any) -> int:
        """Append the crawl's row (its effective settings) to the chain."""
        unknown = set(fields) - set(CHAINED["crawls"])
        if unknown or "id" in fields:
            raise TypeError(f"not a chained crawls column: {', '.join(sorted(unknown))}")
        row = {k: _cell(v) for k, v in fields.items()}
        self.crawl_id = self._write(lambda head: self._insert(head, "crawls", row))
        self._finished = False
        return self.crawl_id

    def finish_crawl(self, finished_at: str, reason: str | None = "finished") -> None:
        """Flush, then append the "crawl finished" record (time, reason, count)
        and copy it into the crawl's row."""
        self.flush()
        if self.crawl_id is None or self._finished:
            return
        crawl_id = self.crawl_id

        def work(head: list[Any]) -> None:
            count = self.conn.execute("SELECT count(*) FROM decisions WHERE crawl_id = ?",
                                      (crawl_id,)).fetchone()[0]
            self._insert(head, "crawl_finishes", {"crawl_id": crawl_id, "finished_at":
                         finished_at, "reason": reason, "decisions": count})
            self.conn.execute("UPDATE crawls SET finished_at = ?, decisions = ?, "
                              "finish_reason = ? WHERE id = ?",
                              (finished_at, count, reason, crawl_id))

        self._write(work)
        self._finished = True

    def add_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshots.append((snapshot, self.crawl_id))

    def add(self, decision: Decision) -> None:
        self._decisions.append(decision)

    def pending(self) -> int:
        return len(self._decisions) + len(self._snapshots)

    def flush(self) -> int:
        """Write the buffered snapshots and decisions in one transaction."""
        if not self._decisions and not self._snapshots:
            return 0
        # Take the write lock before touching the buffers: when another
        # writer holds it past the busy timeout this raises and every row
        # stays queued for the next flush.
        decisions, snapshots = self._decisions, self._snapshots
        self._decisions, self._snapshots = [], []
        try:
            self._write(lambda head: self._flush(head, decisions, snapshots))
        except BaseException:
            self._decisions[:0] = decisions
            self._snapshots[:0] = snapshots
            raise
        self.flushed += len(decisions)
        return len(decisions)

    def _snapshot_id(self, sha: str) -> int | None:
        sid = self._snap_ids.get(sha)
        if sid is None:
            row = self.conn.execute("SELECT id FROM snapshots WHERE sha256 = ?",
                                    (sha,)).fetchone()
            if row:
                sid = self._snap_ids[sha] = row[0]
        return sid

    def _write_snapshots(self, head: list[Any],
                         snapshots: list[tuple[Snapshot, int | None]]) -> None:
        for snap, crawl_id in snapshots:
            sha = snap.sha256
            headers, redirects = snap.headers_json(), encode(snap.redirects)
            sid = self._snapshot_id(sha)
            if sid is None:  # a document not seen before: its body, once
                sid = self._snap_ids[sha] = self._insert(head, "snapshots", {
                    "sha256": sha, "kind": snap.kind, "url": snap.url, "origin": snap.origin,
                    "fetched_at": snap.fetched_at, "status": snap.status, "headers": headers,
                    "error": snap.error, "redirects": redirects,
                    "body": text_or_bytes(snap.body)})
            fid = self._insert(head, "snapshot_fetches", {
                "snapshot_id": sid, "crawl_id": crawl_id, "sha256": sha, "kind": snap.kind,
                "url": snap.url, "origin": snap.origin, "fetched_at": snap.fetched_at,
                "headers": headers, "redirects": redirects})
            self._fetch_by_origin[(snap.kind, sha, snap.origin)] = fid
            self._fetch_by_doc[(snap.kind, sha)] = fid
        if snapshots:
            self._links.clear()

    def _links_for(self, origin: str, items: tuple[tuple[str, str], ...]
                   ) -> tuple[str, list[tuple[Any, ...]]]:
        """A decision's links: each cited document, and the fetch of it from the
        decision's own origin when there is one (else its latest fetch)."""
        links = []
        for kind, sha in items:
            sid = self._snapshot_id(sha)
            fid = self._fetch_by_origin.get((kind, sha, origin)) or \
                self._fetch_by_doc.get((kind, sha))
            if fid is None and sid is not None:
                row = self.conn.execute(
                    "SELECT id FROM snapshot_fetches WHERE snapshot_id = ? AND kind = ? "
                    "ORDER BY origin = ? DESC, id DESC LIMIT 1", (sid, kind, origin)).fetchone()
                fid = row[0] if row else None
            links.append((kind, sid, fid))
        links.sort()
        return encode([list(link) for link in links]), links

    def _flush(self, head: list[Any], decisions: list[Decision],
               snapshots: list[tuple[Snapshot, int | None]]) -> None:
        conn = self.conn
        self._write_snapshots(head, snapshots)
        if not decisions:
            return
        prev, seq = head[0], head[1]
        next_id = self._next_id("decisions")
        rows, link_rows = [], []
        crawl_id, domains, sha256 = self.crawl_id, self._domains, hashlib.sha256
        domain_of, middles, link_cache = self.domain_of, self._middles, self._links
        crawl_json = _json_value(crawl_id)
        jstr, jval, irepr = _json_str, _json_value, int.__repr__
        for d in decisions:
            # A url under its origin has the origin's registrable domain.
            origin, url = d.origin, d.url
            same = bool(origin) and url.startswith(origin) and \
                url[len(origin):len(origin) + 1] in _AFTER_HOST
            domain = domains.get(origin) if same else None
            if domain is None:
                domain = domain_of(url) if domain_of else ""
                if same and len(domains) < 65536:
                    domains[origin] = domain
            items = tuple(sorted(d.snapshots.items()))
            snaps = _items_json(items)
            ua, tokens = d.user_agent, _list_json(tuple(d.tokens))
            purpose, stage = d.purpose, d.stage
            allowed = 1 if d.allowed else 0
            reasons = _reasons_json(tuple(d.reasons))
            # The same bytes as record_hash's JSON. Columns origin..snapshots
            # repeat across rows: their JSON is joined once per combination.
            key = (origin, domain, ua, tokens, purpose, allowed, stage, reasons, snaps)
            middle = middles.get(key)
            if middle is None:
                if len(middles) >= 16384:
                    middles.clear()
                middle = middles[key] = ",".join(map(jval, key))
            lkey = (origin, snaps)
            cached = link_cache.get(lkey)
            if cached is None:
                if len(link_cache) >= 16384:
                    link_cache.clear()
                cached = link_cache[lkey] = self._links_for(origin, items)
            seq += 1
            at, status, sha, length, error = d.at, d.status, d.content_sha256, \
                d.content_length, d.error
            redirects = encode(d.redirect_urls) if d.redirect_urls else "[]"
            digest = sha256("".join((
                "[", jstr(prev), ",", irepr(seq), ',"decisions",[', irepr(next_id), ",",
                crawl_json, ",", jval(at), ",", jval(url), ",", middle, ",",
                irepr(status) if type(status) is int else jval(status), ",",
                jstr(sha) if type(sha) is str else jval(sha), ",",
                irepr(length) if type(length) is int else jval(length), ",",
                jstr(redirects), ",", "null" if error is None else jval(error),
                "],", cached[0], "]")).encode("utf-8")).hexdigest()
            rows.append((seq, next_id, crawl_id, at, url, origin, domain, ua, tokens, purpose,
                         allowed, stage, reasons, snaps, status, sha, length, redirects, error,
                         prev, digest))
            for kind, sid, fid in cached[1]:
                link_rows.append((next_id, kind, sid, fid))
            prev = digest
            next_id += 1
        conn.executemany(_DECISION_INSERT, rows)
        conn.executemany("INSERT INTO decision_snapshots (decision_id, kind, snapshot_id, "
                         "fetch_id) VALUES (?, ?, ?, ?)", link_rows)
        head[0], head[1], head[2] = prev, seq, head[2] + len(rows)

    def close(self) -> None:
        self.conn.close()
