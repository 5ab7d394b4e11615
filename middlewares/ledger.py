"""The ledger: every decision in SQLite, hash-chained, with the rights
documents in force. A public interface: tables and columns change only by a
new migration here (README, "The ledger").

Writes are batched: :meth:`Ledger.flush` runs one ``BEGIN IMMEDIATE``
transaction that reads the chain head, hashes the batch onto it and commits,
so two processes appending to one file serialise (the second waits up to
``busy_timeout``) and a crash loses at most the unflushed batch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from tdmguard.middlewares.snapshots import Snapshot, document_hash
from tdmguard.middlewares.vocab import Decision, Reason

MIGRATIONS = Migrations("tdmguard")
GENESIS = "0" * 64
SQLITE_MAGIC = b"SQLite format 3\x00"
LEDGER_TABLES = frozenset({"_sqlite_migrations", "crawls", "snapshots", "snapshot_fetches",
                           "decisions", "chain_head"})

#: Decision columns covered by each row's hash, in this order.
HASHED = ("crawl_id", "at", "url", "origin", "domain", "user_agent", "tokens", "purpose",
          "allowed", "stage", "reasons", "snapshots", "status", "content_sha256",
          "content_length", "redirect_urls", "error")


@MIGRATIONS(name="001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db["crawls"].create({
        "id": int, "started_at": str, "finished_at": str, "tdmguard_version": str,
        "user_agent": str, "tokens": str, "mode": str, "purpose": str, "settings": str,
        "blocklists": str, "psl_version": str, "decisions": int,
    }, pk="id")
    db["snapshots"].create({
        "id": int, "sha256": str, "kind": str, "url": str, "origin": str,
        "fetched_at": str, "status": int, "headers": str, "body": bytes, "error": str,
        "redirects": str,
    }, pk="id")
    db["snapshots"].create_index(["sha256"], unique=True)
    db["snapshots"].create_index(["origin", "kind"])
    db["snapshot_fetches"].create({
        "id": int, "snapshot_id": int, "crawl_id": int, "url": str, "fetched_at": str,
    }, pk="id", foreign_keys=[("snapshot_id", "snapshots", "id"), ("crawl_id", "crawls", "id")])
    db["snapshot_fetches"].create_index(["snapshot_id"])
    db["decisions"].create({
        "id": int, "crawl_id": int, "at": str, "url": str, "origin": str, "domain": str,
        "user_agent": str, "tokens": str, "purpose": str, "allowed": int, "stage": str,
        "reasons": str, "snapshots": str, "status": int, "content_sha256": str,
        "content_length": int, "redirect_urls": str, "error": str, "prev_hash": str,
        "hash": str,
    }, pk="id", foreign_keys=[("crawl_id", "crawls", "id")])
    db["decisions"].create_index(["url", "at"])
    db["decisions"].create_index(["domain"])
    db["chain_head"].create({"id": int, "hash": str, "count": int}, pk="id")
    db["chain_head"].insert({"id": 1, "hash": GENESIS, "count": 0})


@MIGRATIONS(name="002_wal", transactional=False)
def _wal(db: sqlite_utils.Database) -> None:
    db.enable_wal()


@MIGRATIONS(name="003_url_index")
def _url_index(db: sqlite_utils.Database) -> None:
    # Look-ups by url need only the url: an (url, at) index spent a third more
    # pages on every insert, and the few rows of one url sort in no time.
    db.execute("DROP INDEX IF EXISTS idx_decisions_url_at")
    db["decisions"].create_index(["url"], if_not_exists=True)


class LedgerError(Exception):
    """The file is missing, not SQLite, or not a tdmguard ledger."""


# One encoder, built once: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def row_hash(prev: str, row: dict[str, Any], snapshot_hashes: Iterable[str]) -> str:
    """The reference definition: sha256 of the compact JSON (sorted keys, no
    ASCII escaping) of ``[prev, [the HASHED fields in order], sorted snapshot
    sha256s]``. :meth:`Ledger.flush` writes the same bytes, faster (a test
    holds the two equal, row by row)."""
    payload = _encode([prev, [row[c] for c in HASHED], sorted(snapshot_hashes)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_AFTER_HOST = frozenset(("", "/", "?", "#", ":"))
_json_str = json.encoder.encode_basestring  # what _encode uses for a str


@lru_cache(maxsize=4096)
def _sorted_hashes_json(items: tuple[tuple[str, str], ...]) -> str:
    return ",".join(map(_json_value, sorted(sha for _kind, sha in items)))


def _json_value(value: Any) -> str:
    """One scalar exactly as :data:`_encode` writes it."""
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return _encode(value)


def open_existing(path: str) -> sqlite_utils.Database:
    """Open a ledger for reading; never creates one (:class:`LedgerError`)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(16)
    except FileNotFoundError:
        raise LedgerError(f"no ledger at {path}: give the --db file a crawl wrote") from None
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from None
    if magic != SQLITE_MAGIC:
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


