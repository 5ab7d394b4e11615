"""Infringement blocklists: a listed host is never contacted, not even for robots.txt.

Enabled by the add-on (``TDMGUARD_BLOCKLIST_ENABLED``, default True) at order
60 in ``DOWNLOADER_MIDDLEWARES``, before robots.txt (100): every request
passes it, tdmguard's own auxiliary fetches (``tdmguard_aux``) and redirect
targets included, since both come back through the downloader as new
requests. A page request to a listed host is refused
(:class:`~tdmguard.middlewares.exceptions.Refused`, protocol ``blocklist``: the list,
its edition and the entry that matched); an auxiliary fetch gets a plain
``IgnoreRequest``, which the rights checks read as a failed fetch (fail
closed). :class:`BlocklistSpiderMiddleware` drops links to listed hosts the
spider yields, recording one decision per URL, so they are never scheduled.

Lists: the shipped ones (``TDMGUARD_BLOCKLIST_SHIPPED``) plus the files in
``TDMGUARD_BLOCKLISTS``; a missing or unusable file stops the crawl before it
starts (:class:`~tdmguard.middlewares.settings.ConfigError`). Advisory lists block too,
unless ``TDMGUARD_BLOCKLIST_ADVISORY = "warn"``: then a match is logged and
recorded as a non-blocking reason. There is deliberately no per-request
opt-out meta key: the exclusion is not the spider's to waive.

The same two middlewares run the registry's other request-stage protocols
(:data:`tdmguard.middlewares.registry.REQUEST`): rightsholder reservations
(``TDMGUARD_RIGHTSHOLDER_RESERVATION_ENABLED``, lists in
``TDMGUARD_RESERVATIONS``, entries added by upheld complaints), refused and
dropped the same way, each reason naming the complaint; a page refused under
a list cites the list file's version (a ledger snapshot, kind
``reservations:<file URI>``). The middlewares are on while either switch is.

Fails closed. Stats: ``tdmguard/blocklist/blocked/<list>``,
``tdmguard/blocklist/warned/<list>``, ``tdmguard/blocklist/aux_blocked/<list>``,
``tdmguard/blocklist/links_dropped/<list>``,
``tdmguard/rightsholder_reservation/{refused,unreadable,aux_refused,links_dropped}``.

Which lists are in force, and loading them once: :mod:`.blocklist_settings`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

from scrapy import Request as ScrapyRequest
from scrapy.exceptions import IgnoreRequest, NotConfigured

from tdmguard.blocklists import BlocklistSet, Match
from tdmguard.middlewares import registry, signals
from tdmguard.middlewares.blocklist_settings import advisory_mode, blocklists_from_settings
from tdmguard.middlewares.decisions import record_decision
from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.registry import REQUEST, RequestContext
from tdmguard.middlewares.settings import Config
from tdmguard.middlewares.snapshots import Snapshot, utcnow
from tdmguard.middlewares.vocab import (
    AUX_META,
    RESERVED,
    SNAPSHOTS_META,
    UNAVAILABLE,
    Reason,
    add_reasons,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)


def decoded_host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if "%" not in host:
        return None
    raw = unquote_to_bytes(host)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _stat_name(protocol: str) -> str:
    return protocol.replace("-", "_").replace(".", "_")


class _Lookup:
    """Settings and lists shared by the downloader and spider middlewares."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.config = Config.from_settings(s)
        # The registry's request-stage protocols with something to read.
        self.lists: dict[str, Any] = {}
        self.checks: list[Callable[[RequestContext], list[Reason]]] = []
        for protocol, evaluate in registry.evaluators(s.getbool, REQUEST):
            loaded = protocol.load(s.get) if protocol.load is not None else None
            if loaded is not None:
                self.lists[protocol.name] = loaded
                self.checks.append(evaluate)
        self.blocklists: BlocklistSet | None = None
        self.warn_advisory = False
        self._titles: dict[str, str] = {}
        if s.getbool("TDMGUARD_BLOCKLIST_ENABLED", True):
            self.warn_advisory = advisory_mode(s) == "warn"
            self.blocklists = blocklists_from_settings(s)
            self._titles = {b.name: b.title or b.name for b in self.blocklists.lists}
        elif not self.checks:
            raise NotConfigured("TDMGUARD_BLOCKLIST_ENABLED off and no request-stage "
                                "list (TDMGUARD_RESERVATIONS) in force")
        self.stats = crawler.stats
        self._cited: set[tuple[str, str]] = set()

    def listed(self, url: str) -> list[Reason]:
        """The blocking reasons of the request-stage protocols (reservations)."""
        if not self.checks:
            return []
        c = self.config
        ctx = RequestContext(url, c.tokens, c.purpose, c.mode, self.lists)
        return [r for evaluate in self.checks for r in evaluate(ctx) if r.blocks]

    def documents_for(self, reasons: list[Reason]) -> dict[str, str]:
        """``{kind: sha256}`` of the list files behind *reasons*, each version
        sent once to the ledger as a snapshot (``snapshot_fetched``)."""
        out: dict[str, str] = {}
        for name in dict.fromkeys(r.protocol for r in reasons):
            documents = getattr(self.lists.get(name), "documents", None)
            for kind, url, body, error in documents() if documents else ():
                snapshot = Snapshot(kind, url, "", utcnow(), None, body=body,
                                    error=error or None)
                sha = out[kind] = snapshot.sha256
                if (kind, sha) not in self._cited:
                    self._cited.add((kind, sha))
                    self.crawler.signals.send_catch_log(signals.snapshot_fetched,
                                                        snapshot=snapshot)
        return out

    def cite(self, request: Request, reasons: list[Reason]) -> None:
        """Cite the list files behind *reasons* in *request*'s decision."""
        found = self.documents_for(reasons)
        if found:
            request.meta.setdefault(SNAPSHOTS_META, {}).update(found)

    def lookup(self, url: str) -> tuple[Match, Reason] | None:
        if self.blocklists is None:
            return None
        match = self.blocklists.match(url)
        if match is None and "%" in url:
            # A percent-encoded host (b%C3%BCcher.example) is the same host to
            # WHATWG URL parsers; Scrapy leaves it encoded.
            decoded = decoded_host(url)
            match = self.blocklists.match(decoded) if decoded else None
        if match is None:
            return None
        title = self._titles.get(match.list_name, match.list_name)
        warn = self.warn_advisory and match.kind == "advisory"
        detail = (f"{title}, edition {match.edition or 'not given'} ({match.kind} list): "
                  f"host {match.host} matches entry {match.entry}")
        if warn:
            detail += "; advisory lists only warn (TDMGUARD_BLOCKLIST_ADVISORY = warn)"
        reason = Reason("blocklist", UNAVAILABLE if warn else RESERVED, rule=match.entry,
                        source=match.list_name, detail=detail)
        return match, reason


