"""The audit spider: follows links within its seeds' hosts, every check on.

The limits are Scrapy's own: ``depth`` sets :setting:`DEPTH_LIMIT`
(DepthMiddleware), ``max_pages`` sets :setting:`CLOSESPIDER_ITEMCOUNT`
(CloseSpider; the spider yields one item per page that reaches it), and
``allowed_domains`` (the seeds' host names) keeps the crawl on those hosts
through Scrapy's OffsiteMiddleware. An argument left at 0 leaves the setting
as configured (``-s DEPTH_LIMIT=3`` still works).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


OFFSITE = "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"


class SeedHostsOffsiteMiddleware(OffsiteMiddleware):
    """Scrapy's offsite filter, narrowed to exactly the seeds' hosts.

    Scrapy's policy also admits subdomains of ``allowed_domains``; the audit
    follows links "within the seeds' hosts" (``example.com`` does not admit
    ``blog.example.com``). This is the override ``should_follow`` documents.
    """

    def should_follow(self, request: scrapy.Request, spider: scrapy.Spider) -> bool:
        hosts = getattr(spider, "allowed_domains", None)
        if not hosts:
            return True
        return (urlparse_cached(request).hostname or "") in hosts


def _request_host(url: str) -> str | None:
    try:
        return urlparse_cached(scrapy.Request(url)).hostname
    except ValueError:  # not a URL: start() reports it
        return None


class AuditSpider(scrapy.Spider):
    """``scrapy crawl audit -a seeds=URL[,URL] [-a max_pages=N] [-a depth=D]``."""

    name = "audit"

    def __init__(self, seeds: str | list[str] = "", max_pages: int | str = 0,
                 depth: int | str = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        urls = seeds.split(",") if isinstance(seeds, str) else list(seeds)
        self.seeds = [s.strip() for s in urls if s.strip()]
        self.max_pages = int(max_pages or 0)
        self.max_depth = int(depth or 0)
        # Host names as Scrapy will request them (lower case, IDNA-encoded).
        self.allowed_domains = sorted({h for s in self.seeds if (h := _request_host(s))})
        # Assets matter for training too: follow images as well as pages.
        self.links = LinkExtractor(deny_extensions=(), tags=("a", "area", "img"),
                                   attrs=("href", "src"))

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # Scrapy's entry is switched off by the import path that
        # DOWNLOADER_MIDDLEWARES_BASE uses (a class key would not match it);
        # ours takes its order (None if the project switched offsite off).
        # Set at the dict's own priority, so a -s DOWNLOADER_MIDDLEWARES keeps it.
        name = "DOWNLOADER_MIDDLEWARES"
        order = settings.getwithbase(name).get(OFFSITE, 50)
        settings.set(name, {**settings.getdict(name), OFFSITE: None,
                            SeedHostsOffsiteMiddleware: order},
                     priority=max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["spider"]))

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> AuditSpider:
        spider: AuditSpider = super().from_crawler(crawler, *args, **kwargs)
        # The settings freeze after the spider is built (Scrapy >= 2.11), so
        # its arguments can still set them; an explicit argument wins over -s.
        if spider.max_depth:
            crawler.settings.set("DEPTH_LIMIT", spider.max_depth, priority="cmdline")
        if spider.max_pages:
            # Not CLOSESPIDER_PAGECOUNT: that counts every response the engine
            # receives, robots.txt and the other location-level files included,
            # so --max-pages 1 would stop before the first page.
            crawler.settings.set("CLOSESPIDER_ITEMCOUNT", spider.max_pages, priority="cmdline")
        return spider

    async def start(self) -> Any:
        for url in self.seeds:
            # A seed that redirects to another host is still fetched
            # (allow_offsite); links found there stay within the seeds' hosts.
            # Not dont_filter, as Scrapy's own start requests are: that keeps
            # the seed out of the duplicate filter, so a page linking back to
            # it had it fetched a second time.
            yield scrapy.Request(url, callback=self.parse, meta={"allow_offsite": True})

    def parse(self, response: Response) -> Iterator[Any]:
        yield {"url": response.url, "status": response.status,
               "length": len(response.body)}
        if not isinstance(response, TextResponse):
            return
        for link in self.links.extract_links(response):
            yield response.follow(link.url, callback=self.parse)
