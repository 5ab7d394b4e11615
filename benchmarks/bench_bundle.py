"""Evidence bundle for a domain with 100,000 decisions: written and checked.

    python benchmarks/bench_bundle.py [--decisions 100000] [--other 100000] [--dir DIR]

A ledger is generated through ``Ledger.flush`` (the real write path): one
domain with ``--decisions`` decisions citing its robots.txt snapshot, and
``--other`` decisions on 1,000 other domains interleaved with them, so the
chain stretch the bundle carries holds other records too. Then ``tdmguard
evidence --domain ... --bundle`` (the same function) writes the bundle and
``verify --bundle`` checks it. Baseline, in the same run: reading the same
decisions' rows with one SELECT and writing them as JSON lines into a zip,
i.e. the cost of the data alone without the chain stretch and documents.
Target: the bundle written in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from tdmguard.crawler.bundle import verify_bundle, write_bundle  # noqa: E402
from tdmguard.middlewares.ledger import Ledger, open_existing  # noqa: E402
from tdmguard.middlewares.snapshots import Snapshot  # noqa: E402
from tdmguard.middlewares.vocab import PERMITTED, RESERVED, Decision, Reason  # noqa: E402

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def generate(path: str, n: int, other: int) -> None:
    ledger = Ledger(path, domain_of=lambda u: u.split("/")[2])
    ledger.start_crawl(started_at="2026-12-06T12:00:00Z", settings={})
    snaps = {}
    for host in ["big.example"] + [f"s{i}.example" for i in range(1000)]:
        snap = Snapshot("robots.txt", f"http://{host}/robots.txt", f"http://{host}",
                        "2026-12-06T12:00:00Z", 200, {}, ROBOTS)
        ledger.add_snapshot(snap)
        snaps[host] = snap.sha256
    hosts = []  # the big domain's decisions interleaved with the others'
    for i in range(max(n, other)):
        hosts += ["big.example"] * (i < n) + [f"s{i % 1000}.example"] * (i < other)
    for i, host in enumerate(hosts):
        private = i % 10 == 0
        reasons = [Reason("robots.txt", RESERVED if private else PERMITTED,
                          "line 2: Disallow: /private/" if private else "",
                          f"http://{host}/robots.txt", "")]
        ledger.add(Decision(
            url=f"http://{host}/{'private' if private else 'page'}/{i}",
            allowed=not private, reasons=reasons, at=f"2026-12-06T12:00:{i:09d}Z",
            origin=f"http://{host}", user_agent="BenchBot/0.1", tokens=("BenchBot",),
            stage="refused" if private else "fetched", status=None if private else 200,
            content_length=None if private else 5000, snapshots={"robots.txt": snaps[host]}))
        if i % 5000 == 4999:
            ledger.flush()
    ledger.flush()
    ledger.finish_crawl("2026-12-06T13:00:00Z")
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--other", type=int, default=100_000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "ledger.db")
        t = time.perf_counter()
        generate(path, args.decisions, args.other)
        print(f"generated {args.decisions + args.other:,} decisions in "
              f"{time.perf_counter() - t:.1f} s")
        db = open_existing(path)
        ids = [i for (i,) in db.execute("SELECT id FROM decisions WHERE domain = ? ORDER BY id",
                                        ["big.example"])]
        assert len(ids) == args.decisions, len(ids)

        t = time.perf_counter()
        rows = list(db.query("SELECT * FROM decisions WHERE domain = ?", ["big.example"]))
        with zipfile.ZipFile(os.path.join(tmp, "plain.zip"), "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("decisions.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        baseline = time.perf_counter() - t

        bundle = os.path.join(tmp, "bundle.zip")
        t = time.perf_counter()
        manifest = write_bundle(bundle, {"domain": "big.example"}, [("ledger.db", db, ids)])
        written = time.perf_counter() - t
        t = time.perf_counter()
        ok, message = verify_bundle(bundle)
        checked = time.perf_counter() - t
        assert ok, message
        size = os.path.getsize(bundle) / 1e6
        led = manifest["ledgers"][0]
        print(f"baseline (rows only, JSON lines in a zip): {baseline:.2f} s")
        print(f"bundle for {len(ids):,} decisions ({led['records']:,} chain records, "
              f"{size:.1f} MB): written in {written:.2f} s ({written / baseline:.1f}x "
              f"baseline), checked in {checked:.2f} s; target < 10 s: "
              f"{'met' if written < 10 else 'NOT met'}")
        print(message)


if __name__ == "__main__":
    main()
