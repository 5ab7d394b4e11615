"""Keep long crawls fast: freeze start-up objects out of full GC scans.

Enabled by the add-on (``TDMGUARD_GC_FREEZE``, default True). On
``spider_opened`` everything alive after start-up (Scrapy's modules,
tdmguard's readers, the Public Suffix List trie, the blocklists) is moved to
the permanent generation with :func:`gc.freeze`: it lives for the whole crawl
anyway, and each full collection would otherwise walk it again (about 60 ms a
time with the add-on loaded, many times a minute on a busy crawl). Nothing
that would be collected is kept: a collection runs first.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from scrapy import signals

from tdmguard.middlewares.settings import require_enabled

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class GcFreeze:
    def __init__(self, crawler: Crawler) -> None:
        require_enabled(crawler.settings, "TDMGUARD_GC_FREEZE")
        self.warm_psl = bool(crawler.settings.get("TDMGUARD_DB"))
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GcFreeze:
        return cls(crawler)

    def spider_opened(self, spider: Any = None) -> None:
        if self.warm_psl:  # the ledger's domain column loads it on first use
            from tdmguard.blocklists.domains import registrable_domain

            registrable_domain("www.example.com")
        gc.collect()
        gc.freeze()
