"""Scrapy's ``HttpCompressionMiddleware`` with a decision when it drops a response.

Scrapy (2.11+) stops inflating a ``Content-Encoding`` body once it passes
``DOWNLOAD_MAXSIZE`` and raises ``IgnoreRequest`` from ``process_response``.
An exception raised there goes to the request's errback only: no other
downloader middleware hears of it, so :class:`DecisionMiddleware` (585,
below compression's 590 on the way back) never decided the page and, in a
``check``, it had no verdict at all. This subclass takes Scrapy's place at
590 (the add-on swaps it in unless the project configured compression
itself) and, when Scrapy drops the response, records the decision first:
stage ``dropped``, reason ``unreadable`` (a body that cannot be read whole
cannot have its rights signals read; RFC 9110 §8.4 content codings are part
of the representation), then lets the drop go on as a :class:`Refused`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest

from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.vocab import AUX_META, REASONS_META, UNREADABLE, Reason

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

SCRAPY_COMPRESSION = "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"


class RecordedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Decompression as Scrapy does it; a dropped response gets its decision."""

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordedHttpCompressionMiddleware:
        mw = super().from_crawler(crawler)
        mw.crawler = crawler
        return mw

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            if isinstance(exc, Refused) or request.meta.get(AUX_META):
                raise
            from tdmguard.middlewares.decisions import DecisionMiddleware

            reasons: list[Reason] = request.meta.setdefault(REASONS_META, [])
            reasons.append(Reason(
                "http", UNREADABLE, rule=f"HTTP {response.status}, Content-Encoding "
                + ", ".join(v.decode("latin-1") for v in
                            response.headers.getlist("Content-Encoding")),
                source=response.url,
                detail="the body inflates past DOWNLOAD_MAXSIZE (a decompression bomb, or "
                "a page too large): its rights signals cannot be read whole"))
            decisions = self.crawler.get_downloader_middleware(DecisionMiddleware)
            if decisions is not None:
                decisions.record_dropped(request, reasons, response.status)
            raise Refused(reasons, stage="dropped") from exc
