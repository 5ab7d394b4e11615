"""``tdmguard audit`` at dataset scale, against a floor and a peer, on the fixture web.

One run measures, on one loopback fixture web (many host names served by one
proxy on 127.0.0.1):

- the audit of N URLs (default 100,000) over M origins (5,000), location
  level (no page fetched): every origin's robots.txt, tdmrep.json and ai.txt
  fetched once, one verdict per row, written as JSON lines;
- the same audit with only robots.txt on (tdmrep.json, ai.txt and RSL
  switched off), which fetches exactly what the floor fetches;
- (a) the floor: a plain Scrapy spider that reads the same list and fetches
  each origin's robots.txt once (nothing decided, nothing written);
- (b) the peer: datadiligence's ``is_allowed(url=...)`` on a sample of the
  same list (default 2,000 URLs), one URL after another as it is documented;
- a Parquet input of R rows (1,000,000) over the same origins, location level,
  written as Parquet.

Each run is its own process; its wall time (process start to exit, imports
included) and peak resident memory (benchmarks/peakrss.py: the audit's own) are reported, and
the ratios against the floor and the peer measured in the same run.
Politeness delays are off for every crawl (``TDMGUARD_POLITENESS_DELAY=0``):
a deliberate per-origin rate limit, not overhead (as in bench_addon.py).

    python benchmarks/bench_audit.py [--urls 100000] [--origins 5000] [--sample 2000]
                                     [--parquet-rows 1000000] [--quick]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: datadiligence).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

CONCURRENCY = 64


def url_of(k: int, origins: int) -> str:
    o = k % origins
    sub = "private/" if k % 10 == 3 else ""
    return f"http://o{o}.example/{sub}p/{k}"


def write_inputs(tmp: Path, urls: int, origins: int, sample: int, rows: int) -> None:
    with open(tmp / "urls.txt", "w") as fh:
        fh.writelines(url_of(k, origins) + "\n" for k in range(urls))
    step = max(1, urls // sample)
    with open(tmp / "sample.txt", "w") as fh:
        fh.writelines(url_of(k, origins) + "\n" for k in range(0, urls, step)[:sample])
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("url", pa.string()), ("fetch_time", pa.string()),
                        ("url_host_registered_domain", pa.string())])
    with pq.ParquetWriter(tmp / "index.parquet", schema) as writer:
        for start in range(0, rows, 100_000):
            ks = range(start, min(rows, start + 100_000))
            writer.write_table(pa.table({
                "url": [url_of(k, origins) for k in ks],
                "fetch_time": ["2024-06-01T00:00:00Z"] * len(ks),
                "url_host_registered_domain": [f"o{k % origins}.example" for k in ks]},
                schema=schema))


def serve(origins: int, tmp: Path) -> Any:
    from tdmguard.crawler.fixtureweb import FixtureWeb

    web = FixtureWeb()
    for o in range(origins):
        web.add(f"http://o{o}.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    for line in open(tmp / "sample.txt"):  # the peer fetches its pages
        web.add(line.strip(), "<html><body>" + "lorem ipsum " * 50 + "</body></html>")
    return web.start()


# -- children ---------------------------------------------------------------------------


def floor_child(list_path: str) -> None:
    """A plain Scrapy spider: each origin of the list, its robots.txt once."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from tdmguard.middlewares.snapshots import origin_of

    class Floor(scrapy.Spider):
        name = "floor"

        async def start(self) -> Any:
            seen: set[str] = set()
            with open(list_path) as fh:
                for line in fh:
                    origin = origin_of(line.strip())
                    if origin not in seen:
                        seen.add(origin)
                        yield scrapy.Request(f"{origin}/robots.txt", callback=self.parse,
                                             dont_filter=True)

        def parse(self, response: Any) -> None:
            return None

    process = CrawlerProcess({"LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False,
                              "ROBOTSTXT_OBEY": False, "COOKIES_ENABLED": False,
                              "CONCURRENT_REQUESTS": CONCURRENCY,
                              "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7"})
    process.crawl(Floor)
    process.start()


def peer_child(list_path: str) -> None:
    """datadiligence, as documented: ``is_allowed(url=...)`` per URL."""
    import datadiligence as dd

    allowed = 0
    with open(list_path) as fh:
        for line in fh:
            allowed += bool(dd.is_allowed(url=line.strip()))
    print(json.dumps({"allowed": allowed}))


