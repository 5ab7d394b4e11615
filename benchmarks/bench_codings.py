"""The cost of checking that a content coding is complete, against decoding it.

    python benchmarks/bench_codings.py [--kib 100] [--rounds 500]

For a ``--kib`` HTML page in each coding Scrapy decodes (gzip, deflate,
brotli, zstd when installed), the baseline is Scrapy's own decoder (what every
compressed response already costs); the measure is
:func:`tdmguard.middlewares.codings.incomplete` on the same body, which the
add-on runs after it. Printed: milliseconds per page for each and their
ratio. A single gzip coding is checked against its trailer (a CRC-32 of the
decoded body); the others are decoded once more.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

import brotli  # noqa: E402
from scrapy.utils import _compression  # noqa: E402
from scrapy.utils.gz import gunzip  # noqa: E402

from tdmguard.middlewares.codings import incomplete  # noqa: E402


def page(kib: int) -> bytes:
    lines = [f"<p>Paragraph {i}: lorem ipsum dolor sit amet, {i * 7919 % 1000} "
             f"consectetur adipiscing elit.</p>\n".encode() for i in range(kib * 12)]
    body = b"<html><head><title>t</title></head><body>" + b"".join(lines)
    return body[:kib * 1024] + b"</body></html>"


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median milliseconds of *rounds* calls, in 5 batches."""
    per = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds // 5):
            fn()
        per.append((time.perf_counter() - start) / (rounds // 5) * 1000)
    return statistics.median(per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    body = page(args.kib)
    codings: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
        "gzip": (gzip.compress, gunzip),
        "deflate": (zlib.compress, _compression._inflate),
        "br": (brotli.compress, _compression._unbrotli),
    }
    if getattr(_compression, "zstd", None) is not None:
        codings["zstd"] = (_compression.zstd.compress, _compression._unzstd)
    print(f"{len(body)} bytes of HTML, {args.rounds} rounds; ms per page")
    print("| coding | Scrapy's decode (baseline) | completeness check | ratio |")
    print("|---|---:|---:|---:|")
    for name, (encode, decode) in codings.items():
        coded = encode(body)
        decoded = decode(coded)
        assert decoded == body and incomplete(coded, decoded, [name], 1 << 30) is None
        base = timed(lambda c=coded, d=decode: d(c), args.rounds)  # type: ignore[misc]
        check = timed(lambda c=coded, d=decoded, n=name: incomplete(c, d, [n], 1 << 30),
                      args.rounds)  # type: ignore[misc]
        print(f"| {name} | {base:.3f} | {check:.3f} | {check / base:.2f} |")


if __name__ == "__main__":
    main()
