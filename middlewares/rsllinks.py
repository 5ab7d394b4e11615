"""RSL licences a page names itself, read before the spider sees the page.

RSL 1.0 discovery beyond robots.txt ``License:`` (which
:mod:`tdmguard.middlewares.location` reads before any page is requested): an HTTP
``Link: <url>; rel="license"; type="application/rsl+xml"`` header, an HTML
``<link rel="license" type="application/rsl+xml" href=...>`` and an inline
``<script type="application/rsl+xml">`` licence. Found only once the page is
downloaded, so a reservation drops the response (stage ``dropped``).

Each licence URL is fetched once while other pages naming it wait, cached
``TDMGUARD_LOCATION_CACHE_TTL`` seconds (an unreadable one is re-fetched after
``TDMGUARD_LOCATION_RETRY_AFTER``), stored as an ``rsl:<url>`` ledger
snapshot and cited by the decision. An unreadable licence fails closed, as the
RSL guide asks ("must retrieve and comply ... before accessing"). A licence the
origin's robots.txt already named is not read twice. ``TDMGUARD_RSL_ENABLED``
and ``TDMGUARD_RSL_LICENSES`` apply as for robots.txt licences.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from tdmguard.middlewares.fetch import PerOrigin, fetch_snapshot, gather, parse_fetched
from tdmguard.middlewares.location import DOC_LIMIT, informative
from tdmguard.middlewares.readers import rsl
from tdmguard.middlewares.settings import Config, require_enabled
from tdmguard.middlewares.snapshots import origin_of
from tdmguard.middlewares.vocab import RSL_REFS_META, SNAPSHOTS_META

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from tdmguard.middlewares.vocab import Reason

__all__ = ["RSL_REFS_META", "RslLicences"]


class RslLicences:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_RSL_ENABLED", "TDMGUARD_RESPONSE_SIGNALS_ENABLED")
        self.crawler = crawler
        self.config = Config.from_settings(s)
        self.held = tuple(s.getlist("TDMGUARD_RSL_LICENSES"))
        self.ttl = min(s.getfloat("TDMGUARD_LOCATION_CACHE_TTL", 86400), 86400.0)
        self.retry_after = s.getfloat("TDMGUARD_LOCATION_RETRY_AFTER", 300)
        self.max_redirects = s.getint("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5)
        self._licences: PerOrigin[tuple[rsl.RslDocument, str]] = PerOrigin()  # by licence URL

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RslLicences:
        return cls(crawler)

    async def reasons(self, request: Request, refs: list[rsl.LicenseRef]) -> list[Reason]:
        """The reasons of every licence in *refs* for the request's URL."""
        snapshots = request.meta.setdefault(SNAPSHOTS_META, {})
        refs = [r for r in refs if f"rsl:{r.url}" not in snapshots]  # read via robots.txt
        if not refs:
            return []
        found = await gather(*(self._licences.get(ref.url, partial(self._load, ref))
                               for ref in refs))
        for ref, (_doc, sha256) in zip(refs, found, strict=True):
            snapshots[f"rsl:{ref.url}"] = sha256
        c = self.config
        return informative(rsl.evaluate_all([doc for doc, _ in found], request.url,
                                            c.purpose, c.mode, self.held))

    async def _load(self, ref: rsl.LicenseRef
                    ) -> tuple[tuple[rsl.RslDocument, str], float]:
        got, snapshot = await fetch_snapshot(self.crawler, origin_of(ref.url), ref.url, "rsl",
                                             self.max_redirects, DOC_LIMIT)
        doc = parse_fetched(rsl.RslDocument.parse, got, DOC_LIMIT)
        ttl = self.retry_after if doc.state == "error" else self.ttl
        return (doc, snapshot.sha256), time.monotonic() + ttl
