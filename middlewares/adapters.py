"""The uniform evaluate signature of each stage, and each protocol's adapter.

Pure (no Scrapy or Twisted import). A request-level evaluator takes a
:class:`RequestContext`, a location-level one a :class:`LocationContext`, a
response-level one a :class:`ResponseContext`;
each returns a list of :class:`~tdmguard.middlewares.vocab.Reason` and answers
``[]`` at once when its protocol has nothing to read (they run on every
request). The adapters call the readers' own APIs; the registry
(:mod:`tdmguard.middlewares.registry`) names which adapter serves which protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdmguard.middlewares.readers import (
    aipref,
    aitraining,
    contentsignal,
    noai,
    reservations,
    rsl,
    tdmrep,
)
from tdmguard.middlewares.vocab import RSL_REFS_META, STRICT, TDMREP_META, Reason

# -- contexts: what an evaluator may read ---------------------------------------


@dataclass(slots=True)
class RequestContext:
    """What a request-level evaluator may read: the URL alone, before any network."""

    url: str
    tokens: tuple[str, ...]
    purpose: str
    mode: str
    #: Per protocol name: what :attr:`Protocol.load` made of the crawl's settings.
    lists: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RobotsInput:
    """One robots.txt version, for the protocols that live inside it."""

    body: bytes
    parsed: Any  # readers.robots.RobotsTxt
    tokens: tuple[str, ...]
    url: str


@dataclass(slots=True)
class LocationContext:
    """What a location-level evaluator may read about one request."""

    url: str
    tokens: tuple[str, ...]
    purpose: str
    mode: str
    matching: str = "first"
    rsl_held: tuple[str, ...] = ()
    #: Per protocol name: what :attr:`Protocol.from_robots` made of the
    #: origin's robots.txt (absent when it holds no statement).
    robots: Mapping[str, Any] = field(default_factory=dict)
    #: Per protocol name: the origin's documents, parsed by :attr:`Protocol.parse`.
    docs: Mapping[str, list[Any]] = field(default_factory=dict)
    #: The request's meta dict, for values a later stage needs.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ResponseContext:
    """What a response-level evaluator may read about one response: its
    headers, the one ``<head>`` scan and the embedded asset metadata."""

    url: str
    headers: Any
    tokens: tuple[str, ...]
    purpose: str
    mode: str
    content_type: str = ""
    matching: str = "first"
    rsl_held: tuple[str, ...] = ()
    #: ``htmlhead.scan(body)`` for HTML, else None.
    head: Any = None
    #: ``assets.read_asset(...)`` for images, PDF and EPUB, else None.
    asset: Any = None
    #: True when a signal header or meta some reader reads is present.
    signals: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    #: ``TDMGUARD_NOAI_EXTRA_DIRECTIVES``: directive -> purposes it reserves.
    noai_extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _asset_reasons: list[Reason] | None = None

    @property
    def embedded(self) -> list[Any]:
        """TDMRep statements embedded in the asset (EPUB, PDF)."""
        return self.asset.tdm if self.asset is not None else []

    def asset_reasons(self) -> list[Reason]:
        """The asset's IPTC and C2PA reasons, read once for every protocol."""
        if self._asset_reasons is None:
            self._asset_reasons = (self.asset.reasons(self.purpose, self.mode)
                                   if self.asset is not None else [])
        return self._asset_reasons


RequestEvaluator = Callable[[RequestContext], list[Reason]]
LocationEvaluator = Callable[[LocationContext], list[Reason]]
ResponseEvaluator = Callable[[ResponseContext], list[Reason]]


def cu_robots(r: RobotsInput) -> Any:
    found = aipref.ContentUsageRules.parse(r.body, r.tokens, r.url)
    return found if found.has_statements else None


def cs_robots(r: RobotsInput) -> Any:
    found = contentsignal.ContentSignals.from_robots(r.parsed, r.tokens, r.url)
    return found if found.has_statements else None


def at_robots(r: RobotsInput) -> Any:
    found = aitraining.AiTrainingRules.from_robots(r.parsed, r.tokens, r.url)
    return found if found.has_statements else None


def rsl_robots(r: RobotsInput) -> Any:
    return rsl.discover(robots=r.parsed, base_url=r.url) or None


def cu_location(ctx: LocationContext) -> list[Reason]:
    rules = ctx.robots.get("content-usage")
    return rules.evaluate(ctx.url, True, ctx.purpose, ctx.mode) if rules else []


def cs_location(ctx: LocationContext) -> list[Reason]:
    signals = ctx.robots.get("content-signal")
    return signals.evaluate(ctx.purpose, ctx.mode, ctx.url) if signals else []


def at_location(ctx: LocationContext) -> list[Reason]:
    rules = ctx.robots.get("disallow-ai-training")
    return rules.evaluate(ctx.url, ctx.purpose, ctx.mode) if rules else []


def tdmrep_location(ctx: LocationContext) -> list[Reason]:
    files = ctx.docs.get("tdmrep")
    if not files:
        return []
    ctx.meta[TDMREP_META] = files[0]
    if ctx.mode != STRICT:
        return []  # rfc: a header or meta "0" may supersede it, so decided after download
    found = files[0].evaluate(ctx.url, ctx.purpose, ctx.mode, ctx.matching)
    return [r for r in found if r.blocks]


def aitxt_location(ctx: LocationContext) -> list[Reason]:
    files = ctx.docs.get("ai.txt")
    if not files or files[0].state == "absent":
        return []
    reasons: list[Reason] = files[0].evaluate(ctx.url, ctx.tokens, ctx.purpose, ctx.mode)
    return reasons


