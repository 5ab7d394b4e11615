"""A decision for a page Scrapy's RedirectMiddleware would give up on.

Enabled by the add-on (order 605, just before RedirectMiddleware at 600 on
the way back; off when ``REDIRECT_ENABLED`` is). A redirect loop, or more
than ``REDIRECT_MAX_TIMES`` redirects, is recorded through the decision
middleware as stage ``failed`` with an ``http`` ``unreadable`` reason, never
allowed. Stats: ``tdmguard/redirects/{loop,too_many}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest, NotConfigured
from w3lib.url import safe_url_string

from tdmguard.middlewares.decisions import DecisionMiddleware
from tdmguard.middlewares.vocab import AUX_META, REASONS_META, UNREADABLE, Reason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.spiders import Spider


class RedirectGuard:
    """A decision for a page Scrapy's RedirectMiddleware (600) would give up
    on: a redirect loop, or more than ``REDIRECT_MAX_TIMES`` redirects.

    Sits at order 605, so it sees each redirect response just before
    RedirectMiddleware does (which raises ``IgnoreRequest`` from
    ``process_response``, where no middleware's ``process_exception`` sees
    it). A loop is a redirect to a URL already in the request's chain (Scrapy
    itself only stops it after ``REDIRECT_MAX_TIMES`` hops, or drops the
    repeat as a duplicate without a word). Stats: ``tdmguard/redirects/{loop,too_many}``.
    """

    CODES = frozenset({301, 302, 303, 307, 308})

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("REDIRECT_ENABLED", True):
            raise NotConfigured("REDIRECT_ENABLED is off")
        self.crawler = crawler
        self.max_times = s.getint("REDIRECT_MAX_TIMES", 20)
        self._decider: DecisionMiddleware | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuard:
        return cls(crawler)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        meta = request.meta
        if (response.status not in self.CODES or meta.get(AUX_META)
                or meta.get("dont_redirect") or meta.get("handle_httpstatus_all")
                or response.status in meta.get("handle_httpstatus_list", ())):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        target = safe_url_string(urljoin(request.url, location.decode("latin-1")))
        chain = [*meta.get("redirect_urls", []), request.url]
        hops = meta.get("redirect_times", 0) + 1
        if target in chain:
            kind, rule = "loop", f"redirect loop: {request.url} -> {target}"
            detail = (f"a redirect loop: {target} redirects back into its own chain "
                      f"after {len(chain)} request(s); the page can never be read")
        elif not (meta.get("redirect_ttl", self.max_times) and hops <= self.max_times):
            kind, rule = "too_many", f"more than {self.max_times} redirects (REDIRECT_MAX_TIMES)"
            detail = (f"more than {self.max_times} consecutive redirects: the page "
                      "was never reached")
        else:
            # RedirectMiddleware (600) follows it: this request's decision is the
            # follow-up's (its redirect_urls name this hop), so it is no longer
            # pending in the decision middleware.
            decider = self._decision_middleware()
            if decider is not None:
                decider.in_flight.pop(id(request), None)
            return response
        self.crawler.stats.inc_value(f"tdmguard/redirects/{kind}")
        decider = self._decision_middleware()
        reasons = [*meta.get(REASONS_META, []),
                   Reason("http", UNREADABLE, rule=rule, source=request.url, detail=detail)]
        if decider is not None:
            decider._record(request, reasons, "failed", response.status, None, None,
                            error=rule)
        raise IgnoreRequest(rule)

    def _decision_middleware(self) -> DecisionMiddleware | None:
        if self._decider is None:
            self._decider = self.crawler.get_downloader_middleware(DecisionMiddleware)
        return self._decider
