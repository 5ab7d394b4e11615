"""Test-side Scrapy seam: what the tests need that differs by Scrapy version.

The package's own seam is ``tdmguard/middlewares/compat.py``; this one keeps
version differences out of the test modules. CI runs the suite on the oldest
and the newest Scrapy that ``pyproject.toml`` allows.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy.utils.spider import DefaultSpider
from scrapy.utils.test import get_crawler, get_reactor_settings


def make_crawler(spidercls: type[Spider] | None = None,
                 settings_dict: dict[str, Any] | None = None) -> Crawler:
    """``scrapy.utils.test.get_crawler``: a crawler with its settings applied
    (add-ons loaded, settings frozen) and no crawl started.

    Scrapy 2.14's ``get_crawler`` needs an installed reactor (2.15+ does
    not); none is needed to build components, so there the crawler is built
    with ``TWISTED_REACTOR = None``, which skips the reactor check.
    """
    try:
        get_reactor_settings()
    except RuntimeError:  # Scrapy 2.14, no reactor installed in this process
        crawler = Crawler(spidercls or DefaultSpider,
                          {"TWISTED_REACTOR": None, **(settings_dict or {})})
        crawler._apply_settings()
        return crawler
    return get_crawler(spidercls, settings_dict)
