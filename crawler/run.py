"""Run a Scrapy crawl with the add-on and collect its decisions in memory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

# Scrapy's CookiesMiddleware builds a default TLDExtract at import; keep it
# offline (STYLE.md §3) before scrapy is imported anywhere in this process.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from scrapy.crawler import CrawlerProcess  # noqa: E402
from scrapy.utils.project import get_project_settings  # noqa: E402

from tdmguard.middlewares import signals  # noqa: E402
from tdmguard.middlewares.snapshots import Snapshot  # noqa: E402
from tdmguard.middlewares.vocab import Decision  # noqa: E402


@dataclass
class CrawlResult:
    decisions: list[Decision] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def base_settings(overrides: dict[str, Any]) -> Any:
    settings = get_project_settings()
    settings.setmodule("tdmguard.crawler.settings", priority="project")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawl(spidercls: type, overrides: dict[str, Any], **spider_kwargs: Any) -> CrawlResult:
    """Run one crawl to completion in this process (the reactor runs once)."""
    result = CrawlResult()
    settings = base_settings({"LOG_LEVEL": "WARNING", **overrides})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spidercls)

    def on_decision(decision: Decision) -> None:
        result.decisions.append(decision)

    def on_snapshot(snapshot: Snapshot) -> None:
        result.snapshots.append(snapshot)

    def on_item(item: Any) -> None:
        result.items.append(dict(item))

    crawler.signals.connect(on_decision, signal=signals.decision_recorded, weak=False)
    crawler.signals.connect(on_snapshot, signal=signals.snapshot_fetched, weak=False)
    from scrapy import signals as scrapy_signals

    crawler.signals.connect(on_item, signal=scrapy_signals.item_scraped, weak=False)
    failures: list[Any] = []
    process.crawl(crawler, **spider_kwargs).addErrback(failures.append)
    process.start()
    if failures:
        exc = failures[0].value
        raise CrawlFailed(f"the crawl could not start: {type(exc).__name__}: {exc}")
    result.stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    return result


class CrawlFailed(RuntimeError):
    """Scrapy refused to start the crawl (usually an unusable setting)."""
