"""``tdmguard ledger merge``: several ledgers (one per worker) written as one file.

The merged file is a ledger like any other: one hash chain (``tdmguard
verify`` checks it), each source's records appended in their own chain order,
each rights document stored once. Each source keeps a verifiable chain inside
it: its rows keep their order and their ids shifted by a fixed offset per
table, and the merge appends one chained ``crawls`` row (no user agent,
dated as the last merged crawl, finish reason ``merged``) whose settings record,
per source, its path, file sha256, chain head (hash, seq, decisions), the id
offsets, and the few snapshot rows not copied because another source had the
same document. ``tdmguard ledger sources FILE`` recomputes every source's
chain from the merged rows and compares it with the head recorded at merge
time: a record edited, added or removed after the merge breaks both chains.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    TdmguardGroup,
    fail,
    ledger_files,
)
from tdmguard.crawler.output import emit, output_options, render
from tdmguard.middlewares.chain import CHAINED, GENESIS, encode, record_hash

#: How a merge record's settings start (compact JSON, sorted keys).
MERGE_PREFIX = '{"tdmguard_merge":'
#: Columns copied beside the chained ones (not in the hash, checked otherwise).
EXTRA = {"crawls": ("finished_at", "decisions", "finish_reason"), "snapshots": ("body",)}
#: Foreign ids per table: column -> the table it points to.
REFS = {"crawl_finishes": {"crawl_id": "crawls"},
        "snapshot_fetches": {"snapshot_id": "snapshots", "crawl_id": "crawls"},
        "decisions": {"crawl_id": "crawls"}}


class MergeError(Exception):
    """A source cannot be merged (one line for the user)."""


def _rows(conn: sqlite3.Connection) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every chained record of a ledger, in chain order."""
    def stream(table: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        names = [*CHAINED[table], *EXTRA.get(table, ())]
        for rec in conn.execute(f"SELECT seq, {', '.join(names)} FROM {table} "
                                "WHERE seq IS NOT NULL ORDER BY seq"):
            yield rec[0], table, dict(zip(names, rec[1:], strict=True))

    yield from heapq.merge(*(stream(t) for t in CHAINED), key=lambda r: r[0])


def _links(conn: sqlite3.Connection) -> dict[int, list[list[Any]]]:
    out: dict[int, list[list[Any]]] = {}
    for did, kind, sid, fid in conn.execute(
            "SELECT decision_id, kind, snapshot_id, fetch_id FROM decision_snapshots"):
        out.setdefault(did, []).append([kind, sid, fid])
    return out


def _file_sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _check_source(path: str) -> sqlite3.Connection:
    from tdmguard.middlewares.ledger import LedgerError, open_existing, verify
    from tdmguard.middlewares.migrations import MIGRATIONS

    try:
        db = open_existing(path)
    except LedgerError as exc:
        raise MergeError(str(exc)) from None
    if MIGRATIONS.pending(db):
        raise MergeError(f"{path} is an older ledger: open it with a crawl (or "
                         "Ledger(path)) once to upgrade it, then merge")
    if db.execute("SELECT 1 FROM decisions WHERE seq IS NULL LIMIT 1").fetchone():
        raise MergeError(f"{path} holds decisions from before the one-chain ledger "
                         "(migration 004): merge does not support them")
    ok, _n, problem = verify(db)
    if not ok:
        raise MergeError(f"{path} does not verify, so it is not merged: {problem}")
    conn: sqlite3.Connection = db.conn
    return conn


def merge(out: str, sources: list[str]) -> dict[str, Any]:
    """Write *sources* into the new ledger *out*; the merge record's settings."""
    from tdmguard.middlewares.ledger import Ledger
    from tdmguard.middlewares.settings import tdmguard_version

    if os.path.exists(out):
        raise MergeError(f"{out} exists: merge writes a new ledger file")
    if os.path.realpath(out) in {os.path.realpath(s) for s in sources}:
        raise MergeError("the output is one of the sources")
    conns = [(path, _check_source(path)) for path in sources]
    Ledger(out).close()
    conn = sqlite3.connect(out, isolation_level=None)
    record: dict[str, Any] = {"tdmguard_merge": {"sources": []}}
    try:
        conn.execute("BEGIN IMMEDIATE")
        head = list(conn.execute("SELECT hash, seq, count FROM chain_head WHERE id = 1")
                    .fetchone())

        def insert(table: str, row: dict[str, Any], links: list[list[Any]] | None = None
                   ) -> None:
            head[1] += 1
            digest = record_hash(head[0], head[1], table, [row[c] for c in CHAINED[table]],
                                 links)
            full = {**row, "seq": head[1], "prev_hash": head[0], "hash": digest}
            conn.execute(f"INSERT INTO {table} ({', '.join(full)}) "
                         f"VALUES ({', '.join('?' * len(full))})", list(full.values()))
            head[0] = digest

        #: Per table, the end of the id block given to the sources so far (a
        #: source whose last snapshots were all shared leaves its block empty
        #: at the end: the next one must not start inside it).
        reserved = dict.fromkeys(CHAINED, 0)

        def next_free(table: str) -> int:
            top_id: int = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}"
                                       ).fetchone()[0]
            return max(top_id, reserved[table])

        for path, src in conns:
            offsets = {t: next_free(t) for t in CHAINED}
            top = {t: src.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
                   for t in CHAINED}
            sha_ids = dict(conn.execute("SELECT sha256, id FROM snapshots").fetchall())
            links = _links(src)
            snap_map: dict[int, int] = {}
            shared: list[dict[str, Any]] = []
            first_prev = None
            for seq, table, row in _rows(src):
                if first_prev is None:
                    first_prev = src.execute(f"SELECT prev_hash FROM {table} WHERE seq = ?",
                                             (seq,)).fetchone()[0]
                source_id = row["id"]
                if table == "snapshots" and row["sha256"] in sha_ids:
                    snap_map[source_id] = sha_ids[row["sha256"]]
                    shared.append({"seq": seq, "merged_id": snap_map[source_id],
                                   "values": [row[c] for c in CHAINED[table]]})
                    continue
                row = dict(row, id=source_id + offsets[table])
                for col, target in REFS.get(table, {}).items():
                    if row[col] is None:
                        continue
                    if target == "snapshots":
                        row[col] = snap_map[row[col]]
                    else:
                        row[col] += offsets[target]
                if table == "snapshots":
                    snap_map[source_id] = row["id"]
                    sha_ids[row["sha256"]] = row["id"]
                own = None
                if table == "decisions":
                    own = [[k, None if s is None else snap_map[s],
                            None if f is None else f + offsets["snapshot_fetches"]]
                           for k, s, f in links.get(source_id, [])]
                    conn.executemany("INSERT INTO decision_snapshots (decision_id, kind, "
                                     "snapshot_id, fetch_id) VALUES (?, ?, ?, ?)",
                                     [(row["id"], *link) for link in own])
                    head[2] += 1
                insert(table, row, own)
            for t in CHAINED:
                reserved[t] = offsets[t] + top[t]
            src_head = src.execute("SELECT hash, seq, count FROM chain_head WHERE id = 1"
                                   ).fetchone()
            record["tdmguard_merge"]["sources"].append({
                "path": os.path.abspath(path), "file_sha256": _file_sha256(path),
                "head_hash": src_head[0], "head_seq": src_head[1], "decisions": src_head[2],
                "first_prev_hash": first_prev or GENESIS,
                "ids": {t: [offsets[t], top[t]] for t in CHAINED}, "shared_snapshots": shared})
        record["tdmguard_merge"]["merged_at"] = \
            datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
        # Dated as the last merged crawl, so the collection period stays the
        # crawls' own; no user agent or tokens: it is not a crawl of anything.
        now = conn.execute("SELECT max(coalesce(finished_at, started_at)) FROM crawls"
                           ).fetchone()[0] or record["tdmguard_merge"]["merged_at"]
        crawl_id = next_free("crawls") + 1
        insert("crawls", {"id": crawl_id, "started_at": now,
                          "tdmguard_version": tdmguard_version(), "user_agent": "",
                          "tokens": "[]", "mode": None, "purpose": None,
                          "settings": encode(record), "blocklists": "[]", "psl_version": None,
                          "finished_at": now, "decisions": 0, "finish_reason": "merged"})
        fin_id = next_free("crawl_finishes") + 1
        insert("crawl_finishes", {"id": fin_id, "crawl_id": crawl_id, "finished_at": now,
                                  "reason": "merged", "decisions": 0})
        conn.execute("UPDATE chain_head SET hash = ?, seq = ?, count = ? WHERE id = 1", head)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        os.remove(out)
        raise
    conn.close()
    for _, src in conns:
        src.close()
    return record


