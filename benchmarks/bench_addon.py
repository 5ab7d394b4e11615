"""Throughput of a Scrapy spider with the tdmguard add-on against the same
spider with plain ``ROBOTSTXT_OBEY = True``, on the same fixture web, runs
interleaved with alternating order. Prints, per round and as medians:

- steady-state pages/s, from the 10th to the 90th percentile page response
  (the target's figure: start-up and the last stragglers are left out of
  both), with the crawler's CPU time per page in the same window;
- whole-run pages/s, from the start of the crawl to the last page (engine
  start, add-on set-up and list loading, each origin's rights documents all
  included; only the ``import scrapy`` before it is not);
- the time to the first page.

    python benchmarks/bench_addon.py [--pages 2000] [--rounds 11] [--db [--warc]] [--sign]

``--db`` also turns the ledger on for the tdmguard runs (``TDMGUARD_DB``);
``--warc`` with it writes every response to a WARC file as well (``TDMGUARD_WARC``).
``--sign`` also signs every tdmguard request (Web Bot Auth, ``TDMGUARD_SIGNING_KEY``
with a key made for the run), checks that every request the fixture web saw
from those runs carried a signature, and prints the signer's own cost per
request (target with signing on: >= 0.9 of plain Scrapy).
Each run is its own process (Twisted's reactor starts once per process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

HOSTS = 10


def urls(pages: int) -> list[str]:
    return [f"http://site{i % HOSTS}.example/page/{i}" for i in range(pages)]


def serve(pages: int):
    from tdmguard.crawler.fixtureweb import FixtureWeb

    web = FixtureWeb()
    for h in range(HOSTS):
        web.add(f"http://site{h}.example/robots.txt",
                "User-agent: *\nDisallow: /private/\nAllow: /page/\n")
    body = "<html><head><title>p</title></head><body>" + "lorem ipsum " * 200 + "</body></html>"
    for url in urls(pages):
        web.add(url, body)
    return web.start()


def child(kind: str, pages: int, db: str | None, sign_key: str | None = None,
          warc: bool = False) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    targets = urls(pages)

    class Bench(scrapy.Spider):
        name = "bench"

        async def start(self):
            for u in targets:
                yield scrapy.Request(u, callback=self.parse)

        def parse(self, response):
            return None

    settings = {
        "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "COOKIES_ENABLED": False,
    }
    if kind == "plain":
        settings["ROBOTSTXT_OBEY"] = True
    else:
        settings["ADDONS"] = {"tdmguard.TdmGuard": 0}
        settings["TDMGUARD_USER_AGENT"] = "BenchBot"
        # Politeness defaults (per-origin delay) are a deliberate rate limit,
        # not check overhead: off here, so the ratio measures the checks.
        settings["TDMGUARD_POLITENESS_ENABLED"] = False
        if db:
            settings["TDMGUARD_DB"] = db
            if warc:
                settings["TDMGUARD_WARC"] = db + ".warc.gz"
        if sign_key:
            settings["TDMGUARD_SIGNING_KEY"] = sign_key
            settings["TDMGUARD_SIGNATURE_AGENT"] = "https://bench.example"
    from scrapy import signals

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Bench)
    # (wall, cpu) at each response for one of the benchmark's pages; the
    # rights documents (robots.txt, tdmrep.json, ai.txt) are not counted.
    seen: list[tuple[float, float]] = []

    def received(response: Any, request: Any, **kwargs: object) -> None:
        if "/page/" in response.url:
            seen.append((time.perf_counter(), time.process_time()))

    crawler.signals.connect(received, signal=signals.response_received)
    started = time.perf_counter()
    process.crawl(crawler)
    process.start()
    lo, hi = seen[len(seen) // 10], seen[(9 * len(seen)) // 10]
    print(json.dumps({
        "kind": kind, "pages": len(seen),
        "steady_pages": (9 * len(seen)) // 10 - len(seen) // 10,
        "steady_seconds": hi[0] - lo[0], "steady_cpu": hi[1] - lo[1],
        "first": seen[0][0] - started, "whole_seconds": seen[-1][0] - started,
        "signed": crawler.stats.get_value("tdmguard/signing/signed", 0),
    }))


def signer_cost() -> tuple[float, float]:
    """Microseconds per request for the signer alone: a new (authority,
    second) each time (a real signature), and the same one (reused headers)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tdmguard.middlewares.signing import RequestSigner

    ticks = iter(range(10**9))
    signer = RequestSigner(Ed25519PrivateKey.generate(), "https://bench.example",
                           clock=lambda: next(ticks))
    n = 2000
    t = time.perf_counter()
    for i in range(n):
        signer.headers("http", f"site{i}.example")
    fresh = (time.perf_counter() - t) / n * 1e6
    signer = RequestSigner(Ed25519PrivateKey.generate(), "https://bench.example",
                           clock=lambda: 0)
    t = time.perf_counter()
    for i in range(n * 10):
        signer.headers("http", f"site{i % HOSTS}.example")
    return fresh, (time.perf_counter() - t) / (n * 10) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--db", action="store_true", help="ledger on for tdmguard runs")
    parser.add_argument("--sign", action="store_true",
                        help="sign every tdmguard request (Web Bot Auth)")
    parser.add_argument("--sign-key")
    parser.add_argument("--warc", action="store_true",
                        help="with --db: also write every response to a WARC file")
    parser.add_argument("--child", choices=["plain", "tdmguard"])
    parser.add_argument("--db-path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pages, args.db_path, args.sign_key, args.warc)
        return
    web = serve(args.pages)
    env = {**os.environ, "http_proxy": web.proxy_url, "PYTHONPATH": str(ROOT)}
    env.pop("no_proxy", None)
    steady: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    whole: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    cpu_ms: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    firsts: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    ratios, whole_ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            # Alternate which goes first, so drift in the machine cancels out.
            for kind in (("plain", "tdmguard") if r % 2 == 0 else ("tdmguard", "plain")):
                cmd = [sys.executable, __file__, "--child", kind, "--pages", str(args.pages)]
                if kind == "tdmguard" and args.db:
                    cmd += ["--db-path", f"{tmp}/ledger-{r}.db"]
                    if args.warc:
                        cmd.append("--warc")
                if kind == "tdmguard" and args.sign:
                    if not os.path.exists(f"{tmp}/key.pem"):
                        from tdmguard.policy.keys import generate_key

                        generate_key(f"{tmp}/key.pem")
                    cmd += ["--sign-key", f"{tmp}/key.pem"]
                logged = len(web.log)
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0 or not out.stdout.strip():
                    sys.exit(f"{kind} run failed:\n{out.stderr[-3000:]}")
                res = json.loads(out.stdout.strip().splitlines()[-1])
                if res["pages"] != args.pages:
                    sys.exit(f"{kind} run fetched {res['pages']} of {args.pages} pages")
                if kind == "tdmguard" and args.sign:
                    unsigned = [r.url for r in web.log[logged:] if "Signature" not in r.headers]
                    if unsigned or res["signed"] < args.pages:
                        sys.exit(f"signed run: {res['signed']} signed, unsigned: {unsigned[:3]}")
                steady[kind].append(res["steady_pages"] / res["steady_seconds"])
                whole[kind].append(res["pages"] / res["whole_seconds"])
                cpu_ms[kind].append(1000 * res["steady_cpu"] / res["steady_pages"])
                firsts[kind].append(res["first"])
            ratios.append(steady["tdmguard"][-1] / steady["plain"][-1])
            whole_ratios.append(whole["tdmguard"][-1] / whole["plain"][-1])
            print(f"round {r + 1}: steady plain {steady['plain'][-1]:.0f}, tdmguard "
                  f"{steady['tdmguard'][-1]:.0f} pages/s, ratio {ratios[-1]:.3f}; whole run "
                  f"plain {whole['plain'][-1]:.0f}, tdmguard {whole['tdmguard'][-1]:.0f} "
                  f"pages/s, ratio {whole_ratios[-1]:.3f}")
    web.stop()
    med = statistics.median
    print(f"pages per run: {args.pages} over {HOSTS} origins; ledger: {'on' if args.db else 'off'}"
          f"; signing: {'on' if args.sign else 'off'}")
    print(f"steady state (10th to 90th percentile page): plain {med(steady['plain']):.0f} "
          f"pages/s, tdmguard {med(steady['tdmguard']):.0f} pages/s, median ratio "
          f"{med(ratios):.3f} (target >= {0.9 if args.sign else 0.95})")
    print(f"  crawler CPU per page: plain {med(cpu_ms['plain']):.2f} ms, "
          f"tdmguard {med(cpu_ms['tdmguard']):.2f} ms")
    print(f"whole run (crawl start to last page, start-up included): plain "
          f"{med(whole['plain']):.0f} pages/s, tdmguard {med(whole['tdmguard']):.0f} pages/s, "
          f"median ratio {med(whole_ratios):.3f}")
    print(f"time to first page: plain {med(firsts['plain']):.2f} s, "
          f"tdmguard {med(firsts['tdmguard']):.2f} s")
    if args.sign:
        fresh, reused = signer_cost()
        print(f"signer alone, per request: {fresh:.0f} us for a new signature, "
              f"{reused:.1f} us reusing one (same authority, same second)")


if __name__ == "__main__":
    main()
