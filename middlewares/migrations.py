"""The ledger's schema: sqlite-utils migrations, append-only (README, "The ledger").

Each runs once per file, recorded in ``_sqlite_migrations`` (set ``tdmguard``);
:class:`~tdmguard.middlewares.ledger.Ledger` applies them under one write lock,
so processes opening a new file at once never race.
"""

from __future__ import annotations

import json

import sqlite_utils
from sqlite_utils.migrations import Migrations

from tdmguard.middlewares.chain import CHAINED, GENESIS, record_hash
from tdmguard.middlewares.snapshots import origin_of

MIGRATIONS = Migrations("tdmguard")


@MIGRATIONS(name="001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db.table("crawls").create({
        "id": int, "started_at": str, "finished_at": str, "tdmguard_version": str,
        "user_agent": str, "tokens": str, "mode": str, "purpose": str, "settings": str,
        "blocklists": str, "psl_version": str, "decisions": int,
    }, pk="id")
    db.table("snapshots").create({
        "id": int, "sha256": str, "kind": str, "url": str, "origin": str,
        "fetched_at": str, "status": int, "headers": str, "body": bytes, "error": str,
        "redirects": str,
    }, pk="id")
    db.table("snapshots").create_index(["sha256"], unique=True)
    db.table("snapshots").create_index(["origin", "kind"])
    db.table("snapshot_fetches").create({
        "id": int, "snapshot_id": int, "crawl_id": int, "url": str, "fetched_at": str,
    }, pk="id", foreign_keys=[("snapshot_id", "snapshots", "id"), ("crawl_id", "crawls", "id")])
    db.table("snapshot_fetches").create_index(["snapshot_id"])
    db.table("decisions").create({
        "id": int, "crawl_id": int, "at": str, "url": str, "origin": str, "domain": str,
        "user_agent": str, "tokens": str, "purpose": str, "allowed": int, "stage": str,
        "reasons": str, "snapshots": str, "status": int, "content_sha256": str,
        "content_length": int, "redirect_urls": str, "error": str, "prev_hash": str,
        "hash": str,
    }, pk="id", foreign_keys=[("crawl_id", "crawls", "id")])
    db.table("decisions").create_index(["url", "at"])
    db.table("decisions").create_index(["domain"])
    db.table("chain_head").create({"id": int, "hash": str, "count": int}, pk="id")
    db.table("chain_head").insert({"id": 1, "hash": GENESIS, "count": 0})


@MIGRATIONS(name="002_wal", transactional=False)
def _wal(db: sqlite_utils.Database) -> None:
    db.enable_wal()


@MIGRATIONS(name="003_url_index")
def _url_index(db: sqlite_utils.Database) -> None:
    # Look-ups by url need only the url: an (url, at) index spent a third more
    # pages on every insert, and the few rows of one url sort in no time.
    db.execute("DROP INDEX IF EXISTS idx_decisions_url_at")
    db.table("decisions").create_index(["url"], if_not_exists=True)


def text_or_bytes(body: bytes | None) -> str | bytes | None:
    """A document body as stored: TEXT when it is UTF-8 (readable in Datasette
    and sqlite3), else BLOB. Either way the exact bytes come back."""
    if body is None:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    return body if "\x00" in text else text


