"""Distributed crawls: tdmguard's workers against plain scrapy-redis workers.

Part 1, throughput: the same link-following spider over the same fixture web
(``--pages`` pages on 6 origins, each page linking to 4 more), run by 1, 2
and 4 worker processes sharing one redis-server, politeness off in both:

- plain: scrapy-redis 0.9.1's scheduler and dupe filter (pickled queue),
  ``ROBOTSTXT_OBEY = True``, and the few lines a user adds so an idle worker
  waits for the others (as ``RedisSpider`` does) instead of quitting;
- tdmguard: the add-on with ``TDMGUARD_REDIS_URL`` (JSON queue, shared rights
  documents, ledger off, ``TDMGUARD_POLITENESS_ENABLED = False``).

pages/s is measured at the web, from its request log: pages requested between
the 10th and 90th percentile page request (steady state) and from the first
to the last page (whole run). Runs interleaved, alternating order.

Part 2, shared politeness: four tdmguard workers against one origin whose
robots.txt says ``Crawl-delay: 0.5``, each starting on its own page; the
gaps between its requests, against four plain scrapy-redis workers with
``DOWNLOAD_DELAY = 0.5`` (each worker keeps the delay alone). ``--rounds 0``
runs only this part.

    python benchmarks/bench_scaleout.py [--pages 1200] [--rounds 3] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

HOSTS = 6
FANOUT = 4
BODY = "<html><head><title>p</title></head><body>" + "lorem ipsum " * 150


def page_url(i: int) -> str:
    return f"http://site{i % HOSTS}.example/page/{i}"


def serve(pages: int, slow_pages: int = 0) -> Any:
    from tdmguard.crawler.fixtureweb import FixtureWeb

    web = FixtureWeb()
    for h in range(HOSTS):
        web.add(f"http://site{h}.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    for i in range(pages):
        links = "".join(f'<a href="{page_url(j)}">{j}</a>'
                        for j in range(FANOUT * i + 1, FANOUT * i + FANOUT + 1) if j < pages)
        web.add(page_url(i), BODY + links + "</body></html>")
    if slow_pages:
        web.add("http://slow.example/robots.txt", "User-agent: *\nCrawl-delay: 0.5\n")
        for i in range(slow_pages):
            links = "".join(f'<a href="/s{j}">{j}</a>' for j in range(slow_pages))
            web.add(f"http://slow.example/s{i}", f"<html><body>{links}</body></html>")
    return web.start()


def worker(kind: str, redis_url: str, key: str, seed: str) -> None:
    """One worker process (``--worker``): crawl from *seed* until the shared
    queue is drained."""
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.exceptions import DontCloseSpider

    host = seed.split("/")[2]

    class Bench(scrapy.Spider):
        name = "bench"
        allowed_domains = [host] if host == "slow.example" else \
            [f"site{h}.example" for h in range(HOSTS)]
        idle_since: float | None = None

        async def start(self) -> Any:
            yield scrapy.Request(seed, callback=self.parse)

        def parse(self, response: Any) -> Any:
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, callback=self.parse)

        @classmethod
        def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
            spider = super().from_crawler(crawler, *args, **kwargs)
            if kind == "plain":  # what RedisSpider does: wait while others work
                crawler.signals.connect(spider.idle, signal=signals.spider_idle)
            return spider

        def idle(self) -> None:
            scheduler = self.crawler.engine._slot.scheduler  # noqa: SLF001 - benchmark glue
            if len(scheduler):
                self.idle_since = None
                raise DontCloseSpider
            now = time.monotonic()
            self.idle_since = self.idle_since or now
            if now - self.idle_since < 3.0:
                raise DontCloseSpider

    settings: dict[str, Any] = {
        "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
        "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    }
    if kind == "plain":
        settings.update({
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True, "REDIS_URL": redis_url,
            "SCHEDULER_QUEUE_KEY": f"{key}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{key}:dupefilter",
            "ROBOTSTXT_OBEY": True, "DOWNLOAD_DELAY": float(os.environ.get("BENCH_DELAY", 0)),
            "RANDOMIZE_DOWNLOAD_DELAY": False,
        })
    else:
        settings.update({
            "ADDONS": {"tdmguard.TdmGuard": 0}, "TDMGUARD_USER_AGENT": "BenchBot",
            "TDMGUARD_REDIS_URL": redis_url, "TDMGUARD_REDIS_KEY": key,
            "TDMGUARD_REDIS_IDLE_CLOSE": 1.0, "TDMGUARD_GC_FREEZE": True,
            "TDMGUARD_POLITENESS_ENABLED": os.environ.get("BENCH_POLITE") == "1",
            "TDMGUARD_POLITENESS_DELAY": 0.0,
        })
    process = CrawlerProcess(settings)
    process.crawl(Bench)
    process.start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(kind: str, n: int, web: Any, redis_url: str, key: str, seed: str,
        extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "no_proxy")}
    env.update(http_proxy=web.proxy_url, **(extra_env or {}))
    start = len(web.log)
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, redis_url, key,
                               seed.format(n=k)], env=env, cwd=str(ROOT)) for k in range(n)]
    codes = [p.wait() for p in procs]
    log = web.log[start:]
    docs = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")
    urls = [r.url for r in log if not r.url.endswith(docs)]
    pages = sorted(r.at for r in log if not r.url.endswith(docs))
    lo, hi = pages[len(pages) // 10], pages[(len(pages) * 9) // 10]
    steady = ((len(pages) * 9) // 10 - len(pages) // 10) / (hi - lo) if hi > lo else 0.0
    whole = (len(pages) - 1) / (pages[-1] - pages[0]) if len(pages) > 1 else 0.0
    return {"codes": codes, "pages": len(set(urls)), "requests": len(log),
            "duplicates": len(urls) - len(set(urls)), "steady": steady, "whole": whole,
            "times": [r.at for r in log], "log": log}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--slow-pages", type=int, default=12)
    args = parser.parse_args()
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="bench-scaleout-")
    redis_proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    redis_url = f"redis://127.0.0.1:{port}/0"
    counts = [int(c) for c in args.workers.split(",")]
    web = serve(args.pages, args.slow_pages)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        run_no = 0
        for rnd in range(args.rounds):
            for n in counts:
                kinds = ("plain", "tdmguard") if (rnd + n) % 2 == 0 else ("tdmguard", "plain")
                for kind in kinds:
                    run_no += 1
                    r = run(kind, n, web, redis_url, f"bench{run_no}", page_url(0))
                    results.setdefault((kind, n), []).append(r)
                    print(f"round {rnd + 1} {kind:8} {n} workers: {r['steady']:6.0f} pages/s "
                          f"steady, {r['whole']:6.0f} whole, {r['pages']} pages, "
                          f"{r['duplicates']} fetched twice, exit {r['codes']}", flush=True)
        if not args.rounds:
            counts = []
        else:
            print("\n| workers | plain scrapy-redis (median, steady) | tdmguard (median, steady) "
              "| ratio steady | ratio whole run | target |")
            print("|---|---|---|---|---|---|")
        for n in counts:
            p = [r["steady"] for r in results[("plain", n)]]
            t = [r["steady"] for r in results[("tdmguard", n)]]
            pw = [r["whole"] for r in results[("plain", n)]]
            tw = [r["whole"] for r in results[("tdmguard", n)]]
            ratio = statistics.median(t) / statistics.median(p)
            whole = statistics.median(tw) / statistics.median(pw)
            print(f"| {n} | {statistics.median(p):.0f} pages/s | {statistics.median(t):.0f} "
                  f"pages/s | **{ratio:.2f}** | {whole:.2f} | 0.9: "
                  f"{'met' if ratio >= 0.9 else 'not met'} |")
        if args.slow_pages:
            print("\nShared politeness, 4 workers, one origin with Crawl-delay: 0.5")
            seed = "http://slow.example/s{n}"  # each worker starts on its own page
            for kind, env in (("tdmguard", {"BENCH_POLITE": "1"}),
                              ("plain", {"BENCH_DELAY": "0.5"})):
                run_no += 1
                r = run(kind, 4, web, redis_url, f"slow{run_no}", seed, env)
                times = sorted(x.at for x in r["log"] if "slow.example" in x.url)
                gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
                label = "tdmguard (shared, Redis clock)" if kind == "tdmguard" else \
                    "plain scrapy-redis, DOWNLOAD_DELAY 0.5 per worker"
                print(f"{label}: {len(times)} requests, gap min {min(gaps):.3f} s, median "
                      f"{statistics.median(gaps):.3f} s, max {max(gaps):.3f} s")
    finally:
        web.stop()
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
    else:
        main()