@lru_cache(maxsize=8192)
def _reasons_json(reasons: tuple[Reason, ...]) -> str:
    return _encode([r.to_dict() for r in reasons])


@lru_cache(maxsize=8192)
def _items_json(items: tuple[tuple[str, str], ...]) -> str:
    return _encode(dict(items))


@lru_cache(maxsize=256)
def _list_json(items: tuple[str, ...]) -> str:
    return _encode(list(items))


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return _encode(value)
    return value


class Ledger:
    """A writer. ``Ledger(path)`` creates or migrates the file."""

    def __init__(self, path: str, busy_timeout: float = 30.0,
                 domain_of: Any = None) -> None:
        self.path = path
        #: url -> registrable domain, for the ``domain`` column.
        self.domain_of = domain_of
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
                self.db = sqlite_utils.Database(conn)
                foreign = set(self.db.table_names()) - LEDGER_TABLES
                if foreign:
                    raise LedgerError(f"{path} holds other tables ({', '.join(sorted(foreign))})"
                                      ": not a tdmguard ledger")
                MIGRATIONS.apply(self.db)
                break
            except sqlite3.OperationalError as exc:
                # Another process is creating or migrating the same file: wait.
                conn.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise LedgerError(f"{path}: {exc} (another writer holds it)") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{path} is not a usable SQLite file ({exc})") from None
        # WAL + NORMAL: a process crash (kill -9) loses nothing committed; only
        # a power cut can lose the last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay hot
        # Checkpoint every ~80 MB of WAL rather than 4 MB: copying pages back is
        # most of the cost of a write on slow disks.
        conn.execute("PRAGMA wal_autocheckpoint=20000")
        self.conn = conn
        self.crawl_id: int | None = None
        self._decisions: list[Decision] = []
        self._snapshots: list[tuple[Snapshot, int | None]] = []
        self._domains: dict[str, str] = {}  # origin -> registrable domain
        #: JSON of the columns origin..snapshots, per distinct combination.
        self._middles: dict[tuple[Any, ...], str] = {}
        self.flushed = 0

    def start_crawl(self, **fields: Any) -> int:
        row = {k: _cell(v) for k, v in fields.items()}
        names = ", ".join(row)
        # BEGIN IMMEDIATE: take the write lock up front, so a second writer
        # waits (busy_timeout) instead of failing on a stale read snapshot.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(
                f"INSERT INTO crawls ({names}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.crawl_id = cur.lastrowid
        return self.crawl_id

    def finish_crawl(self, finished_at: str) -> None:
        self.flush()
        if self.crawl_id is not None:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "UPDATE crawls SET finished_at = ?, decisions = (SELECT count(*) FROM "
                "decisions WHERE crawl_id = ?) WHERE id = ?",
                (finished_at, self.crawl_id, self.crawl_id))
            self.conn.execute("COMMIT")

    def add_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshots.append((snapshot, self.crawl_id))

    def add(self, decision: Decision) -> None:
        self._decisions.append(decision)

    def pending(self) -> int:
        return len(self._decisions) + len(self._snapshots)

    def flush(self) -> int:
        """Write the buffered snapshots and decisions in one transaction."""
        domain_of = self.domain_of
        if not self._decisions and not self._snapshots:
            return 0
        conn = self.conn
        # Take the write lock before touching the buffers: when another
        # writer holds it past the busy timeout this raises and every row
        # stays queued for the next flush.
        conn.execute("BEGIN IMMEDIATE")
        decisions, self._decisions = self._decisions, []
        snapshots, self._snapshots = self._snapshots, []
        try:
            for snap, crawl_id in snapshots:
                sha = snap.sha256
                conn.execute(
                    "INSERT OR IGNORE INTO snapshots (sha256, kind, url, origin, fetched_at, "
                    "status, headers, body, error, redirects) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (sha, snap.kind, snap.url, snap.origin, snap.fetched_at, snap.status,
                     snap.headers_json(), snap.body, snap.error, json.dumps(snap.redirects)))
                snap_id = conn.execute("SELECT id FROM snapshots WHERE sha256 = ?",
                                       (sha,)).fetchone()[0]
                conn.execute("INSERT INTO snapshot_fetches (snapshot_id, crawl_id, url, "
                             "fetched_at) VALUES (?,?,?,?)",
                             (snap_id, crawl_id, snap.url, snap.fetched_at))
            prev, count = conn.execute(
                "SELECT hash, count FROM chain_head WHERE id = 1").fetchone()
            rows = []
            crawl_id, domains, sha256 = self.crawl_id, self._domains, hashlib.sha256
            middles = self._middles
            crawl_json = _json_value(crawl_id)
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
                tokens = _list_json(tuple(d.tokens))
                reasons = _reasons_json(tuple(d.reasons))
                items = tuple(sorted(d.snapshots.items()))
                snaps = _items_json(items)
                redirects = _encode(d.redirect_urls) if d.redirect_urls else "[]"
                allowed = 1 if d.allowed else 0
                values = (crawl_id, d.at, d.url, origin, domain, d.user_agent, tokens,
                          d.purpose, allowed, d.stage, reasons, snaps, d.status,
                          d.content_sha256, d.content_length, redirects, d.error)
                # The same bytes as row_hash's JSON. Columns origin..snapshots
                # repeat across rows: their JSON is joined once per combination.
                key = values[3:12]
                middle = middles.get(key)
                if middle is None:
                    if len(middles) >= 16384:
                        middles.clear()
                    middle = middles[key] = ",".join(map(_json_value, key))
                status, sha, length, error = (d.status, d.content_sha256,
                                              d.content_length, d.error)
                payload = "".join((
                    "[", _json_str(prev), ",[", crawl_json, ",", _json_value(d.at), ",",
                    _json_value(url), ",", middle, ",",
                    int.__repr__(status) if type(status) is int else _json_value(status), ",",
                    _json_str(sha) if type(sha) is str else _json_value(sha), ",",
                    int.__repr__(length) if type(length) is int else _json_value(length), ",",
                    _json_str(redirects), ",",
                    "null" if error is None else _json_value(error), "],[",
                    _sorted_hashes_json(items), "]]"))
                digest = sha256(payload.encode("utf-8")).hexdigest()
                rows.append((*values, prev, digest))
                prev = digest
            conn.executemany(
                f"INSERT INTO decisions ({', '.join(HASHED)}, prev_hash, hash) "
                f"VALUES ({', '.join('?' * (len(HASHED) + 2))})", rows)
            conn.execute("UPDATE chain_head SET hash = ?, count = ? WHERE id = 1",
                         (prev, count + len(rows)))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # some errors (a full disk) roll back by themselves
                conn.execute("ROLLBACK")
            self._decisions[:0] = decisions
            self._snapshots[:0] = snapshots
            raise
        self.flushed += len(decisions)
        return len(decisions)

    def close(self) -> None:
        self.conn.close()


