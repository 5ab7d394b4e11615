"""The fault matrix, second part: bombs, flapping servers, header floods,
redirects for rights documents and unusual encodings, over real sockets.

Each cell is one site of the fixture web whose rights signal reserves (or
whose failure makes it unreadable), so the only right answers are refused,
dropped or failed: an allowed page is a fail-open cell. Every cell's expected
verdict cites the spec line that asks for it. All cells run in one ``check``
with the default settings (one more, serial, for the 200-503-200 cells), in a
subprocess whose wall time and peak RSS are measured against stated bounds.

The README's ``## Fault matrix`` table is generated from :data:`CELLS`::

    python -m tests.test_fault_matrix            # print the table
    python -m tests.test_fault_matrix --write    # rewrite the README section

and :func:`test_the_readme_table_is_the_parametrisation` fails when they differ.
(tests/test_hostile_web.py has the first part: resets, trickles and hangs.)
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb, Resource

from .conftest import ROOT, check_json, cli_env, suite_settings

#: Bounds for the whole run (every cell at once), with the default settings.
TIME_BOUND_S = 60
RSS_BOUND_MB = 500

MiB = 1 << 20
#: Inflated size of each bomb: past both caps (pages 64 MiB, documents 32 MiB).
BOMB = 96 * MiB
UA = "TestBot"
ALLOW = "User-agent: *\nAllow: /\n"
PAGE = "<html><head><title>t</title></head><body>hello</body></html>"
NOAI = '<html><head><title>t</title><meta name="robots" content="noai"></head><body>x</body></html>'
TDM_RESERVED = '[{"location": "/", "tdm-reservation": 1}]'
RSL_RESERVED = ('<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
                '<prohibits type="usage">ai-train</prohibits></license></content></rsl>')
NEVER_ALLOWED = {"refused", "dropped", "failed"}


@cache
def gzip_bomb(size: int = BOMB) -> bytes:
    """A gzip member of *size* zero bytes (~1 KB per MiB), built without
    holding it inflated: one full-flushed deflate block of 1 MiB, repeated."""
    zero = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zero) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush()
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(zero, crc)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * (size // MiB) + tail
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


@cache
def br_bomb(size: int = BOMB) -> bytes:
    import brotli

    zero = bytes(MiB)
    compressor = brotli.Compressor(quality=1)
    return b"".join([compressor.process(zero) for _ in range(size // MiB)]
                    + [compressor.finish()])


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


# -- cells ---------------------------------------------------------------------------

Serve = Callable[[FixtureWeb, str], str]


@dataclass(frozen=True)
class Cell:
    """One signal x failure: how the site misbehaves, what must happen, why."""

    id: str
    signal: str
    failure: str
    #: The page's stage; any of these (a reservation read, or a failure).
    stages: frozenset[str]
    #: A reason with this protocol and one of these verdicts must be there
    #: (None: a failed download, whose ``error`` says why).
    protocol: str | None
    verdicts: frozenset[str]
    spec: str
    serve: Serve = field(compare=False, repr=False)
    #: Runs in the serial crawl (one request at a time, no caching): three
    #: pages, of which exactly one (or, with *all_refused*, every one) is refused.
    serial: bool = False
    all_refused: bool = False
    #: One page, checked in the second crawl (it holds its origin a while).
    second: bool = False
    #: A known gap, not fixed yet: the cell's test is a strict xfail (it
    #: fails loudly once fixed). "fails open: ..." when the page is allowed.
    gap: str | None = None

    def expected(self) -> str:
        stage = " or ".join(sorted(self.stages))
        if self.protocol is None:
            text = f"{stage} (download error)"
        else:
            text = f"{stage}: {self.protocol} {' or '.join(sorted(self.verdicts))}"
        return text + (f" **(known gap: {self.gap})**" if self.gap else "")


def _site(web: FixtureWeb, host: str, robots: str | bytes | None = ALLOW,
          page: str | bytes = PAGE, path: str = "/articles/one", **page_opts: Any) -> str:
    if robots is not None:
        web.add(f"{host}/robots.txt", robots)
    web.add(f"{host}{path}", page, **page_opts)
    return f"{host}{path}"


def _bomb(kind: str, ctype: str) -> dict[str, Any]:
    body = gzip_bomb() if kind == "gzip" else br_bomb()
    return {"body": body, "headers": {"Content-Encoding": kind, "Content-Type": ctype},
            "chunked": True, "chunk_size": 16384}


def doc_bomb(path: str, kind: str, ctype: str = "text/plain") -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        if path == "/license.xml":
            web.add(f"{host}/robots.txt", f"{ALLOW}License: {host}/license.xml\n")
            web.add(f"{host}{path}", **_bomb(kind, ctype))
            return _site(web, host, robots=None)
        web.add(f"{host}{path}", **_bomb(kind, ctype))
        return _site(web, host, robots=None if path == "/robots.txt" else ALLOW)
    return serve


def page_bomb(kind: str) -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        web.add(f"{host}/robots.txt", ALLOW)
        web.add(f"{host}/articles/one", **_bomb(kind, "text/html"))
        return f"{host}/articles/one"
    return serve


def big_gzip_page(web: FixtureWeb, host: str) -> str:
    return _site(web, host, page=_gzip(NOAI.encode() + b" " * (8 * MiB)),
                 headers={"Content-Encoding": "gzip", "Content-Type": "text/html"},
                 chunked=True, chunk_size=16384)


def page_503_then_noai(web: FixtureWeb, host: str) -> str:
    return _site(web, host, page="busy", status=503,
                 headers={"Content-Type": "text/plain", "Retry-After": "0"},
                 then=[Resource(200, NOAI.encode(), {"Content-Type": "text/html"})])


def flapping(path: str, good: str, twice: bool = False) -> Serve:
    """*path* answers 200 (*good*), then 503, then 200, one request at a time.
    With *twice*, the first two answers are 200: robots.txt is asked for twice
    per page while its cache TTL is 0 (by the robots and location checks),
    so the second page's robots check meets the 503 (and, were it asked once
    a page, the third's would)."""
    def serve(web: FixtureWeb, host: str) -> str:
        ok = Resource(200, good.encode(), {"Content-Type": "text/plain"})
        busy = Resource(503, b"busy", {"Content-Type": "text/plain"})
        web.add(f"{host}{path}", good, headers={"Content-Type": "text/plain"},
                then=[ok, busy, ok] if twice else [busy, ok])
        if path != "/robots.txt":
            web.add(f"{host}/robots.txt", ALLOW)
        for n in (1, 2, 3):
            web.add(f"{host}/articles/{n}", PAGE)
        return f"{host}/articles/"  # a prefix: the three pages are checked
    return serve


