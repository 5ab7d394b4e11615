"""Write ``crawler/data/demo/robots-history.warc.gz``: archived robots.txt
captures of the demo's sample web, for ``tdmguard demo`` (``audit --history``).

The captures are made up for the sample web (its hosts end in ``.example``),
in the form Common Crawl's ``subset=robotstxt`` publishes: one WARC
``response`` record per capture, ``WARC-Target-URI`` the robots.txt URL,
``WARC-Date`` the capture time, the full HTTP response as the block. They
tell two stories an audit has to catch:

- ``open.example`` serves no robots.txt today, but in 2025 it disallowed
  everything: pages collected then were *reserved at collection*;
- ``guardian.example`` allowed everyone in 2023; today's robots.txt (the
  real theguardian.com file) refuses AI crawlers: pages collected in 2023
  were *reserved since collection*.

Run from the repository root: ``python docs/examples/make_demo_history.py``.
The output is byte-for-byte the same on every run (fixed record ids and
dates), so the committed file can be checked against this script.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

OUT = Path(__file__).resolve().parents[2] / "crawler" / "data" / "demo" / "robots-history.warc.gz"

CAPTURES = [
    ("http://open.example/robots.txt", "2025-06-01T08:00:00Z",
     b"User-agent: *\nDisallow: /\n"),
    ("http://guardian.example/robots.txt", "2023-01-15T08:00:00Z",
     b"User-agent: *\nAllow: /\n"),
]


def build() -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for n, (uri, date, body) in enumerate(CAPTURES):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/plain"),
                                           ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        record = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body), http_headers=http,
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(int=n + 1)}>",
            })
        writer.write_record(record)
    return buf.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(OUT)
