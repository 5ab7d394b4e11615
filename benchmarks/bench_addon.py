"""Throughput of a Scrapy spider with the tdmguard add-on against the same
spider with plain ``ROBOTSTXT_OBEY = True``, on the same fixture web, runs
interleaved. Prints pages/s of each run (first to last response) and the
median ratio, and the time each took to its first response (start-up).

    python benchmarks/bench_addon.py [--pages 2000] [--rounds 5] [--db]

``--db`` also turns the ledger on for the tdmguard runs (``TDMGUARD_DB``).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

HOSTS = 10


def urls(pages: int) -> list[str]:
    return [f"http://site{i % HOSTS}.example/page/{i}" for i in range(pages)]


def serve(pages: int):
    from crawler.fixtureweb import FixtureWeb

    web = FixtureWeb()
    for h in range(HOSTS):
        web.add(f"http://site{h}.example/robots.txt",
                "User-agent: *\nDisallow: /private/\nAllow: /page/\n")
    body = "<html><head><title>p</title></head><body>" + "lorem ipsum " * 200 + "</body></html>"
    for url in urls(pages):
        web.add(url, body)
    return web.start()


def child(kind: str, pages: int, db: str | None) -> None:
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
        settings["ADDONS"] = {"middlewares.TdmGuard": 0}
        settings["TDMGUARD_USER_AGENT"] = "BenchBot"
        # Politeness defaults (per-origin delay) are a deliberate rate limit,
        # not check overhead: off here, so the ratio measures the checks.
        settings["TDMGUARD_POLITENESS_ENABLED"] = False
        if db:
            settings["TDMGUARD_DB"] = db
    from scrapy import signals

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Bench)
    seen: list[float] = []

    def scraped(response: object, **kwargs: object) -> None:
        seen.append(time.perf_counter())

    crawler.signals.connect(scraped, signal=signals.response_received)
    started = time.perf_counter()
    process.crawl(crawler)
    process.start()
    elapsed = time.perf_counter() - started
    pages = int(crawler.stats.get_value("response_received_count", 0))
    print(json.dumps({"kind": kind, "pages": pages, "seconds": elapsed,
                      "first": seen[0] - started, "steady": seen[-1] - seen[0]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", action="store_true", help="ledger on for tdmguard runs")
    parser.add_argument("--child", choices=["plain", "tdmguard"])
    parser.add_argument("--db-path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pages, args.db_path)
        return
    web = serve(args.pages)
    env = {**os.environ, "http_proxy": web.proxy_url, "PYTHONPATH": str(ROOT)}
    env.pop("no_proxy", None)
    rates: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    starts: dict[str, list[float]] = {"plain": [], "tdmguard": []}
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            row = {}
            # Alternate which goes first, so drift in the machine cancels out.
            for kind in (("plain", "tdmguard") if r % 2 == 0 else ("tdmguard", "plain")):
                cmd = [sys.executable, __file__, "--child", kind, "--pages", str(args.pages)]
                if kind == "tdmguard" and args.db:
                    cmd += ["--db-path", f"{tmp}/ledger-{r}.db"]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                # Throughput once crawling: first to last response. Start-up
                # (imports, list loading, engine start) is reported apart.
                rate = (result["pages"] - 1) / result["steady"]
                rates[kind].append(rate)
                starts[kind].append(result["first"])
                row[kind] = rate
            ratios.append(row["tdmguard"] / row["plain"])
            print(f"round {r + 1}: plain {row['plain']:.0f} pages/s, tdmguard "
                  f"{row['tdmguard']:.0f} pages/s, ratio {ratios[-1]:.3f}")
    web.stop()
    print(f"pages per run: {args.pages} over {HOSTS} origins; ledger: {'on' if args.db else 'off'}")
    print(f"median plain: {statistics.median(rates['plain']):.0f} pages/s")
    print(f"median tdmguard: {statistics.median(rates['tdmguard']):.0f} pages/s")
    print(f"median ratio tdmguard/plain: {statistics.median(ratios):.3f} (target >= 0.95)")
    print(f"median time to first response: plain {statistics.median(starts['plain']):.2f} s, "
          f"tdmguard {statistics.median(starts['tdmguard']):.2f} s")


if __name__ == "__main__":
    main()
