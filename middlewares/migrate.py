"""Apply a file's pending sqlite-utils migrations under its write lock.

One runner for every SQLite file tdmguard owns (the ledger,
:mod:`tdmguard.middlewares.ledger`; the complaints register,
:mod:`tdmguard.policy.complaints.register`): WAL on, then pending migrations
applied in one ``BEGIN IMMEDIATE`` transaction and re-checked once the lock is
held, so processes creating one file at once take turns (issue 10, item 6).
Imports neither Scrapy nor Twisted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import sqlite_utils
from sqlite_utils.migrations import Migrations

__all__ = ["apply_pending"]


def apply_pending(conn: sqlite3.Connection, migrations: Migrations, busy_timeout: float,
                  check_tables: Callable[[set[str]], None]) -> None:
    """Apply *migrations*' pending steps to *conn*, waiting up to *busy_timeout*
    seconds for the write lock. Under the lock, *check_tables* gets the file's
    table names and raises if the file is not one these migrations may touch.

    A locked or busy file past the timeout, and any other SQLite error, is raised
    as it came; the caller turns it into its own one-line error.
    """
    db = sqlite_utils.Database(conn)
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            if not migrations.pending(db):
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                check_tables(set(db.table_names()))
                migrations.apply(db)  # reads what is applied again, under the lock
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or \
                    time.monotonic() > deadline:
                raise
            time.sleep(0.05)
