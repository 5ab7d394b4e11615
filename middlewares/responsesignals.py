"""Response-level rights reservations, read after download, before the spider.

A response check run by :class:`~tdmguard.middlewares.decisions.DecisionMiddleware`
(``TDMGUARD_RESPONSE_SIGNALS_ENABLED``). One scan of the HTML ``<head>``
(never the whole page), shared by every reader:

- TDMRep: ``tdm-reservation``/``tdm-policy`` headers and meta, resolved with the
  origin's tdmrep.json and embedded EPUB/PDF statements (file < header < meta
  < embedded; in strict mode any ``1`` holds);
- IETF aipref ``Content-Usage`` and Cloudflare ``Content-Signal`` headers;
- ``noai``/``noimageai``/``noml`` and ``DisallowAITraining`` in X-Robots-Tag,
  ``robots-tag`` and robots / our-token meta tags;
- embedded metadata of images, PDF and EPUB (IPTC ``plus:DataMining``,
  C2PA/CAWG training-and-data-mining, TDMRep), ``TDMGUARD_ASSETS_ENABLED``.
  An asset whose metadata cannot be read is never silently allowed;
- RSL licences the page names: inline ``<script type="application/rsl+xml">``
  ones are read here; ``Link`` headers and ``<link rel="license">`` are handed
  to :mod:`tdmguard.middlewares.rsllinks` (``RSL_REFS_META``), which
  fetches them (``TDMGUARD_RSL_ENABLED``).

Each protocol has its own switch (``TDMGUARD_TDMREP_ENABLED``,
``TDMGUARD_CONTENT_USAGE_ENABLED``, ``TDMGUARD_CONTENT_SIGNAL_ENABLED``,
``TDMGUARD_DISALLOW_AI_TRAINING_ENABLED``, ``TDMGUARD_NOAI_ENABLED``,
``TDMGUARD_IPTC_ENABLED``, ``TDMGUARD_C2PA_ENABLED``, ``TDMGUARD_RSL_ENABLED``);
the loop runs the response-stage entries of
:mod:`tdmguard.middlewares.registry` that are on.

A ``<head>`` not ended within the scanned 64 KiB is ``html-head``
``unreadable`` (a meta tag past it would be missed): fails closed.

A reserved response is dropped and its decision recorded.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tdmguard.middlewares import describe, registry
from tdmguard.middlewares.location import informative
from tdmguard.middlewares.readers import assets, htmlhead
from tdmguard.middlewares.registry import RESPONSE, ResponseContext
from tdmguard.middlewares.settings import Config, require_enabled
from tdmguard.middlewares.vocab import UNREADABLE, Reason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

ASSET_TYPES = ("image/", "application/pdf", "application/epub", "application/octet-stream")
#: The headers and meta names some reader reads; a response with none of them
#: (the common case) skips the readers, whose answer would only be "absent".
SIGNAL_HEADERS = frozenset({b"tdm-reservation", b"tdm-policy", b"content-usage",
                            b"content-signal", b"x-robots-tag", b"robots-tag"})
SIGNAL_METAS = frozenset({"tdm-reservation", "tdm-policy", "robots", "x-robots-tag",
                          "robots-tag"})
#: Protocols whose evaluation needs the embedded asset metadata.
ASSET_PROTOCOLS = frozenset({"tdmrep", "iptc", "c2pa"})


#: An HTML document's start: a doctype, the html or the head element.
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head)[\s>/]", re.I)


def looks_like_html(body: bytes, ctype: str) -> bool:
    """An HTML page under another label (or none): XHTML served as
    ``application/xml``, a page labelled ``text/plain`` or
    ``application/octet-stream``, one with a byte-order mark and no type. A
    pipeline parses it as HTML whatever the label, so its meta tags are read."""
    start = body[:4096]
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its BOM
        start = start.decode("utf-16", "replace").encode("utf-8", "replace")
    if not ctype and start.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return True  # no type and markup: as before, any markup is scanned
    return _HTML_START.search(start) is not None


class ResponseSignals:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_RESPONSE_SIGNALS_ENABLED")
        self.config = Config.from_settings(s)
        self.matching = s.get("TDMGUARD_TDMREP_MATCHING", "first")
        self.rsl_held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        # Directives the operator reads as a reservation of what this crawl
        # does (datadiligence's respect_noindex, Bing's noarchive).
        self.noai_extra: dict[str, tuple[str, ...]] = {
            d: (self.config.purpose,) for d in describe.extra_noai_directives(s.get)}
        #: The response-level protocols switched on, from the registry.
        self.protocols = registry.evaluators(s.getbool, RESPONSE)
        names = {p.name for p, _ in self.protocols}
        self.assets = s.getbool("TDMGUARD_ASSETS_ENABLED", True) and bool(
            names & ASSET_PROTOCOLS)
        self.metas = SIGNAL_METAS | {t.lower() for t in self.config.tokens}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResponseSignals:
        return cls(crawler)

    def check(self, request: Request, response: Response) -> list[Reason]:
        c = self.config
        url, headers, body = response.url, response.headers, response.body
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        head = asset = None
        if self.assets and assets.magic(body):  # an image or PDF, whatever the label
            asset = assets.read_asset(body, ctype, url)
        elif "html" in ctype or looks_like_html(body, ctype):
            head = htmlhead.scan(body, content_type=ctype)  # one scan, shared by all
        elif self.assets and (ctype.startswith(ASSET_TYPES) or not ctype):
            asset = assets.read_asset(body, ctype, url)
        signals = any(k.lower() in SIGNAL_HEADERS for k in headers) or (
            head is not None and any(m.key in self.metas
                                     for m in (*head.metas, *head.body_metas)))
        ctx = ResponseContext(url, headers, c.tokens, c.purpose, c.mode, ctype,
                              self.matching, self.rsl_held, head, asset, signals,
                              request.meta, self.noai_extra)
        reasons: list[Reason] = []
        if head is not None and head.truncated:
            # A meta tag past the scanned part (after many others) would be missed.
            reasons.append(Reason(
                "html-head", UNREADABLE, rule=f"<head> not ended within {htmlhead.HEAD_LIMIT} "
                f"bytes (last tag read on line {head.last_line})", source=url,
                detail=f"the <head> is longer than the {htmlhead.HEAD_LIMIT // 1024} KiB "
                "tdmguard scans, so a reservation meta tag after byte "
                f"{htmlhead.HEAD_LIMIT} would be missed"))
        for _protocol, evaluate in self.protocols:
            # Without a signal header, meta, asset or licence link each
            # evaluator answers [] at once (the common case).
            reasons += evaluate(ctx)
        return informative(reasons)
