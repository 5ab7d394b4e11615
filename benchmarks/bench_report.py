"""``tdmguard report`` over a ledger of 1,000,000 decisions: time to the HTML file.

    python benchmarks/bench_report.py [--decisions 1000000] [--domains 5000]
                                      [--dir DIR] [--keep PATH]

A ledger is generated through ``Ledger.flush`` (the real write path): three
crawls over 30 days, ``--domains`` registrable domains with a Zipf-like
share of the decisions each, every origin with its robots.txt snapshot, and
a realistic mix of outcomes (about 65% fetched, 25% refused before download
by robots.txt, tdmrep, a blocklist or ai.txt, 7% dropped after download by
noai or lawful access, 3% failed). Then ``report`` writes the HTML file (the
same function the command calls, ledger opened read-only as the command
does), timed three times; the median is the figure.

Baselines, measured in the same run on the same file:

- ``summary`` (the Markdown summary's data, :func:`tdmguard.crawler.evidence.summary`);
- one raw pass over every decision row (``SELECT sum(length(reasons)) FROM
  decisions``): the floor for anything that reads every decision once.

Target: ``report`` in under 10 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from tdmguard.crawler.report import write_report  # noqa: E402
from tdmguard.middlewares.ledger import Ledger, open_existing  # noqa: E402
from tdmguard.middlewares.snapshots import Snapshot  # noqa: E402
from tdmguard.middlewares.vocab import (  # noqa: E402
    PERMITTED,
    RESERVED,
    UNAVAILABLE,
    Decision,
    Reason,
)
from tdmguard.policy.training_summary import summary  # noqa: E402

ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: BenchBot\nDisallow: /no-ai/\n"
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30


def _outcomes(host: str) -> list[tuple[float, str, bool, list[Reason], int | None]]:
    """(cumulative share, stage, allowed, reasons, status) for one host."""
    robots = f"http://{host}/robots.txt"
    ok = Reason("robots.txt", PERMITTED, "line 2: Allow: /", robots, "allowed")
    return [
        (0.65, "fetched", True, [ok, Reason("tdmrep", UNAVAILABLE, "", "", "no tdmrep.json")],
         200),
        (0.80, "refused", False, [Reason("robots.txt", RESERVED, "line 5: Disallow: /no-ai/ "
                                         "(User-agent: BenchBot, line 4)", robots,
                                         "disallowed for our product token(s) BenchBot")],
         None),
        (0.85, "refused", False, [ok, Reason("tdmrep", RESERVED, "tdm-reservation: 1",
                                             f"http://{host}/.well-known/tdmrep.json",
                                             "TDM rights reserved")], None),
        (0.88, "refused", False, [Reason("blocklist", RESERVED, host, "bench-list",
                                         f"host {host} is listed")], None),
        (0.90, "refused", False, [ok, Reason("ai.txt", RESERVED, "Disallow: *",
                                             f"http://{host}/ai.txt", "ai.txt reserves")],
         None),
        (0.94, "dropped", False, [ok, Reason("noai", RESERVED, "X-Robots-Tag: noai",
                                             "X-Robots-Tag", "noai header")], 200),
        (0.97, "dropped", False, [ok, Reason("lawful-access", RESERVED, "HTTP 402", "status",
                                             "payment required")], 402),
        (1.01, "failed", False, [ok], None),
    ]


def generate(path: str, n: int, domains: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    hosts = [f"s{i}.example" for i in range(domains)]
    weights = [1 / (k + 1) ** 0.8 for k in range(domains)]
    picks = rng.choices(range(domains), weights, k=n)
    outcomes = [_outcomes(h) for h in hosts]
    step = timedelta(days=DAYS) / n
    per_crawl = -(-n // 3)
    ledger = Ledger(path, domain_of=lambda u: u.split("/")[2])
    snaps: dict[int, dict[str, str]] = {}
    for i in range(n):
        if i % per_crawl == 0:
            if i:
                ledger.finish_crawl((START + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            ledger.start_crawl(started_at=(START + step * i).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               user_agent="BenchBot/0.1", tokens=["BenchBot"], mode="strict",
                               purpose="train-ai", settings={"TDMGUARD_ROBOTSTXT_ENABLED": True},
                               blocklists=[{"name": "bench-list", "edition": "2026-11"}])
            snaps = {}
        k = picks[i]
        host = hosts[k]
        at = (START + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if k not in snaps:
            snap = Snapshot("robots.txt", f"http://{host}/robots.txt", f"http://{host}", at,
                            200, {}, ROBOTS)
            ledger.add_snapshot(snap)
            snaps[k] = {"robots.txt": snap.sha256}
        r = rng.random()
        share, stage, allowed, reasons, status = next(o for o in outcomes[k] if r < o[0])
        ledger.add(Decision(
            url=f"http://{host}/{stage}/{i}", allowed=allowed, reasons=reasons, at=at,
            origin=f"http://{host}", user_agent="BenchBot/0.1", tokens=("BenchBot",),
            stage=stage, status=status, content_length=5000 if status == 200 else None,
            content_sha256="cd" * 32 if status == 200 else None, snapshots=snaps[k],
            error="timeout" if stage == "failed" else None))
        if i % 5000 == 4999:
            ledger.flush()
    ledger.finish_crawl((START + timedelta(days=DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    ledger.close()


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median wall time and median CPU time (every thread of this process)."""
    times, cpu = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--domains", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the files go")
    parser.add_argument("--keep", default=None,
                        help="ledger path to reuse (generated when missing, kept afterwards)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = args.keep or os.path.join(tmp, "ledger.db")
        if not os.path.exists(path):
            t = time.perf_counter()
            generate(path, args.decisions, args.domains)
            print(f"generated {args.decisions:,} decisions over {args.domains:,} domains in "
                  f"{time.perf_counter() - t:.1f} s ({os.path.getsize(path) / 1e6:,.0f} MB)")
        out = os.path.join(tmp, "report.html")

        def report() -> None:
            db = open_existing(path)
            try:
                write_report([(path, db)], out)
            finally:
                db.close()

        def make_summary() -> object:
            db = open_existing(path)
            try:
                return summary(db)
            finally:
                db.close()

        def raw_pass() -> object:
            db = open_existing(path)
            try:
                return db.execute("SELECT sum(length(reasons)) FROM decisions").fetchone()
            finally:
                db.close()

        raw_pass()  # the file into the page cache, for every contender alike
        raw, raw_cpu = timed(raw_pass, args.rounds)
        summ, summ_cpu = timed(make_summary, args.rounds)
        rep, rep_cpu = timed(report, args.rounds)
        size = os.path.getsize(out)
        print(f"median of {args.rounds} rounds, ledger {os.path.getsize(path) / 1e6:,.0f} MB, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
        print(f"  raw pass over every decision row: {raw:.2f} s (CPU {raw_cpu:.2f} s)")
        print(f"  summary:                          {summ:.2f} s (CPU {summ_cpu:.2f} s)")
        print(f"  report:                           {rep:.2f} s (CPU {rep_cpu:.2f} s, "
              f"{size / 1e3:,.0f} KB of HTML; {rep / raw:.1f}x the raw pass, "
              f"{rep / summ:.2f}x summary; target < 10 s)")


if __name__ == "__main__":
    main()