def rsl_location(ctx: LocationContext) -> list[Reason]:
    docs = ctx.docs.get("rsl")
    if not docs:
        return []
    return rsl.evaluate_all(docs, ctx.url, ctx.purpose, ctx.mode, ctx.rsl_held)


def tdmrep_response(ctx: ResponseContext) -> list[Reason]:
    file = ctx.meta.get(TDMREP_META)
    embedded = ctx.embedded
    # TDMRep metadata embedded but unreadable (a corrupt EPUB, an OPF with a
    # DOCTYPE): the asset's own unreadable reason, which fails closed.
    broken = [r for r in ctx.asset_reasons() if r.protocol == tdmrep.PROTOCOL]
    if not (ctx.signals or embedded or (file is not None and file.rules)):
        return broken
    return broken + tdmrep.resolve(ctx.url, file, ctx.headers, ctx.head, embedded,
                                   ctx.purpose, ctx.mode, ctx.matching)


def cu_response(ctx: ResponseContext) -> list[Reason]:
    return aipref.header_reasons(ctx.headers, ctx.purpose, ctx.mode) if ctx.signals else []


def cs_response(ctx: ResponseContext) -> list[Reason]:
    if not ctx.signals:
        return []
    return contentsignal.header_reasons(ctx.headers, ctx.purpose, ctx.mode)


def at_response(ctx: ResponseContext) -> list[Reason]:
    if not ctx.signals:
        return []
    return aitraining.directive_reasons(ctx.headers, ctx.head, ctx.tokens, ctx.purpose,
                                        ctx.mode)


def noai_response(ctx: ResponseContext) -> list[Reason]:
    if not ctx.signals:
        return []
    return noai.noai_reasons(ctx.headers, ctx.head, ctx.tokens, ctx.content_type,
                             ctx.purpose, ctx.mode, ctx.noai_extra or None)


def _has_link(headers: Any) -> bool:
    try:
        return b"Link" in headers or "Link" in headers
    except TypeError:
        return False


def rsl_response(ctx: ResponseContext) -> list[Reason]:
    has_link, head = _has_link(ctx.headers), ctx.head
    if not has_link and (head is None or not (head.links or head.scripts)):
        return []  # the common case: nothing names a licence
    refs = rsl.discover(headers=ctx.headers if has_link else None, head=head,
                        base_url=ctx.url)
    if refs:
        ctx.meta[RSL_REFS_META] = refs  # fetched by rsllinks before the decision
    inline = rsl.inline_documents(head, ctx.url)
    if not inline:
        return []
    return rsl.evaluate_all(inline, ctx.url, ctx.purpose, ctx.mode, ctx.rsl_held)


def asset_protocol(name: str) -> ResponseEvaluator:
    def evaluate(ctx: ResponseContext) -> list[Reason]:
        if ctx.asset is None:
            return []
        return [r for r in ctx.asset_reasons() if r.protocol == name]
    evaluate.__name__ = f"evaluate_{name}"
    return evaluate


# -- request stage: rightsholder reservations -----------------------------------


class ReservationLists:
    """The ``TDMGUARD_RESERVATIONS`` files, re-read when one changes (checked
    at most every *recheck* seconds), so a complaint upheld during a long
    crawl applies to its later requests. A file that cannot be read is
    unusable: every request is refused (see :mod:`.readers.reservations`)."""

    def __init__(self, paths: list[str], recheck: float = 5.0) -> None:
        self.paths = list(paths)
        self.recheck = recheck
        self._stamp: tuple[Any, ...] | None = None
        self._next = 0.0
        self.current = reservations.Reservations([])
        self._refresh()

    def _stat(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for path in self.paths:
            try:
                st = Path(path).stat()
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError as exc:
                out.append(type(exc).__name__)
        return tuple(out)

    def _refresh(self) -> None:
        self._next = time.monotonic() + self.recheck
        stamp = self._stat()
        if stamp == self._stamp:
            return
        files = []
        for path in self.paths:
            source = str(Path(path).resolve()) if path else path
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                why = exc.strerror or type(exc).__name__
                files.append(reservations.ReservationFile.unreadable(
                    source, f"cannot be read: {why}; create an empty file when no "
                    "complaint has reserved anything yet"))
                continue
            files.append(reservations.ReservationFile.parse(data, source))
        self._stamp, self.current = stamp, reservations.Reservations(files)
        if self.current.errors:
            # Perhaps a line caught mid-write: look again soon (still refusing).
            self._stamp, self._next = None, time.monotonic() + min(self.recheck, 0.2)

    def get(self) -> reservations.Reservations:
        if self.paths and time.monotonic() >= self._next:
            self._refresh()
        return self.current

    def documents(self) -> list[tuple[str, str, bytes, str]]:
        """``(kind, url, body, error)`` of each file as last read, for the ledger."""
        return [(f"reservations:{Path(f.source).as_uri()}", Path(f.source).as_uri(), f.body,
                 f.error) for f in self.current.files]


def load_reservations(get: Callable[[str, Any], Any]) -> ReservationLists | None:
    """The files named by ``TDMGUARD_RESERVATIONS`` (a list or comma-separated)."""
    value = get("TDMGUARD_RESERVATIONS", None)
    if isinstance(value, str):
        value = value.split(",")
    paths = [str(v).strip() for v in value or () if str(v).strip()]
    return ReservationLists(paths) if paths else None


def reservations_request(ctx: RequestContext) -> list[Reason]:
    lists = ctx.lists.get(reservations.PROTOCOL)
    return lists.get().evaluate(ctx.url) if lists is not None else []