def many_headers(doc: bool, big: bool) -> Serve:
    junk = ({"X-Big": "v" * (1024 * 1024)} if big
            else {f"X-Junk-{i}": "v" * 20 for i in range(2000)})

    def serve(web: FixtureWeb, host: str) -> str:
        if doc:
            web.add(f"{host}/robots.txt", "User-agent: *\nDisallow: /\n",
                    headers={**junk, "Content-Type": "text/plain"})
            return _site(web, host, robots=None)
        return _site(web, host, headers={**junk, "Content-Type": "text/html",
                                         "X-Robots-Tag": "noai"})
    return serve


def redirects(path: str, hops: int, loop: bool, target: str | None = None) -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        if path == "/license.xml":
            web.add(f"{host}/robots.txt", f"{ALLOW}License: {host}/license.xml\n")
        elif path != "/robots.txt":
            web.add(f"{host}/robots.txt", ALLOW)
        chain = [f"{host}{path}"] + [f"{host}/hop/{i}" for i in range(1, hops)]
        for i, url in enumerate(chain):
            after = chain[0] if (loop and i == len(chain) - 1) else (
                chain[i + 1] if i + 1 < len(chain) else f"{host}/final")
            web.redirect(url, after, status=302)
        if target is not None:
            web.add(f"{host}/final", target, headers={"Content-Type": "text/plain"})
        return _site(web, host, robots=None)
    return serve


def encoded(path: str, body: bytes, ctype: str, page_path: str = "/articles/one") -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        web.add(f"{host}{path}", body, headers={"Content-Type": ctype})
        if path != "/robots.txt":
            web.add(f"{host}/robots.txt", ALLOW)
        return _site(web, host, robots=None, path=page_path)
    return serve


def xmp_png(codec: str, cut: bool = False, ctype: str = "image/png") -> Serve:
    """A PNG whose XMP packet (iTXt) reserves AI training, in *codec*."""
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
              '1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:plus="http://'
              'ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="http://ns.useplus.org/ldf/vocab/'
              'DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    if cut:
        packet = packet[:packet.index("</x:xmpmeta>")]
    itxt = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet.encode(codec)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    body = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"iTXt", itxt) + chunk(b"IEND", b""))

    def serve(web: FixtureWeb, host: str) -> str:
        return _site(web, host, page=body, path="/i.png", headers={"Content-Type": ctype})
    return serve


def c2pa_png(path: Path) -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        return _site(web, host, page=path.read_bytes(), path="/i.png",
                     headers={"Content-Type": "image/png"})
    return serve


def coded(path: str, body: str, coding: str, cut: int, ctype: str) -> Serve:
    """*body* in *coding* with its last *cut* bytes gone (0: whole), sent with
    a Content-Length that matches: the transport is complete, the coding is not."""
    raw = body.encode()
    if coding == "gzip":
        data = _gzip(raw)
    elif coding == "br":
        import brotli

        data = brotli.compress(raw)
    elif coding == "deflate":
        data = zlib.compress(raw)
    else:  # a coding no one decodes
        data = zlib.compress(raw)
    data = data[:-cut] if cut else data

    def serve(web: FixtureWeb, host: str) -> str:
        headers = {"Content-Type": ctype, "Content-Encoding": coding}
        if path == "/articles/one":
            return _site(web, host, page=data, headers=headers)
        web.add(f"{host}{path}", data, headers=headers)
        if path != "/robots.txt":
            web.add(f"{host}/robots.txt", ALLOW)
        return _site(web, host, robots=None)
    return serve