@MIGRATIONS(name="004_one_chain")
def _one_chain(db: sqlite_utils.Database) -> None:
    """One chain over crawls, their finishes, snapshots, fetches and decisions;
    per-fetch URL and origin; the decision_snapshots link table; text bodies."""
    chained = {"seq": int, "prev_hash": str, "hash": str}
    for table in ("crawls", "snapshots", "snapshot_fetches"):
        for col, typ in chained.items():
            db.table(table).add_column(col, typ)
    db.table("crawls").add_column("finish_reason", str)
    db.table("decisions").add_column("seq", int)
    db.table("chain_head").add_column("seq", int)
    for col in ("sha256", "kind", "origin", "headers", "redirects"):
        db.table("snapshot_fetches").add_column(col, str)
    db.table("crawl_finishes").create({
        "id": int, "crawl_id": int, "finished_at": str, "reason": str, "decisions": int,
        **chained,
    }, pk="id", foreign_keys=[("crawl_id", "crawls", "id")])
    db.table("crawl_finishes").create_index(["crawl_id"], unique=True)
    db.table("decision_snapshots").create({
        "decision_id": int, "kind": str, "snapshot_id": int, "fetch_id": int,
    }, pk=("decision_id", "kind"), foreign_keys=[
        ("decision_id", "decisions", "id"), ("snapshot_id", "snapshots", "id"),
        ("fetch_id", "snapshot_fetches", "id")])
    conn = db.conn
    # Fetches recorded before: their document's sha256 and kind, their own origin.
    for fid, url in conn.execute("SELECT id, url FROM snapshot_fetches").fetchall():
        conn.execute("UPDATE snapshot_fetches SET origin = ?, (sha256, kind) = (SELECT sha256, "
                     "kind FROM snapshots s WHERE s.id = snapshot_id) WHERE id = ?",
                     (origin_of(url or ""), fid))
    for sid, body in conn.execute("SELECT id, body FROM snapshots").fetchall():
        if isinstance(body, bytes) and not isinstance(text_or_bytes(body), bytes):
            conn.execute("UPDATE snapshots SET body = ? WHERE id = ?", (text_or_bytes(body), sid))
    ids = dict(conn.execute("SELECT sha256, id FROM snapshots").fetchall())
    for did, crawl_id, at, snaps in conn.execute(
            "SELECT id, crawl_id, at, snapshots FROM decisions ORDER BY id").fetchall():
        for kind, sha in sorted(json.loads(snaps or "{}").items()):
            sid = ids.get(sha)
            fetch = conn.execute(
                "SELECT id FROM snapshot_fetches WHERE snapshot_id = ? AND crawl_id IS ? AND "
                "fetched_at <= ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
                (sid, crawl_id, at)).fetchone()
            conn.execute("INSERT INTO decision_snapshots VALUES (?, ?, ?, ?)",
                         (did, kind, sid, fetch[0] if fetch else None))
    for cid, fin, count in conn.execute(
            "SELECT id, finished_at, decisions FROM crawls WHERE finished_at IS NOT NULL "
            "ORDER BY id").fetchall():
        conn.execute("INSERT INTO crawl_finishes (crawl_id, finished_at, reason, decisions) "
                     "VALUES (?, ?, NULL, ?)", (cid, fin, count))
    # Records from before join the chain now, after the decisions-only chain's end.
    prev, seq = conn.execute("SELECT hash, 0 FROM chain_head WHERE id = 1").fetchone()
    for table in ("crawls", "crawl_finishes", "snapshots", "snapshot_fetches"):
        cols = CHAINED[table]
        for rec in conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id").fetchall():
            seq += 1
            digest = record_hash(prev, seq, table, rec)
            conn.execute(f"UPDATE {table} SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
                         (seq, prev, digest, rec[0]))
            prev = digest
    conn.execute("UPDATE chain_head SET hash = ?, seq = ? WHERE id = 1", (prev, seq))


@MIGRATIONS(name="005_audits")
def _audits(db: sqlite_utils.Database) -> None:
    """``tdmguard audit``: one row per audit, one per input row (README, "Audits").

    Not chained: each row's verdict is also a chained ``decisions`` row of the
    audit's crawl; these tables index them by input row, for resuming and reports.
    """
    db.table("audits").create({
        "id": int, "key": str, "started_at": str, "finished_at": str, "inputs": str,
        "options": str, "crawl_ids": str, "rows": int, "origins": int, "summary": str,
    }, pk="id")
    db.table("audits").create_index(["key"], unique=True)
    db.table("audit_rows").create({
        "audit_id": int, "idx": int, "input": str, "row": int, "url": str, "origin": str,
        "domain": str, "fetch_time": str, "verdict": str, "allowed": int, "complete": int,
        "stage": str, "status": int, "protocols": str, "reasons": str, "snapshots": str,
        "crawl_id": int, "decided_at": str, "history_flag": str, "history_allowed": int,
        "history_captured_at": str, "history_snapshot": str, "history_reasons": str,
        "error": str,
    }, pk=("audit_id", "idx"), foreign_keys=[("audit_id", "audits", "id")])
    db.table("audit_rows").create_index(["audit_id", "origin"])


@MIGRATIONS(name="006_warc_records")
def _warc_records(db: sqlite_utils.Database) -> None:
    """Where each WARC record a crawl wrote (``TDMGUARD_WARC``) sits: a page's,
    by its decision, and a rights document's, by its snapshot sha256. A pointer
    index beside the chain, not in it: the WARC file carries its own digests."""
    db.table("warc_records").create({
        "id": int, "crawl_id": int, "decision_id": int, "kind": str, "sha256": str,
        "target_uri": str, "warc_date": str, "filename": str, "offset": int, "length": int,
        "record_id": str,
    }, pk="id", foreign_keys=[("crawl_id", "crawls", "id"),
                              ("decision_id", "decisions", "id")])
    db.table("warc_records").create_index(["decision_id"])
    db.table("warc_records").create_index(["sha256"])
