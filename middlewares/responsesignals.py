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
  to :mod:`tdmguard.middlewares.rsllinks` (``request.meta["tdmguard_rsl_refs"]``), which
  fetches them (``TDMGUARD_RSL_ENABLED``).

A reserved response is dropped and its decision recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


from tdmguard.middlewares.location import TDMREP_META, informative
from tdmguard.middlewares.readers import (
    aipref,
    aitraining,
    assets,
    contentsignal,
    htmlhead,
    noai,
    rsl,
    tdmrep,
)
from tdmguard.middlewares.rsllinks import RSL_REFS_META
from tdmguard.middlewares.settings import Config, require_enabled
from tdmguard.middlewares.vocab import Reason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

ASSET_TYPES = ("image/", "application/pdf", "application/epub", "application/octet-stream")
#: The headers and meta names some reader reads; a response with none of them
#: (the common case) skips the readers, whose answer would only be "absent".
SIGNAL_HEADERS = frozenset({b"tdm-reservation", b"tdm-policy", b"content-usage",
                            b"content-signal", b"x-robots-tag", b"robots-tag"})
SIGNAL_METAS = frozenset({"tdm-reservation", "tdm-policy", "robots"})


class ResponseSignals:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_RESPONSE_SIGNALS_ENABLED")
        self.config = Config.from_settings(s)
        self.assets = s.getbool("TDMGUARD_ASSETS_ENABLED", True)
        self.matching = s.get("TDMGUARD_TDMREP_MATCHING", "first")
        self.tdmrep_on = s.getbool("TDMGUARD_TDMREP_ENABLED", True)
        self.rsl_on = s.getbool("TDMGUARD_RSL_ENABLED", True)
        self.rsl_held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        self.metas = SIGNAL_METAS | {t.lower() for t in self.config.tokens}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResponseSignals:
        return cls(crawler)

    def check(self, request: Request, response: Response) -> list[Reason]:
        c = self.config
        url, headers, body = response.url, response.headers, response.body
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        head = None
        embedded: list = []
        reasons: list[Reason] = []
        if "html" in ctype or (not ctype and body[:512].lstrip()[:1] == b"<"):
            head = htmlhead.scan(body)
        elif self.assets and (ctype.startswith(ASSET_TYPES) or not ctype):
            asset = assets.read_asset(body, ctype, url)
            embedded = asset.tdm
            reasons += asset.reasons(c.purpose, c.mode)
        present = {k.lower() for k in headers} & SIGNAL_HEADERS
        if head is not None and any(m.key in self.metas for m in head.metas):
            present.add(b"<meta>")
        file = request.meta.get(TDMREP_META)
        if self.tdmrep_on and (present or embedded or (file is not None and file.rules)):
            reasons += tdmrep.resolve(url, file, headers, head, embedded, c.purpose, c.mode,
                                      self.matching)
        if present:
            reasons += aipref.header_reasons(headers, c.purpose, c.mode)
            reasons += contentsignal.header_reasons(headers, c.purpose, c.mode)
            reasons += aitraining.directive_reasons(headers, head, c.tokens, c.purpose, c.mode)
            reasons += noai.noai_reasons(headers, head, c.tokens, ctype, c.purpose, c.mode)
        if self.rsl_on:
            reasons += self._rsl(request, url, headers, head)
        return informative(reasons)

    def _rsl(self, request: Request, url: str, headers: Headers, head: htmlhead.Head | None
             ) -> list[Reason]:
        has_link = b"Link" in headers
        if not has_link and (head is None or not (head.links or head.scripts)):
            return []  # the common case: nothing names a licence
        refs = rsl.discover(headers=headers if has_link else None, head=head, base_url=url)
        if refs:
            request.meta[RSL_REFS_META] = refs
        inline = rsl.inline_documents(head, url)
        if not inline:
            return []
        c = self.config
        return rsl.evaluate_all(inline, url, c.purpose, c.mode, self.rsl_held)