def partial_content(path: str, body: str, ctype: str) -> Serve:
    """*body*'s first half as a 206 Partial Content, never asked for (no Range)."""
    half = body.encode()[:len(body) // 2]
    headers = {"Content-Type": ctype, "Content-Range": f"bytes 0-{len(half) - 1}/{len(body)}"}

    def serve(web: FixtureWeb, host: str) -> str:
        if path == "/articles/one":
            return _site(web, host, page=half, status=206, headers=headers)
        web.add(f"{host}{path}", half, status=206, headers=headers)
        if path != "/robots.txt":
            web.add(f"{host}/robots.txt", ALLOW)
        return _site(web, host, robots=None)
    return serve


def html_page(body: bytes, ctype: str) -> Serve:
    def serve(web: FixtureWeb, host: str) -> str:
        return _site(web, host, page=body, headers={"Content-Type": ctype})
    return serve


RFC9309_UNREACHABLE = ("RFC 9309 §2.3.1.4: unreachable \"due to server or network errors\": "
                       "\"MUST assume complete disallow\"")
RFC9309_REDIRECTS = ("RFC 9309 §2.3.1.2: more than five consecutive redirects \"MAY\" be "
                     "unavailable; tdmguard (TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS=unreachable) "
                     "takes complete disallow")
RFC9309_UTF8 = ("RFC 9309 §2.3: the file is UTF-8; a byte-order mark names its encoding, and "
                "§2.3.1.5 \"MUST use the parseable rules\": Disallow: / holds")
TDMREP = ("TDMRep §3 (the spec is silent on errors): strict mode fails closed on a "
          "tdmrep.json it could not read")
AITXT = "Spawning ai.txt (no error rule): strict mode fails closed on an unread ai.txt"
RSL = ("RSL 1.0 robots guide: crawlers \"must retrieve and comply with the defined terms "
       "before accessing\": an unread licence refuses")
PAGE_CAP = ("RFC 9110 §8.4.1 content codings: the inflated page passes DOWNLOAD_MAXSIZE "
            "(64 MiB), its rights signals are unread: never allowed")
NOAI_SPEC = "noai convention (X-Robots-Tag / meta robots noai): reserved"
HTML_ENCODING = ("HTML Living Standard §13.2.3 (encoding sniffing: BOM, transport charset, "
                 "<meta charset>): the noai meta tag is read")

CODING_CUT = ("RFC 9110 §8.4.1: the content coding is part of the representation; one that "
              "ends before its end marker (gzip trailer, brotli last block, zlib checksum) is "
              "incomplete: unreadable (Scrapy returns what it could inflate)")
CODING_UNKNOWN = ("RFC 9110 §8.4.1: a coding the recipient cannot decode leaves the body "
                  "unreadable")
PARTIAL_206 = ("RFC 9110 §15.3.7: a 206 carries part of the representation; tdmguard sends "
               "no Range, so it is never read as the whole: unreadable")
MISLABELLED = ("IPTC Photo Metadata plus:DataMining: the reservation is in the image's bytes, "
               "which a pipeline keeps whatever the Content-Type says; tdmguard reads an "
               "asset by its magic bytes (RFC 9110 §8.3 leaves sniffing to the recipient)")
MISLABELLED_PAGE = ("noai convention (meta robots noai): the page is HTML whatever its label, "
                    "and a pipeline parses it as HTML; tdmguard reads the head of any body "
                    "that starts as an HTML document")
R, D, F = "refused", "dropped", "failed"
UNREAD, RESERVED = frozenset({"unreadable"}), frozenset({"reserved"})
EITHER = frozenset({"reserved", "unreadable"})


def cell(id: str, signal: str, failure: str, stages: set[str], protocol: str | None,
         verdicts: frozenset[str], spec: str, serve: Serve, **kw: Any) -> Cell:
    return Cell(id, signal, failure, frozenset(stages), protocol, verdicts, spec, serve, **kw)


LATIN1_ROBOTS = "User-agent: *\nDisallow: /caf\xe9/\n".encode("latin-1")

CELLS: list[Cell] = [
    # -- decompression bombs (streamed, chunked, Content-Encoding) ------------------
    cell("robots-gzip-bomb", "robots.txt", "gzip bomb (96 MiB inflated)", {R}, "robots.txt",
         UNREAD, RFC9309_UNREACHABLE + "; TDMGUARD_DOCUMENT_MAXSIZE stops the inflation",
         doc_bomb("/robots.txt", "gzip")),
    cell("robots-br-bomb", "robots.txt", "brotli bomb (96 MiB inflated)", {R}, "robots.txt",
         UNREAD, RFC9309_UNREACHABLE, doc_bomb("/robots.txt", "br")),
    cell("tdmrep-gzip-bomb", "tdmrep.json", "gzip bomb (96 MiB inflated)", {R}, "tdmrep",
         UNREAD, TDMREP, doc_bomb("/.well-known/tdmrep.json", "gzip", "application/json")),
    cell("aitxt-br-bomb", "ai.txt", "brotli bomb (96 MiB inflated)", {R}, "ai.txt", UNREAD,
         AITXT, doc_bomb("/ai.txt", "br")),
    cell("rsl-gzip-bomb", "RSL licence", "gzip bomb (96 MiB inflated)", {R}, "rsl", UNREAD, RSL,
         doc_bomb("/license.xml", "gzip", "application/rsl+xml")),
    cell("page-gzip-bomb", "page (HTML meta)", "gzip bomb (96 MiB inflated)", {D}, "http",
         UNREAD, PAGE_CAP, page_bomb("gzip")),
    cell("page-br-bomb", "page (HTML meta)", "brotli bomb (96 MiB inflated)", {D}, "http",
         UNREAD, PAGE_CAP, page_bomb("br")),
    cell("page-gzip-8mib", "page (HTML meta)", "gzip, 8 MiB inflated, noai meta", {D}, "noai",
         RESERVED, NOAI_SPEC + "; a big page under the cap is read whole", big_gzip_page),
    # -- flapping servers ----------------------------------------------------------
    cell("page-503-then-200", "page (HTML meta)", "503, then 200 to the retry (noai)", {D},
         "noai", RESERVED, "RFC 9110 §15.6.4 503: nothing usable, recorded failed; the "
         "retry's 200 is read (" + NOAI_SPEC + ")", page_503_then_noai, second=True),
    cell("robots-200-503-200", "robots.txt", "200, 200, then 503, then 200 (cache TTL 0)",
         {R}, "robots.txt", UNREAD, RFC9309_UNREACHABLE + " (the page decided during the 503)",
         flapping("/robots.txt", ALLOW, twice=True), serial=True),
    cell("robots-usage-200-503", "robots.txt Content-Usage", "200 (train-ai=n), then 503, "
         "then 200 (cache TTL 0)", {R}, "content-usage", EITHER,
         "IETF aipref attach §4 (Content-Usage in robots.txt): reserved on every page; the "
         "503 answer is RFC 9309 §2.3.1.4 unreachable",
         flapping("/robots.txt", ALLOW + "Content-Usage: train-ai=n\n"), serial=True,
         all_refused=True),
    cell("tdmrep-200-503-200", "tdmrep.json", "200, then 503, then 200 (re-fetched each page)",
         {R}, "tdmrep", UNREAD, TDMREP + " (the page decided during the 503)",
         flapping("/.well-known/tdmrep.json", '[{"location": "/", "tdm-reservation": 0}]'),
         serial=True),
    # -- huge and many headers -------------------------------------------------------
    cell("robots-2000-headers", "robots.txt", "2,000 response headers (Disallow: /)", {R},
         "robots.txt", EITHER, "RFC 9309 §2.3.1.1 (read: Disallow: / holds) or §2.3.1.4 "
         "(unreachable: complete disallow)", many_headers(doc=True, big=False)),
    cell("robots-1mib-header", "robots.txt", "one 1 MiB response header (Disallow: /)", {R},
         "robots.txt", EITHER, "RFC 9112 §5 (no limit; a client may refuse a field too big): "
         "then RFC 9309 §2.3.1.4 unreachable", many_headers(doc=True, big=True)),
    cell("page-2000-headers", "response headers", "X-Robots-Tag: noai after 2,000 others",
         {D}, "noai", RESERVED, NOAI_SPEC + " (every field line is read)",
         many_headers(doc=False, big=False)),
    cell("page-1mib-header", "response headers", "a 1 MiB header, then X-Robots-Tag: noai",
         {D, F}, None, frozenset(), "RFC 9112 §5: a field too big to read fails the download "
         "(never allowed); read, noai reserves", many_headers(doc=False, big=True)),
    # -- redirects for rights documents --------------------------------------------
    cell("robots-redirect-loop", "robots.txt", "redirect loop", {R}, "robots.txt", UNREAD,
         RFC9309_REDIRECTS, redirects("/robots.txt", 2, loop=True)),
    cell("robots-10-hops", "robots.txt", "10-hop redirect chain", {R}, "robots.txt", UNREAD,
         RFC9309_REDIRECTS, redirects("/robots.txt", 10, loop=False, target=ALLOW)),
    cell("robots-3-hops", "robots.txt", "3-hop chain to Disallow: /", {R}, "robots.txt",
         RESERVED, "RFC 9309 §2.3.1.2: reached within five redirects, \"MUST be fetched, "
         "parsed, and its rules followed\"",
         redirects("/robots.txt", 3, loop=False, target="User-agent: *\nDisallow: /\n")),
    cell("tdmrep-redirect-loop", "tdmrep.json", "redirect loop", {R}, "tdmrep", UNREAD, TDMREP,
         redirects("/.well-known/tdmrep.json", 2, loop=True)),
    cell("aitxt-10-hops", "ai.txt", "10-hop redirect chain", {R}, "ai.txt", UNREAD, AITXT,
         redirects("/ai.txt", 10, loop=False, target=ALLOW)),
    cell("rsl-redirect-loop", "RSL licence", "redirect loop", {R}, "rsl", UNREAD, RSL,
         redirects("/license.xml", 2, loop=True)),
    # -- declared or unusual encodings ----------------------------------------------
    cell("robots-utf16le-bom", "robots.txt", "UTF-16LE with BOM (Disallow: /)", {R},
         "robots.txt", RESERVED, RFC9309_UTF8,
         encoded("/robots.txt", "\ufeffUser-agent: *\nDisallow: /\n".encode("utf-16-le"),
                 "text/plain; charset=utf-16")),
    cell("robots-utf16be-bom", "robots.txt", "UTF-16BE with BOM (Disallow: /)", {R},
         "robots.txt", RESERVED, RFC9309_UTF8,
         encoded("/robots.txt", "\ufeffUser-agent: *\nDisallow: /\n".encode("utf-16-be"),
                 "text/plain")),
    cell("robots-utf16le-nobom", "robots.txt", "UTF-16LE, no BOM (Disallow: /)", {R},
         "robots.txt", RESERVED, RFC9309_UTF8.replace("a byte-order mark names", "NUL-"
         "interleaved text shows"),
         encoded("/robots.txt", b"User-agent: *\nDisallow: /\n".decode().encode("utf-16-le"),
                 "text/plain")),
    cell("robots-latin1-utf8-url", "robots.txt", "Latin-1 declared, Disallow: /café/ "
         "(URL in UTF-8)", {R}, "robots.txt", RESERVED,
         "RFC 9309 §2.2.2 (octets compared percent-encoded) and §2.3 (UTF-8): a rule whose "
         "octets are not UTF-8 disallows whatever they spell (read as *)",
         encoded("/robots.txt", LATIN1_ROBOTS, "text/plain; charset=iso-8859-1",
                 "/caf%C3%A9/one")),
    cell("robots-latin1-latin1-url", "robots.txt", "Latin-1 declared, Disallow: /café/ "
         "(URL in Latin-1)", {R}, "robots.txt", RESERVED, "as above: /caf%E9/ is covered too",
         encoded("/robots.txt", LATIN1_ROBOTS, "text/plain; charset=iso-8859-1",
                 "/caf%E9/one")),
    cell("robots-invalid-bytes", "robots.txt", "invalid UTF-8 octets in Disallow", {R},
         "robots.txt", RESERVED, "RFC 9309 §2.3: not UTF-8; the unreadable octets disallow "
         "whatever they were",
         encoded("/robots.txt", b"User-agent: *\nDisallow: /pri\xff\xfevate/\n", "text/plain",
                 "/pri%FF%FEvate/one")),
    cell("aitxt-utf16-bom", "ai.txt", "UTF-16 with BOM (Disallow: /)", {R}, "ai.txt",
         RESERVED, "ai.txt (robots.txt syntax, RFC 9309 §2.3 reading): the BOM names the "
         "encoding", encoded("/ai.txt", "User-agent: *\nDisallow: /\n".encode("utf-16"),
                             "text/plain")),
    cell("tdmrep-utf16-bom", "tdmrep.json", "UTF-16 with BOM (reservation 1)", {R}, "tdmrep",
         EITHER, "RFC 8259 §8.1 (JSON is UTF-8); " + TDMREP,
         encoded("/.well-known/tdmrep.json", TDM_RESERVED.encode("utf-16"),
                 "application/json")),
    cell("image-xmp-utf16", "image (embedded XMP)", "XMP packet in UTF-16 (PNG iTXt)", {D},
         "iptc", RESERVED, "ISO 16684-1 §7 (a packet may be UTF-8, UTF-16 or UTF-32); IPTC "
         "Photo Metadata plus:DataMining DMI-PROHIBITED-AIMLTRAINING: reserved",
         xmp_png("utf-16-le")),
    cell("image-xmp-utf32-cut", "image (embedded XMP)", "XMP packet in UTF-32BE, cut off",
         {D}, "iptc", UNREAD, "metadata present but unreadable fails closed (issue 14 item 4; "
         "IPTC Photo Metadata)", xmp_png("utf-32-be", cut=True)),
    cell("image-c2pa-cbor-bomb", "image (embedded C2PA)",
         "damaged manifest declaring a 2.1 GB CBOR string (fuzz finding)", {D}, "c2pa", UNREAD,
         "C2PA/CAWG training-mining (validity is recorded): a manifest that does not validate "
         "is present but unreadable, failing closed (issue 14 item 4); the native read runs "
         "in a child process under a 512 MiB address-space bound",
         c2pa_png(ROOT / "tests" / "data" / "readers" / "c2pa-cbor-length-bomb.png")),
    # -- content codings cut off, or unknown (RFC 9110 §8.4.1) --------------------------
    cell("robots-gzip-cut", "robots.txt", "gzip coding cut off (trailer and last bytes)", {R},
         "robots.txt", UNREAD, CODING_CUT + "; " + RFC9309_UNREACHABLE,
         coded("/robots.txt", "User-agent: *\nDisallow: /\n" * 3, "gzip", 20, "text/plain")),
    cell("robots-br-cut", "robots.txt", "brotli coding cut off", {R}, "robots.txt", UNREAD,
         CODING_CUT + "; " + RFC9309_UNREACHABLE,
         coded("/robots.txt", "User-agent: *\nDisallow: /\n" * 3, "br", 3, "text/plain")),
    cell("robots-unknown-coding", "robots.txt", "Content-Encoding x-unknown", {R},
         "robots.txt", UNREAD, CODING_UNKNOWN + "; " + RFC9309_UNREACHABLE,
         coded("/robots.txt", "User-agent: *\nDisallow: /\n", "x-unknown", 0, "text/plain")),
    cell("tdmrep-deflate-cut", "tdmrep.json", "deflate coding cut off", {R}, "tdmrep", UNREAD,
         CODING_CUT + "; " + TDMREP,
         coded("/.well-known/tdmrep.json", TDM_RESERVED + " " * 200, "deflate", 6,
               "application/json")),
    cell("page-gzip-cut", "page (HTML meta)", "gzip coding cut off before the meta tag", {D},
         "http", UNREAD, CODING_CUT,
         coded("/articles/one", NOAI.replace("<title>t</title>", "<title>" + "t" * 400
                                             + "</title>"), "gzip", 60, "text/html")),
    cell("page-unknown-coding", "page (HTML meta)", "Content-Encoding x-unknown", {D}, "http",
         UNREAD, CODING_UNKNOWN, coded("/articles/one", NOAI, "x-unknown", 0, "text/html")),
    # -- 206 Partial Content to a request without Range (RFC 9110 §15.3.7) ------------
    cell("robots-206", "robots.txt", "206 Partial Content, never asked for", {R}, "robots.txt",
         UNREAD, PARTIAL_206 + "; " + RFC9309_UNREACHABLE,
         partial_content("/robots.txt", "User-agent: *\nAllow: /public/\nDisallow: /\n",
                         "text/plain")),
    cell("tdmrep-206", "tdmrep.json", "206 Partial Content, never asked for", {R}, "tdmrep",
         UNREAD, PARTIAL_206 + "; " + TDMREP,
         # The part is valid JSON that permits: only the 206 can refuse it.
         partial_content("/.well-known/tdmrep.json", '[{"location": "/", "tdm-reservation": 0}]'
                         + " " * 41, "application/json")),
    cell("page-206", "page (HTML meta)", "206 Partial Content, never asked for", {D}, "http",
         UNREAD, PARTIAL_206, partial_content("/articles/one", NOAI + " " * 200, "text/html")),
    cell("image-labelled-octet-stream", "image (embedded XMP)",
         "labelled binary/octet-stream", {D}, "iptc", RESERVED, MISLABELLED,
         xmp_png("utf-8", ctype="binary/octet-stream")),
    cell("image-labelled-html", "image (embedded XMP)", "labelled text/html", {D}, "iptc",
         RESERVED, MISLABELLED, xmp_png("utf-8", ctype="text/html; charset=utf-8")),
    cell("page-xhtml-as-xml", "page (HTML meta)", "XHTML labelled application/xml", {D},
         "noai", RESERVED, MISLABELLED_PAGE,
         html_page(('<?xml version="1.0"?>' + NOAI.replace("<html>", '<html xmlns="http://www.'
                    'w3.org/1999/xhtml">').replace('"noai">', '"noai"/>')).encode(),
                   "application/xml")),
    cell("page-as-text-plain", "page (HTML meta)", "labelled text/plain", {D}, "noai",
         RESERVED, MISLABELLED_PAGE, html_page(NOAI.encode(), "text/plain")),
    cell("page-bom-no-type", "page (HTML meta)", "UTF-8 BOM, no Content-Type", {D}, "noai",
         RESERVED, MISLABELLED_PAGE, html_page(b"\xef\xbb\xbf" + NOAI.encode(), "")),
    cell("page-meta-in-body", "page (HTML meta)", "robots meta misplaced in <body>", {D},
         "noai", RESERVED, "noai convention, strict mode: a reservation seen anywhere in the "
         "scanned page holds (rfc mode reads the head only)",
         html_page(b'<html><head><title>t</title></head><body><p>x</p><meta name="robots" '
                   b'content="noai"></body></html>', "text/html")),
    cell("page-meta-http-equiv", "page (HTML meta)", 'meta http-equiv="X-Robots-Tag"', {D},
         "noai", RESERVED, "the page's own header-equivalent statement (HTML http-equiv): read "
         "as the X-Robots-Tag header it names",
         html_page(b'<html><head><meta http-equiv="X-Robots-Tag" content="noai"></head>'
                   b"<body>x</body></html>", "text/html")),
    cell("page-utf16le-declared", "page (HTML meta)", "charset=utf-16le declared, no BOM",
         {D}, "noai", RESERVED, HTML_ENCODING,
         html_page(NOAI.encode("utf-16-le"), "text/html; charset=utf-16le")),
    cell("page-latin1-declared", "page (HTML meta)", "charset=iso-8859-1, Latin-1 bytes",
         {D}, "noai", RESERVED, HTML_ENCODING,
         html_page(NOAI.replace("<title>t", "<title>caf\xe9").encode("latin-1"),
                   "text/html; charset=iso-8859-1")),
    cell("page-invalid-utf8", "page (HTML meta)", "invalid UTF-8 before the meta tag", {D},
         "noai", RESERVED, HTML_ENCODING,
         html_page(NOAI.replace("<title>t", "<title>\xff\xfe\xc3(").encode("latin-1"),
                   "text/html; charset=utf-8")),
    cell("page-meta-utf16-ascii", "page (HTML meta)", "<meta charset=utf-16> in ASCII bytes",
         {D}, "noai", RESERVED, HTML_ENCODING + " (a utf-16 meta charset means UTF-8, "
         "§13.2.3.3)", html_page(NOAI.replace("<title>", '<meta charset="utf-16"><title>')
                                 .encode(), "text/html")),
    cell("page-bogus-charset", "page (HTML meta)", "charset=bogus declared", {D}, "noai",
         RESERVED, HTML_ENCODING + " (an unknown label is ignored)",
         html_page(NOAI.encode(), "text/html; charset=x-bogus")),
]


def host_of(c: Cell) -> str:
    return f"http://{c.id}.fault.example"


# -- the two crawls ----------------------------------------------------------------


@dataclass
class Run:
    rows: dict[str, list[dict[str, Any]]]
    seconds: float
    rss_mb: float
    #: Every URL the fixture web was asked for (both crawls).
    requested: list[str]


def _measured_check(web: FixtureWeb, urls: list[str]) -> tuple[list[dict[str, Any]], float,
                                                               float]:
    """``tdmguard check`` as a fresh process: its rows, wall time and peak RSS."""
    args = suite_settings(["check", *urls, "--format", "json", "--user-agent", UA])
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak.json"
        started = time.monotonic()
        # benchmarks/peakrss.py: ru_maxrss of a direct child of this (large)
        # test process would start at this process's own peak.
        proc = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "peakrss.py"), str(peak), "--",
             sys.executable, "-m", "tdmguard.crawler.cli", *args],
            capture_output=True, cwd=ROOT, env=cli_env(web))
        took = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        rss = json.loads(peak.read_text())["maxrss_mb"]
    return json.loads(proc.stdout), took, rss