def verify(db: sqlite_utils.Database) -> tuple[bool, int, str]:
    """Recompute the chain and snapshot hashes: (ok, decisions checked, problem)."""
    snaps: dict[str, bool] = {}
    for sha, kind, status, error, body in db.execute(
            "SELECT sha256, kind, status, error, body FROM snapshots"):
        snaps[sha] = document_hash(kind, status, error, body or b"") == sha
        if not snaps[sha]:
            return False, 0, f"snapshot {sha[:12]} no longer matches its sha256 (body edited)"
    prev = GENESIS
    n = 0
    cur = db.execute(f"SELECT id, {', '.join(HASHED)}, prev_hash, hash FROM decisions "
                     "ORDER BY id")
    for rec in cur:
        row_id, values, stored_prev, stored = rec[0], rec[1:-2], rec[-2], rec[-1]
        row = dict(zip(HASHED, values, strict=True))
        if stored_prev != prev:
            return False, n, (f"decision id {row_id}: chain broken before it (a decision "
                              "was deleted or inserted)")
        refs = json.loads(row["snapshots"] or "{}")
        for sha in refs.values():
            if sha not in snaps:
                return False, n, f"decision id {row_id}: snapshot {sha[:12]} is missing"
        if row_hash(prev, row, refs.values()) != stored:
            return False, n, f"decision id {row_id}: fields edited (hash mismatch)"
        prev = stored
        n += 1
    head, count = db.execute("SELECT hash, count FROM chain_head WHERE id = 1").fetchone()
    if head != prev or count != n:
        return False, n, (f"chain head says {count} decisions ending {head[:12]}, found {n}: "
                          "decisions were deleted from the end")
    return True, n, ""