def check_sources(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Recompute each merged source's chain from the merged rows: one result
    per source (``ok``, ``problem``)."""
    results = []
    for (settings,) in conn.execute("SELECT settings FROM crawls WHERE settings LIKE ?",
                                    (MERGE_PREFIX + "%",)).fetchall():
        for source in json.loads(settings)["tdmguard_merge"]["sources"]:
            results.append({"source": source["path"], **_check_one(conn, source)})
    return results


def _check_one(conn: sqlite3.Connection, source: dict[str, Any]) -> dict[str, Any]:
    ids = source["ids"]
    back = {t: (lambda v, o=ids[t][0]: v - o) for t in CHAINED}
    shared = {s["seq"]: s for s in source["shared_snapshots"]}
    merged_to_source = {s["merged_id"]: s["values"][0] for s in shared.values()}
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for table, cols in CHAINED.items():
        lo, hi = ids[table][0], ids[table][0] + ids[table][1]
        for rec in conn.execute(f"SELECT seq, {', '.join(cols)} FROM {table} "
                                "WHERE id > ? AND id <= ? ORDER BY seq", (lo, hi)):
            rows.append((rec[0], table, dict(zip(cols, rec[1:], strict=True))))
    rows.sort(key=lambda r: r[0])
    links = _links(conn)
    prev, n, it = source["first_prev_hash"], 0, iter(rows)
    seq = 0
    while seq < source["head_seq"]:
        seq += 1
        if seq in shared:
            table, values, own = "snapshots", shared[seq]["values"], None
        else:
            got = next(it, None)
            if got is None:
                return {"ok": False, "problem": f"record {seq} is missing (deleted)"}
            _mseq, table, row = got
            merged_id = row["id"]
            row["id"] = back[table](row["id"])
            for col, target in REFS.get(table, {}).items():
                if row[col] is None:
                    continue
                if target == "snapshots" and not ids["snapshots"][0] < row[col] <= \
                        ids["snapshots"][0] + ids["snapshots"][1]:
                    row[col] = merged_to_source.get(row[col], -1)
                else:
                    row[col] = back[target](row[col])
            values = [row[c] for c in CHAINED[table]]
            own = None
            if table == "decisions":
                n += 1
                own = [[k, merged_to_source.get(s, s - ids["snapshots"][0])
                        if s is not None else None,
                        None if f is None else f - ids["snapshot_fetches"][0]]
                       for k, s, f in links.get(merged_id, [])]
        prev = record_hash(prev, seq, table, values, own)
    if next(it, None) is not None:
        return {"ok": False, "problem": "records were added to this source's rows"}
    if prev != source["head_hash"] or n != source["decisions"]:
        return {"ok": False, "problem": f"the chain recomputed from the merged rows ends "
                f"{prev[:12]} with {n} decisions; the merge recorded {source['head_hash'][:12]} "
                f"with {source['decisions']} (a record was edited)"}
    return {"ok": True, "problem": ""}


@click.group(cls=TdmguardGroup, context_settings=CONTEXT_SETTINGS)
def ledger() -> None:
    """Ledger files as files: merge several into one, check a merged one.

    \b
    Example:
        tdmguard ledger merge all.db ledgers/
        tdmguard ledger sources all.db
    """


@ledger.command(context_settings=CONTEXT_SETTINGS)
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("sources", nargs=-1, required=True, type=click.Path())
def merge_cmd(out: str, sources: tuple[str, ...]) -> None:
    """Write the ledgers SOURCES (files, or directories of *.db) as one new
    ledger OUT: one chain that ``tdmguard verify`` checks, each source's
    records in their own order, each source's chain still recomputable
    (``tdmguard ledger sources OUT``). Every source must verify first.

    \b
    Example:
        tdmguard ledger merge all.db ledgers/worker1.db ledgers/worker2.db
    """
    files = ledger_files(sources)
    try:
        record = merge(out, files)
    except MergeError as exc:
        raise fail(str(exc)) from None
    srcs = record["tdmguard_merge"]["sources"]
    click.echo(f"{out}: {len(srcs)} ledgers, "
               f"{sum(s['decisions'] for s in srcs)} decisions", err=True)


merge_cmd.name = "merge"


@ledger.command(context_settings=CONTEXT_SETTINGS)
@click.argument("path", type=click.Path(dir_okay=False))
@output_options(help="table: one line per source; the others one record per source: "
                "source, ok, problem.")
def sources(path: str, fmt: str) -> None:
    """Recompute, from a merged ledger's rows, the chain of every ledger merged
    into it, and compare it with the head recorded at merge time. Exit 1 when
    any differs.

    \b
    Example:
        tdmguard ledger sources all.db
    """
    from tdmguard.middlewares.ledger import LedgerError, open_existing

    try:
        db = open_existing(path)
    except LedgerError as exc:
        raise fail(str(exc)) from None
    results = check_sources(db.conn)
    db.close()
    if not results:
        raise fail(f"{path} is not a merged ledger (no merge record)")
    emit(render(results, fmt, columns=("source", "ok", "problem"),
                table=lambda rows: "\n".join(
                    f"{'ok ' if r['ok'] else 'BAD'} {r['source']}  {r['problem']}"
                    for r in rows)))
    if not all(r["ok"] for r in results):
        raise SystemExit(EXIT_PROBLEM)