def _crawl() -> dict[str, Any]:
    """Both checks, in one fixture web; JSON-able, so xdist workers can share it."""
    with FixtureWeb() as web:
        urls: dict[str, str] = {}
        for c in CELLS:
            urls[c.id] = c.serve(web, host_of(c))
        serial: dict[str, Any] = {}

        def serial_run() -> None:
            pages = [u + str(n) for c in CELLS if c.serial for u in [urls[c.id]]
                     for n in (1, 2, 3)] + [urls[c.id] for c in CELLS if c.second]
            started = time.monotonic()
            serial["rows"] = check_json(
                web, pages, "--user-agent", UA, "-s", "CONCURRENT_REQUESTS=1",
                "-s", "TDMGUARD_ROBOTSTXT_CACHE_TTL=0", "-s", "TDMGUARD_ROBOTSTXT_RETRY_AFTER=0",
                "-s", "TDMGUARD_LOCATION_CACHE_TTL=0", "-s", "TDMGUARD_LOCATION_RETRY_AFTER=0",
                "-s", "TDMGUARD_POLITENESS_DELAY=0", "-s", "TDMGUARD_POLITENESS_BACKOFF=0.2")
            serial["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=serial_run)
        thread.start()
        rows, took, rss = _measured_check(
            web, [urls[c.id] for c in CELLS if not (c.serial or c.second)])
        thread.join()
        assert "rows" in serial, "the serial check failed (see the log)"
        return {"main": {"rows": rows, "seconds": took, "rss_mb": rss},
                "serial": {"rows": serial["rows"], "seconds": serial["seconds"], "rss_mb": 0.0},
                "urls": urls, "requested": web.requested()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The crawls' results, made once per test session: under xdist the
    first worker to get here crawls, the other reads its file."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    result = shared / "fault-matrix.json"
    with open(shared / "fault-matrix.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(_crawl()))
    data = json.loads(result.read_text())

    def by_url(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in items:
            out.setdefault(row["url"], []).append(row)
        return out

    return {name: Run(by_url(data[name]["rows"]), data[name]["seconds"],
                      data[name]["rss_mb"], data["requested"])
            for name in ("main", "serial")} | {"urls": data["urls"]}


def test_every_hostile_case_finishes_in_bounded_time_and_memory(runs: dict[str, Run]) -> None:
    main = runs["main"]
    print(f"fault matrix: {len(CELLS)} cells, {main.seconds:.1f} s, peak RSS "
          f"{main.rss_mb:.0f} MB; serial run {runs['serial'].seconds:.1f} s")
    assert main.seconds < TIME_BOUND_S
    assert main.rss_mb < RSS_BOUND_MB
    assert runs["serial"].seconds < TIME_BOUND_S


@pytest.mark.parametrize("megabytes", [0, 120])
def test_peakrss_reports_the_commands_own_peak(megabytes: int, tmp_path: Path) -> None:
    """The launcher behind the bound: a child of this test process counts
    from this process's peak (ballast makes it large), the command does not."""
    ballast = bytearray(200 * MiB)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touched: resident
    peak = tmp_path / "peak.json"
    code = f"b = bytearray({megabytes} * {MiB}); b[::4096] = b'\\x01' * len(b[::4096])"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peakrss.py"), str(peak),
                           "--", sys.executable, "-c", code])
    assert proc.returncode == 0
    rss = json.loads(peak.read_text())["maxrss_mb"]
    assert megabytes < rss < megabytes + 60, rss
    # What the launcher avoids: a direct child starts from this process's peak.
    direct = subprocess.Popen([sys.executable, "-c", "pass"])
    _pid, _status, usage = os.wait4(direct.pid, 0)
    direct.returncode = 0
    assert usage.ru_maxrss / 1024 > 200, usage.ru_maxrss
    assert len(ballast) == 200 * MiB
    failing = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peakrss.py"),
                              str(peak), "--", sys.executable, "-c", "raise SystemExit(3)"])
    assert failing.returncode == 3


