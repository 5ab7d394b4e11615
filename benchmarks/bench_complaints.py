"""Benchmark: the complaints web intake under 50 concurrent clients.

Usage::

    python benchmarks/bench_complaints.py [--clients 50] [--submissions 2000]
                                          [--threads 8] [--dir DIR]

Starts the real ``tdmguard complaints serve`` (its own process, waitress,
``--rate-limit 1000000/minute`` so the benchmark measures the intake, not the
throttle: every client is 127.0.0.1, one address, so the default 20/minute
would refuse all but 20), with a fresh register and outbox in a temporary
directory. Then *clients* asyncio clients (aiohttp, one keep-alive
connection each) POST *submissions* distinct complaints in all to
``/api/complaints`` over HTTP on 127.0.0.1. Each accepted submission is
stored, acknowledged (an .eml in the outbox and an ``acknowledged``
transition) and answered 201 with its reference.

Afterwards the register is read directly: every 201's reference must be
there exactly once, with the description that was sent (each carries a
unique token), no other complaint may exist, and every submission must have
been answered (none lost). Prints submissions/s over the whole run and the
p50/p99 latency of one submission, client side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def complaint(n: int) -> dict[str, Any]:
    return {
        "complainant_name": f"Bench Complainant {n}",
        "complainant_email": f"bench{n}@example.org",
        "capacity": "collective-management-organisation",
        "rightsholder": f"Rightsholder {n % 17}",
        "work_description": f"Work number {n}",
        "urls": [f"https://copies{n % 50}.example/work/{n}"],
        "commitment": "1.3",
        "description": f"bench-token-{n:06d}: crawled despite a robots.txt reservation.",
        "good_faith": True,
    }


def start_server(tmp: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / "tdmguard.toml").write_text(
        '[complaints]\ncontact_email = "copyright@example.org"\n'
        'register = "register.db"\noutbox = "outbox"\n', encoding="utf-8")
    log = tmp / "serve.log"
    # stderr to a file: an unread pipe would fill up and stall the server.
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tdmguard.crawler.cli", "complaints", "serve", "--port",
             "0", "--rate-limit", "1000000/minute", "--threads", str(threads)],
            cwd=tmp, stderr=err)
    deadline = time.monotonic() + 60
    found = None
    while found is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
    if not found:
        proc.kill()
        raise SystemExit(f"the server did not start: {log.read_text(errors='replace')}")
    return proc, f"http://127.0.0.1:{found.group(1)}"


async def run_clients(url: str, clients: int, total: int) -> tuple[list[Any], float]:
    import aiohttp

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    results: list[Any] = []

    async def client() -> None:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                try:
                    async with http.post(url + "/api/complaints", json=complaint(n)) as resp:
                        body = await resp.json(content_type=None)
                        results.append((n, resp.status, body, time.perf_counter() - t0))
                except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                    results.append((n, None, repr(exc), time.perf_counter() - t0))

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return results, time.perf_counter() - start


def verify(register: Path, results: list[Any], total: int) -> dict[str, Any]:
    accepted = {n: body["reference"] for n, status, body, _ in results if status == 201}
    with sqlite3.connect(register) as conn:
        rows = conn.execute("select reference, description from complaints").fetchall()
    stored: dict[str, list[str]] = {}
    for reference, description in rows:
        stored.setdefault(reference, []).append(description)
    lost = [n for n, ref in accepted.items()
            if stored.get(ref) != [complaint(n)["description"]]]
    extra = set(stored) - set(accepted.values())
    return {"answered": len(results), "sent": total, "accepted": len(accepted),
            "refused": sum(1 for r in results if r[1] != 201),
            "stored": len(rows), "distinct_references": len(stored),
            "lost_or_duplicated": len(lost), "stored_but_not_acknowledged": len(extra),
            "ok": not lost and not extra and len(results) == total
            and len(rows) == len(accepted) == len(stored)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--submissions", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--dir", default=None, help="where the register and outbox go")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        tmp = Path(d)
        proc, url = start_server(tmp, args.threads)
        try:
            results, wall = asyncio.run(run_clients(url, args.clients, args.submissions))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        check = verify(tmp / "register.db", results, args.submissions)
        outbox = len(list((tmp / "outbox").glob("*-acknowledgement.eml")))
    latencies = sorted(r[3] for r in results if r[1] == 201) or [0.0]
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 \
        else [latencies[0]] * 99
    out = {"clients": args.clients, "submissions": args.submissions, "threads": args.threads,
           "wall_s": round(wall, 2), "submissions_per_s": round(check["accepted"] / wall, 1),
           "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
           "max_ms": round(latencies[-1] * 1000, 1), "acknowledgements": outbox,
           "statuses": {str(s): sum(1 for r in results if r[1] == s)
                        for s in sorted({r[1] for r in results}, key=str)}, **check}
    print(json.dumps(out, indent=2))
    if not check["ok"]:
        raise SystemExit("FAILED: a submission was lost, duplicated or unanswered")


if __name__ == "__main__":
    main()
