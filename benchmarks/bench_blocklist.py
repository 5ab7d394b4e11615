"""Benchmark: BlocklistSet against a plain Python set of the same domains.

Usage::

    python benchmarks/bench_blocklist.py [--n 5000000] [--lookups 1000000] [--seed 1]

Generates N random domains into a list file in a temporary directory, plus a
query mix (exact hits, subdomain hits, misses, look-alike misses). Each
contender then runs in a fresh subprocess, so memory peaks do not mix:

* ``set``: ``{line.strip() for line in file}`` and ``host in domains``, the
  floor for load time, memory and exact look-ups (it finds no subdomain hits);
  the same set with a label walk is shown too, as an algorithmic baseline;
* ``BlocklistSet``: ``load_blocklists([path])`` (shipped lists included) and
  ``match(host)``, then ``match(url)`` for the same hosts as full URLs.

Look-up rates are the best of three rounds over the query mix. Memory is the
growth of the peak resident set across the load, in MiB (``VmHWM`` from
/proc/self/status, Linux only: ``ru_maxrss`` would inherit the parent's peak).
Targets at N=5,000,000: load < 15 s, < 1.5 GB, >= 200,000 look-ups/s.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = ("com", "net", "org", "de", "fr", "it", "to", "io", "ru", "co.uk", "com.br")
ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789"
TARGETS = {"load_s": 15.0, "peak_mb": 1536.0, "lookups_per_s": 200_000.0}


def _random_labels(rng: random.Random, count: int, width: int) -> list[str]:
    table = bytes(ALPHABET[b % len(ALPHABET)] for b in range(256))
    raw = rng.randbytes(count * width).translate(table).decode("ascii")
    return [raw[i * width : (i + 1) * width] for i in range(count)]


def generate(n: int, lookups: int, seed: int, directory: Path) -> tuple[Path, Path]:
    """Write the list file and the query file; return their paths."""
    rng = random.Random(seed)
    labels = _random_labels(rng, n, 14)
    domains = []
    for i, label in enumerate(labels):
        name = label[: 6 + i % 9]  # 6 to 14 characters
        suffix = SUFFIXES[i % len(SUFFIXES)]
        # One entry in five is itself a subdomain, as in real lists.
        domains.append(
            f"{label[-3:]}.{name}.{suffix}" if i % 5 == 0 else f"{name}.{suffix}"
        )
    list_path = directory / "bench.txt"
    with list_path.open("w", encoding="ascii") as out:
        out.write("# name: bench\n# kind: authoritative\n# edition: bench\n")
        out.write("# source: random domains from benchmarks/bench_blocklist.py\n")
        out.write("\n".join(domains))
        out.write("\n")
    quarter = lookups // 4
    picks = rng.sample(range(n), 2 * quarter)
    hits = [domains[i] for i in picks[:quarter]]
    subdomain_hits = [f"www.cdn.{domains[i]}" for i in picks[quarter:]]
    # Entries are at most 14 + 4 + 6 characters per label: 16-character labels miss.
    misses = [f"{x}.com" for x in _random_labels(rng, quarter, 16)]
    lookalikes = [f"not-{domains[i]}" for i in picks[:quarter]]
    queries = hits + subdomain_hits + misses + lookalikes
    rng.shuffle(queries)
    query_path = directory / "queries.txt"
    query_path.write_text("\n".join(queries) + "\n", encoding="ascii")
    return list_path, query_path


def _proc_status_mb(field: str) -> float:
    # VmHWM is the peak RSS of this process image; unlike ru_maxrss it does
    # not inherit the parent's peak across fork and exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def _peak_mb() -> float:
    return _proc_status_mb("VmHWM")


def _rss_mb() -> float:
    return _proc_status_mb("VmRSS")


def _rate(function, queries: list[str], rounds: int = 3) -> tuple[float, int]:
    # Best of a few rounds, as timeit does: shared VMs are noisy.
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        found = sum(1 for query in queries if function(query))
        best = max(best, len(queries) / (time.perf_counter() - start))
    return best, found


def child(kind: str, list_path: str, query_path: str) -> dict[str, object]:
    """Measure one contender in this (fresh) process."""
    if kind == "blocklist":
        sys.path.insert(0, str(ROOT))
        from tdmguard.blocklists import load_blocklists

        load_blocklists([], include_shipped=True)  # warm imports and the PSL
    before = _peak_mb()
    start = time.perf_counter()
    if kind == "set":
        with open(list_path, encoding="utf-8") as lines:
            domains = {line.strip() for line in lines if line[0] != "#"}
    else:
        blocklists = load_blocklists([list_path], include_shipped=True)
    load_s = time.perf_counter() - start
    result: dict[str, object] = {
        "load_s": load_s,
        "peak_mb": _peak_mb() - before,
        "rss_mb": _rss_mb(),
    }
    queries = Path(query_path).read_text(encoding="ascii").split()
    if kind == "set":

        def walk(host: str) -> bool:
            while True:
                if host in domains:
                    return True
                dot = host.find(".")
                if dot < 0:
                    return False
                host = host[dot + 1 :]

        result["lookups"] = {
            "exact `in`": _rate(domains.__contains__, queries),
            "label walk": _rate(walk, queries),
        }
    else:
        urls = [f"https://{query}:443/some/path?q=1" for query in queries]
        result["lookups"] = {
            "match(host)": _rate(blocklists.match, queries),
            "match(url)": _rate(blocklists.match, urls),
        }
    return result


def run_child(kind: str, list_path: Path, query_path: Path) -> dict[str, object]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        str(list_path),
        str(query_path),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000, help="domains in the list")
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    with tempfile.TemporaryDirectory(prefix="tdmguard-bench-") as tmp:
        start = time.perf_counter()
        list_path, query_path = generate(args.n, args.lookups, args.seed, Path(tmp))
        size_mb = list_path.stat().st_size / 2**20
        print(
            f"N={args.n:,} domains ({size_mb:.0f} MiB list file), {args.lookups:,} "
            f"look-ups (1/4 exact hits, 1/4 subdomain hits, 1/4 misses, 1/4 "
            f"look-alike misses); generated in {time.perf_counter() - start:.1f} s; "
            f"Python {sys.version.split()[0]}"
        )
        baseline = run_child("set", list_path, query_path)
        ours = run_child("blocklist", list_path, query_path)

    base_rate = baseline["lookups"]["exact `in`"][0]
    header = (
        f"{'contender':<26}{'load s':>8}{'x set':>7}{'peak MB':>9}{'x set':>7}"
        f"{'RSS MB':>8}{'look-ups/s':>12}{'x set':>7}{'found':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, result in (("set", baseline), ("BlocklistSet", ours)):
        first = True
        for label, (rate, found) in result["lookups"].items():
            if first:
                load_s, peak_mb = result["load_s"], result["peak_mb"]
                load = f"{load_s:>8.2f}{load_s / baseline['load_s']:>7.2f}"
                peak = f"{peak_mb:>9.0f}{peak_mb / baseline['peak_mb']:>7.2f}"
                rss = f"{result['rss_mb']:>8.0f}"
            else:
                load, peak, rss = " " * 15, " " * 16, " " * 8
            print(
                f"{name + ' ' + label:<26}{load}{peak}{rss}"
                f"{rate:>12,.0f}{rate / base_rate:>7.2f}{found:>9,}"
            )
            first = False
    rates = [rate for rate, _ in ours["lookups"].values()]
    checks = {
        "load_s": ours["load_s"] < TARGETS["load_s"],
        "peak_mb": ours["peak_mb"] < TARGETS["peak_mb"],
        "lookups_per_s": min(rates) >= TARGETS["lookups_per_s"],
    }
    print(
        "targets: load < 15 s: {load_s}; peak < 1.5 GB: {peak_mb}; "
        ">= 200,000 look-ups/s: {lookups_per_s}".format(
            **{k: "ok" if v else "MISSED" for k, v in checks.items()}
        )
    )
    expected = args.lookups // 4 * 2
    print(f"expected matches for BlocklistSet: {expected:,} (exact + subdomain hits)")


if __name__ == "__main__":
    main()