def params(cells: list[Cell]) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.gap)]
                         if c.gap else []) for c in cells]


def test_no_cell_fails_open(runs: dict[str, Any]) -> None:
    """Every decision of every cell refuses, except a known fail-open gap."""
    for c in CELLS:
        run = runs["serial" if c.serial or c.second else "main"]
        base = runs["urls"][c.id]
        urls = [base + str(n) for n in (1, 2, 3)] if c.serial else [base]
        rows = [row for u in urls for row in run.rows.get(u, [])]
        assert rows, c.id
        opened = [row["url"] for row in rows if row["allowed"] and (
            not c.serial or c.all_refused)]
        if c.gap and c.gap.startswith("fails open"):
            assert opened, f"{c.id} no longer fails open: remove its gap"
        else:
            assert not opened, c.id


@pytest.mark.parametrize("c", params([c for c in CELLS if not c.serial]))
def test_cell(c: Cell, runs: dict[str, Any]) -> None:
    url = runs["urls"][c.id]
    decisions = runs["serial" if c.second else "main"].rows[url]
    final = decisions[-1]
    assert final["allowed"] is False, final  # no cell fails open
    assert all(d["allowed"] is False for d in decisions if d["stage"] == "failed")
    assert final["stage"] in c.stages, final
    if c.protocol is not None:
        found = [r for r in final["reasons"] if r["protocol"] == c.protocol]
        assert any(r["verdict"] in c.verdicts for r in found), final["reasons"]
    elif final["stage"] == "failed":
        assert final["error"], final
    if final["stage"] == "refused":
        assert url not in runs["main"].requested  # refused before the download
    if c.second:  # asked twice: the 503 (its own decision, failed), then the retry
        assert runs["serial"].requested.count(url) == 2


