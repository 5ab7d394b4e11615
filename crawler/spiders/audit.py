"""The audit spider: follows links within its seeds' hosts, every check on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor


class AuditSpider(scrapy.Spider):
    """``scrapy crawl audit -a seeds=URL[,URL] [-a max_pages=N] [-a depth=D]``."""

    name = "audit"

    def __init__(self, seeds: str | list[str] = "", max_pages: int | str = 0,
                 depth: int | str = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds.split(",") if isinstance(seeds, str) else list(seeds)
        self.seeds = [s.strip() for s in self.seeds if s.strip()]
        self.max_pages = int(max_pages or 0)
        self.max_depth = int(depth or 0)
        self.hosts = {urlsplit(s).hostname for s in self.seeds}
        self.pages = 0
        # Assets matter for training too: follow images as well as pages.
        self.links = LinkExtractor(deny_extensions=(), tags=("a", "area", "img"),
                                   attrs=("href", "src"))

    async def start(self) -> Any:
        for url in self.seeds:
            yield scrapy.Request(url, callback=self.parse, meta={"depth": 0})

    def parse(self, response: Response) -> Iterator[Any]:
        self.pages += 1
        yield {"url": response.url, "status": response.status,
               "length": len(response.body)}
        if self.max_pages and self.pages >= self.max_pages:
            raise CloseSpider("max_pages")
        depth = response.meta.get("depth", 0)
        if not isinstance(response, TextResponse):
            return
        if self.max_depth and depth >= self.max_depth:
            return
        for link in self.links.extract_links(response):
            if urlsplit(link.url).hostname in self.hosts:
                yield response.follow(link.url, callback=self.parse,
                                      meta={"depth": depth + 1})