# -- the parent ---------------------------------------------------------------------------


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, float, str]:
    """Wall seconds, peak RSS in MB, the child's CPU seconds, the fixture web's
    CPU seconds meanwhile (this process serves it and does nothing else while
    it waits) and stderr tail of one child process."""
    import resource

    started = time.perf_counter()
    own = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        # peakrss.py: a direct child's ru_maxrss would start at this process's
        # own peak (it holds the fixture web and the URL lists).
        peak = Path(tmp) / "peak.json"
        launcher = [sys.executable, str(Path(__file__).with_name("peakrss.py")), str(peak), "--"]
        proc = subprocess.Popen(launcher + cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        proc.wait()
        wall = time.perf_counter() - started
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
        usage = json.loads(peak.read_text()) if peak.exists() else {}
    after = resource.getrusage(resource.RUSAGE_SELF)
    if proc.returncode not in (0, 1) or not usage:
        sys.exit(f"{' '.join(cmd[:6])} failed ({proc.returncode}):\n{tail}")
    server = (after.ru_utime + after.ru_stime) - (own.ru_utime + own.ru_stime)
    return wall, usage["maxrss_mb"], usage["cpu_s"], server, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--origins", type=int, default=5_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--parquet-rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true",
                        help="5,000 URLs over 250 origins, 100-URL sample, 20,000 rows")
    parser.add_argument("--child", choices=["floor", "peer"])
    parser.add_argument("--list")
    args = parser.parse_args()
    if args.child == "floor":
        floor_child(args.list)
        return
    if args.child == "peer":
        peer_child(args.list)
        return
    if args.quick:
        args.urls, args.origins, args.sample, args.parquet_rows = 5_000, 250, 100, 20_000
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as name:
        tmp = Path(name)
        write_inputs(tmp, args.urls, args.origins, args.sample, args.parquet_rows)
        web = serve(args.origins, tmp)
        env = {**os.environ, "http_proxy": web.proxy_url, "PYTHONPATH": str(ROOT),
               "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        audit = [sys.executable, "-m", "tdmguard.crawler.cli", "audit", "--user-agent",
                 "BenchBot", "-q", "-s", "TDMGUARD_POLITENESS_DELAY=0",
                 "-s", f"CONCURRENT_REQUESTS={CONCURRENCY}"]
        robots_only = ["-s", "TDMGUARD_TDMREP_ENABLED=false", "-s",
                       "TDMGUARD_AITXT_ENABLED=false", "-s", "TDMGUARD_RSL_ENABLED=false"]
        me = [sys.executable, __file__]
        results: dict[str, tuple[float, float]] = {}
        requests_before = 0
        plan = [
            ("floor", [*me, "--child", "floor", "--list", str(tmp / "urls.txt")]),
            ("audit", [*audit, str(tmp / "urls.txt"), "-o", str(tmp / "out.jsonl")]),
            ("audit-robots-only", [*audit, *robots_only, str(tmp / "urls.txt"), "-o",
                                   str(tmp / "out2.jsonl")]),
            ("peer", [*me, "--child", "peer", "--list", str(tmp / "sample.txt")]),
            ("parquet", [*audit, str(tmp / "index.parquet"), "--format", "parquet",
                         "-o", str(tmp / "out.parquet")]),
        ]
        for label, cmd in plan:
            wall, rss, cpu, server, _tail = run(cmd, env)
            results[label] = (wall, rss)
            sent, requests_before = len(web.log) - requests_before, len(web.log)
            print(f"{label}: {wall:.1f} s, peak RSS {rss:.0f} MB, {sent} requests; CPU: "
                  f"client {cpu:.1f} s, fixture web {server:.1f} s", flush=True)
        requests = len(web.log)
        web.stop()
    n, s, r = args.urls, args.sample, args.parquet_rows
    rate = {k: (s if k == "peer" else r if k == "parquet" else n) / v[0]
            for k, v in results.items()}
    print(f"\n{n} URLs over {args.origins} origins; peer sample {s}; Parquet {r} rows; "
          f"{requests} HTTP requests to the fixture web in all")
    print(f"(a) floor, plain Scrapy, robots.txt once per origin: {rate['floor']:.0f} URLs/s")
    print(f"(b) peer, datadiligence is_allowed(url=...): {rate['peer']:.1f} URLs/s")
    for k in ("audit", "audit-robots-only"):
        print(f"{k}: {rate[k]:.0f} URLs/s, {rate[k] / rate['floor']:.2f} of the floor "
              f"(target >= 0.8), {rate[k] / rate['peer']:.0f}x the peer (target >= 20), "
              f"peak RSS {results[k][1]:.0f} MB (target < 500)")
    print(f"Parquet, location level: {rate['parquet']:.0f} rows/s, "
          f"{results['parquet'][0]:.1f} s, peak RSS {results['parquet'][1]:.0f} MB "
          "(target < 1024)")


if __name__ == "__main__":
    main()
