"""The audit's store: the ``audits`` and ``audit_rows`` tables of a ledger file.

:class:`Store` opens (creating or migrating) a ledger file, names an audit by
the key of its inputs and options (so a re-run resumes it), buffers row
verdicts and writes them ``BATCH`` at a time, keyed by input order, and
summarises them. The CLI uses it before and after the crawl;
:mod:`tdmguard.crawler.audit_engine`'s spider writes the rows during it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from tdmguard.middlewares.chain import encode
from tdmguard.middlewares.snapshots import utcnow

#: Rows between store writes and between yields to the reactor.
BATCH = 2000

ROW_COLUMNS = ("audit_id", "idx", "input", "row", "url", "origin", "domain", "fetch_time",
               "verdict", "allowed", "complete", "stage", "status", "protocols", "reasons",
               "snapshots", "crawl_id", "decided_at", "history_flag", "history_allowed",
               "history_captured_at", "history_snapshot", "history_reasons", "error")
_INSERT = (f"INSERT OR REPLACE INTO audit_rows ({', '.join(ROW_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})")


class Store:
    """The ``audits``/``audit_rows`` tables (migration 005) in a ledger file."""

    def __init__(self, path: str) -> None:
        from tdmguard.middlewares.ledger import Ledger

        Ledger(path).close()  # creates or migrates the file
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._rows: list[tuple[Any, ...]] = []

    def audit(self, key: str, inputs: list[dict[str, Any]], options: dict[str, Any],
              rows: int, origins: int) -> tuple[int, bool]:
        """The audit with *key* (id, resumed?), created when new."""
        found = self.conn.execute("SELECT id FROM audits WHERE key = ?", (key,)).fetchone()
        if found:
            return int(found[0]), True
        cur = self.conn.execute(
            "INSERT INTO audits (key, started_at, inputs, options, crawl_ids, rows, origins) "
            "VALUES (?, ?, ?, ?, '[]', ?, ?)",
            (key, utcnow(), encode(inputs), encode(options), rows, origins))
        return int(cur.lastrowid or 0), False

    def done(self, audit_id: int, total: int) -> bytearray:
        """One byte per row: 1 when the row is already decided (or skipped)."""
        flags = bytearray(total)
        for (idx,) in self.conn.execute("SELECT idx FROM audit_rows WHERE audit_id = ?",
                                        (audit_id,)):
            if 0 <= idx < total:
                flags[idx] = 1
        return flags

    def add(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        if len(self._rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(_INSERT, rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._rows[:0] = rows
            raise

    def add_crawl(self, audit_id: int, crawl_id: int | None) -> None:
        if crawl_id is None:
            return
        (ids,) = self.conn.execute("SELECT crawl_ids FROM audits WHERE id = ?",
                                   (audit_id,)).fetchone()
        known = json.loads(ids or "[]")
        if crawl_id not in known:
            self.conn.execute("UPDATE audits SET crawl_ids = ? WHERE id = ?",
                              (encode([*known, crawl_id]), audit_id))

    def decided(self, audit_id: int) -> int:
        return int(self.conn.execute("SELECT count(*) FROM audit_rows WHERE audit_id = ?",
                                     (audit_id,)).fetchone()[0])

    def summary(self, audit_id: int, origins: int, history: bool) -> dict[str, Any]:
        q = self.conn.execute
        counts = dict(q("SELECT verdict, count(*) FROM audit_rows WHERE audit_id = ? "
                        "GROUP BY verdict", (audit_id,)).fetchall())
        reserved = dict(q(
            "SELECT j.value, count(*) FROM audit_rows r, json_each(r.protocols) j "
            "WHERE r.audit_id = ? AND r.verdict = 'reserved' GROUP BY j.value "
            "ORDER BY count(*) DESC, j.value", (audit_id,)).fetchall())
        incomplete = q("SELECT count(*) FROM audit_rows WHERE audit_id = ? AND allowed = 1 "
                       "AND complete = 0", (audit_id,)).fetchone()[0]
        out: dict[str, Any] = {
            "rows": sum(counts.values()), "origins": origins,
            "allowed": counts.get("allowed", 0), "incomplete": incomplete,
            "reserved": counts.get("reserved", 0), "reserved_by_protocol": reserved,
            "unreachable": counts.get("unreachable", 0), "skipped": counts.get("skipped", 0)}
        if history:
            out["history"] = dict(q(
                "SELECT history_flag, count(*) FROM audit_rows WHERE audit_id = ? AND "
                "verdict != 'skipped' GROUP BY history_flag ORDER BY history_flag",
                (audit_id,)).fetchall())
        return out

    def finish(self, audit_id: int, summary: dict[str, Any], finished: bool) -> None:
        self.conn.execute("UPDATE audits SET summary = ?, finished_at = ? WHERE id = ?",
                          (encode(summary), utcnow() if finished else None, audit_id))

    def rows(self, audit_id: int) -> Iterator[sqlite3.Row]:
        self.conn.row_factory = sqlite3.Row
        yield from self.conn.execute(
            "SELECT * FROM audit_rows WHERE audit_id = ? AND verdict != 'skipped' "
            "ORDER BY idx", (audit_id,))

    def close(self) -> None:
        self.conn.close()