@pytest.mark.parametrize("c", params([c for c in CELLS if c.serial]))
def test_serial_cell(c: Cell, runs: dict[str, Any]) -> None:
    """200, 503, 200: the page decided while the document answered 503 is
    refused, the two others are read with the good copy (or, for a document
    that reserves, every page is refused)."""
    base = runs["urls"][c.id]
    finals = {n: runs["serial"].rows[base + str(n)][-1] for n in (1, 2, 3)}
    refused = [n for n, row in finals.items() if not row["allowed"]]
    if c.all_refused:
        assert refused == [1, 2, 3], finals
        for row in finals.values():
            assert any(r["verdict"] in c.verdicts for r in row["reasons"]), row["reasons"]
        return
    assert len(refused) == 1, finals
    row = finals[refused[0]]
    assert row["stage"] in c.stages
    assert any(r["protocol"] == c.protocol and r["verdict"] in c.verdicts
               for r in row["reasons"]), row["reasons"]
    assert all(finals[n]["stage"] == "fetched" for n in finals if n not in refused)


# -- the README table ----------------------------------------------------------------

BEGIN = "<!-- fault-matrix: generated by `python -m tests.test_fault_matrix --write` -->"
END = "<!-- /fault-matrix -->"


def table() -> str:
    lines = [BEGIN, "",
             f"All cells run over real sockets in one `check` with the default settings "
             "(the 503 cells in a second one, one request at a time, with no caching and a "
             f"0.2 s back-off), bounded by {TIME_BOUND_S} s "
             f"and {RSS_BOUND_MB} MB peak RSS for the whole run "
             "(tests/test_fault_matrix.py; resets, trickles and hangs: "
             "tests/test_hostile_web.py).", "",
             "| signal | failure | expected verdict | spec |", "|---|---|---|---|"]
    def md(text: str) -> str:
        return text.replace("|", "/").replace("<", "&lt;")

    for c in CELLS:
        lines.append(f"| {md(c.signal)} | {md(c.failure)} | {md(c.expected())} | "
                     f"{md(c.spec)} |")
    lines += ["", END]
    return "\n".join(lines)


def readme_section(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] if 0 <= start < end else ""


def test_the_readme_table_is_the_parametrisation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section(readme) == table(), (
        "README's fault matrix differs from CELLS: run python -m tests.test_fault_matrix --write")


def _write_readme(path: Path = ROOT / "README.md") -> None:
    text = path.read_text(encoding="utf-8")
    old = readme_section(text)
    if old:
        text = text.replace(old, table())
    else:
        text = text.rstrip("\n") + "\n\n## Fault matrix\n\n" + table() + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        _write_readme()
    else:
        print(table())
