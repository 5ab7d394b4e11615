"""The check spider: requests exactly the URLs it is given, content discarded."""

from __future__ import annotations

from typing import Any

import scrapy
from scrapy.http import Response


class CheckSpider(scrapy.Spider):
    name = "check"

    def __init__(self, urls: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = list(urls or [])

    async def start(self) -> Any:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True,
                                 errback=self.failed)

    def parse(self, response: Response) -> None:
        return None

    def failed(self, failure: Any) -> None:
        return None