class BlocklistMiddleware(_Lookup):
    """Downloader middleware: refuse any request to a listed host, before robots.txt."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._warned: set[str] = set()
        if self.blocklists is not None:
            logger.info("Blocklists in force: %(lists)s", {
                "lists": ", ".join(f"{b.name} ({b.kind}, edition {b.edition or '?'}, "
                                   f"{len(b)} entries)" for b in self.blocklists.lists)
                or "none"})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlocklistMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        found = self.lookup(request.url)
        listed = self.listed(request.url)
        if listed:
            self._refuse_listed(request, listed, found)
        if found is None:
            return
        match, reason = found
        if not reason.blocks:
            self.stats.inc_value(f"tdmguard/blocklist/warned/{match.list_name}")
            if match.host not in self._warned:
                self._warned.add(match.host)
                logger.warning("Host %(host)s is on the advisory list %(list)s "
                               "(entry %(entry)s); crawling it as configured",
                               {"host": match.host, "list": match.list_name,
                                "entry": match.entry})
            if not request.meta.get(AUX_META):
                add_reasons(request, [reason])
            return
        if request.meta.get(AUX_META):
            self.stats.inc_value(f"tdmguard/blocklist/aux_blocked/{match.list_name}")
            raise IgnoreRequest(f"blocklisted host {match.host} ({match.list_name}: "
                                f"{match.entry})")
        self.stats.inc_value(f"tdmguard/blocklist/blocked/{match.list_name}")
        logger.debug("Refused, host on blocklist %(list)s: %(request)s",
                     {"list": match.list_name, "request": request})
        add_reasons(request, [reason])
        raise Refused([reason])

    def _refuse_listed(self, request: Request, listed: list[Reason],
                       found: tuple[Match, Reason] | None) -> None:
        """Refuse under a request-stage list (with the blocklist's reason too)."""
        reasons = ([found[1]] if found is not None else []) + listed
        aux = request.meta.get(AUX_META)
        for r in listed:
            outcome = "aux_refused" if aux else (
                "refused" if r.verdict == RESERVED else "unreadable")
            self.stats.inc_value(f"tdmguard/{_stat_name(r.protocol)}/{outcome}")
        if aux:
            raise IgnoreRequest(f"reserved: {listed[0].detail}")
        logger.debug("Refused, %(protocol)s: %(request)s",
                     {"protocol": listed[0].protocol, "request": request})
        self.cite(request, listed)
        add_reasons(request, reasons)
        raise Refused(reasons)


class BlocklistSpiderMiddleware(_Lookup):
    """Spider middleware: drop requests to listed hosts found in pages.

    Each dropped URL gets one ``refused`` decision (sent as
    ``decision_recorded``), once per URL and crawl. Start requests are left to
    :class:`BlocklistMiddleware`, which refuses and records them the same way.
    """

    def __init__(self, crawler: Crawler) -> None:
        _Lookup.__init__(self, crawler)
        self._dropped: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlocklistSpiderMiddleware:
        return cls(crawler)

    # No process_start: start requests are the downloader middleware's, and an
    # extra async-generator layer over every start request costs throughput.
    def process_spider_output(self, response: Response | None, result: Iterable[Any],
                              spider: Spider | None = None) -> Iterable[Any]:
        for o in result:
            if not isinstance(o, ScrapyRequest) or (
                    o := self.get_processed_request(o, response)) is not None:
                yield o

    async def process_spider_output_async(self, response: Response | None,
                                          result: AsyncIterator[Any],
                                          spider: Spider | None = None
                                          ) -> AsyncIterator[Any]:
        async for o in result:
            if not isinstance(o, ScrapyRequest) or (
                    o := self.get_processed_request(o, response)) is not None:
                yield o

    def get_processed_request(self, request: Request,
                              response: Response | None) -> Request | None:
        if response is None:
            return request
        found = self.lookup(request.url)
        reasons = [found[1]] if found is not None and found[1].blocks else []
        listed = self.listed(request.url)
        if not reasons and not listed:
            return request
        if reasons:
            assert found is not None
            self.stats.inc_value(f"tdmguard/blocklist/links_dropped/{found[0].list_name}")
        for name in dict.fromkeys(r.protocol for r in listed):
            self.stats.inc_value(f"tdmguard/{_stat_name(name)}/links_dropped")
        if request.url not in self._dropped:
            self._dropped.add(request.url)
            self.cite(request, listed)
            self._record(request, reasons + listed)
        logger.debug("Dropped link to %(why)s: %(request)s",
                     {"why": f"a host on blocklist {found[0].list_name}" if found and reasons
                      else f"a URL under {listed[0].protocol}", "request": request})
        return None

    def _record(self, request: Request, reasons: list[Reason]) -> None:
        # A link the spider yielded has no User-Agent header yet: record the one
        # the download would have carried.
        record_decision(self.crawler, self.config, request, reasons, "refused",
                        user_agent=str(self.crawler.settings.get("USER_AGENT") or ""))
