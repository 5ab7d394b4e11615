"""Ledger write speed and evidence latency, in one run.

    python benchmarks/bench_ledger.py [--decisions 200000] [--evidence-rows 1000000]

1. decisions/s written through ``Ledger.flush`` (hash chain, batches of 1,000)
   against raw ``sqlite3.executemany`` of the same rows into the same schema
   (baseline). Targets: >= 50,000/s and >= 0.3 of raw.
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

from crawler.evidence import evidence_for_url  # noqa: E402
from middlewares.ledger import HASHED, Ledger, open_existing  # noqa: E402
from middlewares.vocab import PERMITTED, Decision, Reason  # noqa: E402

REASON = [Reason("robots.txt", PERMITTED, "line 3: Allow: /", "http://s0.example/robots.txt",
                 "allowed by the longest matching rule")]
SNAP = {"robots.txt": "ab" * 32}


def decision(i: int) -> Decision:
    return Decision(url=f"http://s{i % 1000}.example/page/{i}", allowed=True, reasons=REASON,
                    at=f"2026-11-25T12:00:00.{i:06d}Z", origin=f"http://s{i % 1000}.example",
                    user_agent="BenchBot/0.1", tokens=("BenchBot",), stage="fetched",
                    status=200, content_sha256="cd" * 32, content_length=5000, snapshots=SNAP)


def ledger_run(path: str, n: int, batch: int = 1000) -> float:
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


def raw_run(path: str, n: int, batch: int = 1000) -> float:
    Ledger(path).close()  # same schema and WAL mode
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA wal_autocheckpoint=20000")
    cols = ", ".join((*HASHED, "prev_hash", "hash"))
    sql = f"INSERT INTO decisions ({cols}) VALUES ({', '.join('?' * (len(HASHED) + 2))})"
    items = [decision(i) for i in range(n)]
    t = time.perf_counter()
    rows = []
    for d in items:
        rows.append((1, d.at, d.url, d.origin, d.url.split("/")[2], d.user_agent,
                     '["BenchBot"]', d.purpose, 1, d.stage, '[{"protocol":"robots.txt"}]',
                     '{"robots.txt":"x"}', d.status, d.content_sha256, d.content_length,
                     "[]", None, "0" * 64, "1" * 64))
        if len(rows) == batch:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            rows = []
    if rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t
    conn.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--evidence-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours, raw = [], []
        for r in range(args.rounds):
            raw.append(raw_run(f"{tmp}/raw{r}.db", args.decisions))
            ours.append(ledger_run(f"{tmp}/ledger{r}.db", args.decisions))
        o, b = statistics.median(ours), statistics.median(raw)
        print(f"write, {args.decisions} decisions x {args.rounds} rounds (median):")
        print(f"  raw executemany: {b:,.0f} decisions/s")
        print(f"  tdmguard ledger (hash chain): {o:,.0f} decisions/s   ratio {o / b:.2f} "
              "(targets >= 50,000/s, >= 0.3)")
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
