"""Ledger write speed and evidence latency, in one run.

    python benchmarks/bench_ledger.py [--decisions 200000] [--evidence-rows 1000000]
                                      [--dir DIR]

``--dir`` puts the files on another disk (e.g. ``/dev/shm`` to take the
disk out of the measure); the default is the system temp directory.

1. decisions/s written through ``Ledger.flush`` (hash chain, batches of
   ``TDMGUARD_DB_BATCH_SIZE``) against raw ``sqlite3.executemany`` of the very
   rows the ledger wrote (decisions with seq and hashes, and their
   decision_snapshots links) into the same schema, same batches (baseline).
   Targets: >= 50,000/s and >= 0.5 of raw.
2. ``evidence`` latency for one URL on a generated ledger of 1,000,000
   decisions (target < 50 ms).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from tdmguard.crawler.evidence import evidence_for_url  # noqa: E402
from tdmguard.middlewares.chain import CHAINED  # noqa: E402
from tdmguard.middlewares.ledger import Ledger, open_existing  # noqa: E402
from tdmguard.middlewares.settings import DEFAULTS  # noqa: E402
from tdmguard.middlewares.vocab import PERMITTED, Decision, Reason  # noqa: E402

BATCH = int(DEFAULTS["TDMGUARD_DB_BATCH_SIZE"])

REASON = [Reason("robots.txt", PERMITTED, "line 3: Allow: /", "http://s0.example/robots.txt",
                 "allowed by the longest matching rule")]
SNAP = {"robots.txt": "ab" * 32}


def decision(i: int) -> Decision:
    return Decision(url=f"http://s{i % 1000}.example/page/{i}", allowed=True, reasons=REASON,
                    at=f"2026-11-25T12:00:00.{i:06d}Z", origin=f"http://s{i % 1000}.example",
                    user_agent="BenchBot/0.1", tokens=("BenchBot",), stage="fetched",
                    status=200, content_sha256="cd" * 32, content_length=5000, snapshots=SNAP)


def ledger_run(path: str, n: int, batch: int = BATCH) -> float:
    ledger = Ledger(path, domain_of=lambda u: u.split("/")[2])
    ledger.start_crawl(started_at="2026-11-25T12:00:00Z")
    items = [decision(i) for i in range(n)]
    t = time.perf_counter()
    for i, d in enumerate(items, 1):
        ledger.add(d)
        if i % batch == 0:
            ledger.flush()
    ledger.flush()
    elapsed = time.perf_counter() - t
    ledger.close()
    return n / elapsed


DECISION_COLS = ("seq", *CHAINED["decisions"], "prev_hash", "hash")
LINK_COLS = ("decision_id", "kind", "snapshot_id", "fetch_id")


def same_rows(n: int) -> tuple[list[tuple], list[tuple]]:
    """The rows the ledger writes for ``decision(0..n-1)``, hashes and links
    included: taken from a ledger written beforehand, so the baseline stores
    exactly the same bytes and only skips the work of making them."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger_run(f"{tmp}/rows.db", n)
        conn = sqlite3.connect(f"{tmp}/rows.db")
        rows = conn.execute(f"SELECT {', '.join(DECISION_COLS)} FROM decisions "
                            "ORDER BY id").fetchall()
        links = conn.execute(f"SELECT {', '.join(LINK_COLS)} FROM decision_snapshots "
                             "ORDER BY decision_id").fetchall()
        conn.close()
    return rows, links


def raw_run(path: str, rows: list[tuple], links: list[tuple], batch: int = BATCH) -> float:
    Ledger(path).close()  # same schema, indexes and WAL mode
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA wal_autocheckpoint=20000")
    sql = (f"INSERT INTO decisions ({', '.join(DECISION_COLS)}) "
           f"VALUES ({', '.join('?' * len(DECISION_COLS))})")
    link_sql = (f"INSERT INTO decision_snapshots ({', '.join(LINK_COLS)}) "
                f"VALUES ({', '.join('?' * len(LINK_COLS))})")
    per = len(links) // max(1, len(rows))
    t = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[i:i + batch])
        conn.executemany(link_sql, links[i * per:(i + batch) * per])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t
    conn.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--evidence-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the ledger files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"files in {tmp}")
        ours, raw = [], []
        rows, links = same_rows(args.decisions)
        for r in range(args.rounds):
            raw.append(raw_run(f"{tmp}/raw{r}.db", rows, links))
            ours.append(ledger_run(f"{tmp}/ledger{r}.db", args.decisions))
        o, b = statistics.median(ours), statistics.median(raw)
        print(f"write, {args.decisions} decisions x {args.rounds} rounds (median), "
              f"batches of {BATCH} (TDMGUARD_DB_BATCH_SIZE):")
        print(f"  raw executemany: {b:,.0f} decisions/s")
        print(f"  tdmguard ledger (hash chain): {o:,.0f} decisions/s   ratio {o / b:.2f} "
              "(targets >= 50,000/s, >= 0.5)")
        path = f"{tmp}/big.db"
        t = time.perf_counter()
        ledger_run(path, args.evidence_rows, batch=5000)
        print(f"generated {args.evidence_rows:,} decisions in {time.perf_counter() - t:.1f} s")
        db = open_existing(path)
        times = []
        for i in range(0, args.evidence_rows, args.evidence_rows // 50):
            t = time.perf_counter()
            ev = evidence_for_url(db, f"http://s{i % 1000}.example/page/{i}")
            times.append((time.perf_counter() - t) * 1000)
            assert len(ev["records"]) == 1
        print(f"evidence latency over 50 URLs: median {statistics.median(times):.2f} ms, "
              f"max {max(times):.2f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
