"""Sample-web publishers for each machine-readable reservation beyond robots.txt.

Used by :mod:`tdmguard.crawler.sampleweb` (``tdmguard demo``) and by the end-to-end
tests. Real documents are used where ../shared/real-web has one (a real
tdmrep.json, a real HTML head with TDMRep meta tags, a real robots.txt with
Cloudflare Content-Signal lines), with their sources in data/sampleweb/SOURCES.tsv.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tdmguard.crawler.fixtureweb import FixtureWeb

DATA = Path(__file__).parent / "data" / "sampleweb"

SEEDS = [
    "http://regenstudio.example/",
    "http://tdm-header.example/",
    "http://itcop.example/",
    "http://aipref.example/",
    "http://researchsquare.example/",
    "http://noai.example/",
    "http://dat.example/",
    "http://rsl.example/",
    "http://rsl-link.example/",
    "http://aitxt.example/",
    "http://photos.example/",
]

RSL_LICENCE = b"""<?xml version="1.0" encoding="UTF-8"?>
<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/">
    <license>
      <permits type="usage">search</permits>
      <prohibits type="usage">ai-train</prohibits>
    </license>
  </content>
</rsl>
"""

IPTC_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
    b'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def jpeg_with_xmp(xmp: bytes) -> bytes:
    """A minimal JPEG whose APP1 segment carries *xmp* (as cameras write it)."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return b"\xff\xd8" + app1 + b"\xff\xd9"


def page(title: str, links: Sequence[str] = (), head: str = "") -> str:
    items = "".join(f'<li><a href="{h}">{h}</a></li>' for h in links)
    return (f"<!doctype html><html><head><title>{title}</title>{head}</head>"
            f"<body><h1>{title}</h1><ul>{items}</ul></body></html>")


def _site(web: FixtureWeb, origin: str, paths: list[str], **extra: dict[str, Any]) -> None:
    web.add(f"{origin}/", page(origin, paths))
    for path in paths:
        web.add(f"{origin}{path}", page(f"{origin}{path}"), **extra.get(path, {}))


def add_signal_publishers(web: FixtureWeb) -> None:
    # TDMRep site file (real regenstudio.world tdmrep.json): /dpa-* reserved.
    web.add("http://regenstudio.example/.well-known/tdmrep.json",
            (DATA / "regenstudio.world.tdmrep.json").read_bytes(),
            headers={"Content-Type": "application/json"})
    _site(web, "http://regenstudio.example", ["/dpa-guide", "/articles/soil"])
    # TDMRep response header.
    _site(web, "http://tdm-header.example", ["/report", "/free"],
          **{"/report": {"headers": {"tdm-reservation": "1", "Content-Type": "text/html"}}})
    # TDMRep HTML meta (real itcop.org head).
    head = (DATA / "itcop.org.head-metadata.html").read_text(encoding="utf-8")
    web.add("http://itcop.example/", page("itcop", ["/essay"]))
    web.add("http://itcop.example/essay", page("essay", head=head))
    # IETF aipref Content-Usage in robots.txt, with a carve-out.
    web.add("http://aipref.example/robots.txt",
            "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n"
            "Content-Usage: /ai-ok/ train-ai=y\n")
    _site(web, "http://aipref.example", ["/story", "/ai-ok/dataset"])
    # Cloudflare Content-Signal (real researchsquare.com robots.txt).
    web.add("http://researchsquare.example/robots.txt",
            (DATA / "researchsquare.com.txt").read_bytes())
    _site(web, "http://researchsquare.example", ["/article/rs-1"])
    # noai in X-Robots-Tag and in meta robots.
    _site(web, "http://noai.example", ["/art", "/gallery"],
          **{"/art": {"headers": {"X-Robots-Tag": "noai, noimageai",
                                  "Content-Type": "text/html"}}})
    web.add("http://noai.example/gallery",
            page("gallery", head='<meta name="robots" content="noimageai">'))
    # DisallowAITraining in robots.txt.
    web.add("http://dat.example/robots.txt",
            "User-agent: *\nDisallowAITraining: /papers/\nAllow: /\n")
    _site(web, "http://dat.example", ["/papers/1", "/about"])
    # RSL licence named by robots.txt.
    web.add("http://rsl.example/robots.txt",
            "License: http://rsl.example/license.xml\nUser-agent: *\nAllow: /\n")
    web.add("http://rsl.example/license.xml", RSL_LICENCE,
            headers={"Content-Type": "application/rsl+xml"})
    _site(web, "http://rsl.example", ["/news"])
    # RSL licence named by the pages themselves (Link header), not robots.txt:
    # the archive's pages are downloaded, then dropped.
    web.add("http://rsl-link.example/", page("rsl-link", ["/archive/1", "/contact"]))
    web.add("http://rsl-link.example/archive/1", page("archive"), headers={
        "Link": '<http://rsl-link.example/rsl.xml>; rel="license"; type="application/rsl+xml"',
        "Content-Type": "text/html; charset=utf-8"})
    web.add("http://rsl-link.example/contact", page("contact"))
    web.add("http://rsl-link.example/rsl.xml", RSL_LICENCE,
            headers={"Content-Type": "application/rsl+xml"})
    # Spawning ai.txt: images reserved.
    web.add("http://aitxt.example/ai.txt",
            "# Spawning AI\nUser-agent: *\nDisallow: *.jpg\nAllow: *.html\nAllow: /\n")
    _site(web, "http://aitxt.example", ["/index.html", "/cat.jpg"],
          **{"/cat.jpg": {"headers": {"Content-Type": "image/jpeg"}}})
    # Embedded asset metadata: IPTC plus:DataMining and a C2PA do-not-train manifest.
    web.add("http://photos.example/", page("photos", ["/iptc.jpg", "/c2pa.png", "/plain.jpg"]))
    web.add("http://photos.example/iptc.jpg", jpeg_with_xmp(IPTC_XMP),
            headers={"Content-Type": "image/jpeg"})
    web.add("http://photos.example/c2pa.png", (DATA / "c2pa-do-not-train.png").read_bytes(),
            headers={"Content-Type": "image/png"})
    web.add("http://photos.example/plain.jpg", b"\xff\xd8\xff\xd9",
            headers={"Content-Type": "image/jpeg"})
