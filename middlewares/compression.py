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

Scrapy also inflates leniently: a gzip, deflate, brotli or zstd stream cut
before its end marker gives back what could be inflated, with no error, and
a coding it cannot decode is left in place. Both are checked here
(:func:`tdmguard.middlewares.codings.incomplete`): a page is dropped the same
way, ``unreadable`` with what was cut; a rights document's fetch fails, so
robots.txt is unreachable (complete disallow) and the others fail closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from tdmguard.middlewares.codings import NO_CODING, incomplete
from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.vocab import AUX_META, REASONS_META, UNREADABLE, Reason

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

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
        coded = response.headers.getlist("Content-Encoding")
        try:
            result = super().process_response(request, response)
        except IgnoreRequest as exc:
            if isinstance(exc, Refused) or request.meta.get(AUX_META):
                raise
            self._drop(request, response, "the body inflates past DOWNLOAD_MAXSIZE (a "
                       "decompression bomb, or a page too large): its rights signals cannot "
                       "be read whole", exc)
        if not coded or not isinstance(result, Response) or not response.body:
            return result
        codings = [c for v in coded for c in v.decode("latin-1").split(",")]
        left = [c.strip() for v in result.headers.getlist("Content-Encoding")
                for c in v.decode("latin-1").split(",")
                if c.strip() and c.strip().lower() not in NO_CODING]
        if left:  # a coding Scrapy could not decode: the body is still coded
            why: str | None = f"Content-Encoding {', '.join(left)} is not one Scrapy can decode"
        else:
            why = incomplete(response.body, result.body, codings,
                             limit=len(result.body) + (1 << 20))
        if why is None:
            return result
        if request.meta.get(AUX_META):  # a rights document: its fetch fails (fails closed)
            raise IgnoreRequest(f"unreadable body: {why}")
        self._drop(request, response, f"{why}: the page's rights signals cannot be read "
                   "whole (RFC 9110 §8.4.1: the coding is part of the representation)")
        raise AssertionError("unreachable")  # _drop raises

    def _drop(self, request: Request, response: Response, detail: str,
              cause: BaseException | None = None) -> None:
        """Record the page's decision (dropped, ``http`` unreadable) and raise."""
        from tdmguard.middlewares.decisions import DecisionMiddleware

        reasons: list[Reason] = request.meta.setdefault(REASONS_META, [])
        reasons.append(Reason(
            "http", UNREADABLE, rule=f"HTTP {response.status}, Content-Encoding "
            + ", ".join(v.decode("latin-1") for v in
                        response.headers.getlist("Content-Encoding")),
            source=response.url, detail=detail))
        decisions = self.crawler.get_downloader_middleware(DecisionMiddleware)
        if decisions is not None:
            decisions.record_dropped(request, reasons, response.status)
        raise Refused(reasons, stage="dropped") from cause
