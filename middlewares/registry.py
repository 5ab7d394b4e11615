"""The protocol registry: every rights protocol tdmguard honours, declared once.

Pure (no Scrapy or Twisted import). Each :class:`Protocol` names its
``Reason.protocol`` value, its ``TDMGUARD_<NAME>_ENABLED`` switch, the stages
where it is read (each with the parent switches that stage also needs), the
purposes its vocabulary speaks to, a human title with its spec version, what
fails closed, and one evaluator per stage with one signature:

- request stage (the URL alone, before any network; lists the crawl loads once
  with :attr:`Protocol.load`): ``evaluate(ctx: RequestContext) -> list[Reason]``;
- location stage (per origin, before any page is requested):
  ``evaluate(ctx: LocationContext) -> list[Reason]``;
- response stage (after download, before the spider):
  ``evaluate(ctx: ResponseContext) -> list[Reason]``.

The request-stage component (the blocklist middleware, order 60) and the
location and response middlewares loop over :func:`evaluators`; ``check``,
``summary``, ``evidence`` and the policy documents read :func:`enabled` and
:func:`active_reads` over a crawl's recorded settings (the ledger's
``crawls.settings``) or live Scrapy settings: *settings* is any mapping
(``settings.get(name, default)``) or a ``getbool(name, default)`` callable.
Protocols enforced by a component of their own (robots.txt, blocklist, lawful
access) name it in :attr:`Protocol.component` and have no evaluator here. The
contexts and each protocol's adapter live in :mod:`.adapters`; the words a
summary, policy or disclosure uses for "what was honoured" in :mod:`.describe`.

Adding a protocol: write its reader under ``readers/`` and add one entry to
:data:`PROTOCOLS` (README, "Adding a protocol").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tdmguard.middlewares import adapters as a
from tdmguard.middlewares.adapters import (
    LocationContext,
    LocationEvaluator,
    RequestContext,
    RequestEvaluator,
    ResponseContext,
    ResponseEvaluator,
    RobotsInput,
)
from tdmguard.middlewares.readers import aitxt, rsl, tdmrep
from tdmguard.middlewares.readers.reservations import PROTOCOL as RESERVATION
from tdmguard.middlewares.vocab import MODES, PURPOSES, STRICT, Reason

# -- stages and the switches of the components that read them ---------------------

#: Read from the URL alone, before any network (blocklists).
REQUEST = "request"
#: Read per origin before any page of it is requested (robots.txt, well-known files).
LOCATION = "location"
#: Read from the downloaded response before the spider sees it.
RESPONSE = "response"
STAGES = (REQUEST, LOCATION, RESPONSE)

LOCATION_SWITCH = "TDMGUARD_LOCATION_ENABLED"
RESPONSE_SWITCH = "TDMGUARD_RESPONSE_SIGNALS_ENABLED"
ASSETS_SWITCH = "TDMGUARD_ASSETS_ENABLED"
ROBOTSTXT_SWITCH = "TDMGUARD_ROBOTSTXT_ENABLED"

#: Kinds of protocol: a machine-readable reservation (the summary's section 3.1
#: opt-out list), or a lawful-access measure (blocklists, paywalls).
OPT_OUT = "opt-out"
LAWFUL = "lawful-access"

Settings = Mapping[str, Any] | Callable[[str, bool], Any]


# -- the entry ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Read:
    """One place a protocol is read: its stage, the parent switches that stage
    needs besides the protocol's own, and what is read there (human)."""

    stage: str
    what: str
    parents: tuple[str, ...] = ()
    #: The modes in which a reservation read here is decided at this stage
    #: (TDMRep's file waits for the response in rfc mode).
    decides_in: tuple[str, ...] = MODES


@dataclass(frozen=True, slots=True)
class Protocol:
    """One rights protocol, declared once."""

    #: The ``Reason.protocol`` value.
    name: str
    #: Human name with spec version (summary, policy, disclosure).
    title: str
    #: ``TDMGUARD_<NAME>_ENABLED``.
    switch: str
    reads: tuple[Read, ...]
    #: What fails closed (human), or "" when nothing does, and in which modes.
    fails_closed: str = ""
    fails_closed_in: tuple[str, ...] = MODES
    kind: str = OPT_OUT
    #: Purposes its vocabulary speaks to; None: from ``data/purposes.json``.
    speaks_to: tuple[str, ...] | None = None
    #: The component that enforces it, when not the location/response loops.
    component: str = ""
    #: Location stage: the origin's documents to fetch, ``(origin, robots) -> [(kind, url)]``.
    documents: Callable[[str, Mapping[str, Any]], list[tuple[str, str]]] | None = None
    #: Location stage: ``parse(body, status, url)`` for each fetched document.
    parse: Callable[[bytes, int | None, str], Any] | None = None
    #: Location stage: what it reads inside robots.txt (None when it holds nothing).
    from_robots: Callable[[RobotsInput], Any] | None = None
    evaluate_location: LocationEvaluator | None = None
    evaluate_response: ResponseEvaluator | None = None
    #: Request stage: what the crawl loads once from its settings
    #: (``get(name, default)``), handed to the evaluator in ``ctx.lists``.
    load: Callable[[Callable[[str, Any], Any]], Any] | None = None
    evaluate_request: RequestEvaluator | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(r.stage for r in self.reads)

    @property
    def purposes(self) -> tuple[str, ...]:
        """The crawl purposes its vocabulary can reserve or permit."""
        if self.speaks_to is not None:
            return self.speaks_to
        return _purposes_in(self.name)


_IN_ROBOTS = (LOCATION_SWITCH, ROBOTSTXT_SWITCH)

#: Every protocol, in the order the summary lists them.
PROTOCOLS: tuple[Protocol, ...] = (
    Protocol(
        "robots.txt", "robots.txt (RFC 9309)", ROBOTSTXT_SWITCH,
        (Read(LOCATION, "robots.txt, read before any other request to an origin and "
              "re-read at least every 24 hours"),),
        fails_closed="robots.txt unreachable (HTTP 429, 5xx, network error): complete "
        "disallow (RFC 9309 §2.3.1.4)",
        speaks_to=PURPOSES,
        component="tdmguard.middlewares.robotstxt.RobotsTxtMiddleware",
    ),
    Protocol(
        "tdmrep", "TDMRep (W3C Community Group final report, 2024-05-10)",
        "TDMGUARD_TDMREP_ENABLED",
        (Read(LOCATION, "/.well-known/tdmrep.json", (LOCATION_SWITCH,), (STRICT,)),
         Read(RESPONSE, "tdm-reservation/tdm-policy headers, HTML meta, EPUB/PDF metadata",
              (RESPONSE_SWITCH,))),
        fails_closed="tdmrep.json unreachable or invalid", fails_closed_in=(STRICT,),
        documents=lambda origin, robots: [("tdmrep.json",
                                           f"{origin}/.well-known/tdmrep.json")],
        parse=tdmrep.TdmRepFile.parse,
        evaluate_location=a.tdmrep_location, evaluate_response=a.tdmrep_response,
    ),
    Protocol(
        "content-usage",
        "IETF AI preferences Content-Usage (draft-ietf-aipref-vocab-07, attach-05)",
        "TDMGUARD_CONTENT_USAGE_ENABLED",
        (Read(LOCATION, "Content-Usage lines in robots.txt", _IN_ROBOTS),
         Read(RESPONSE, "Content-Usage header", (RESPONSE_SWITCH,))),
        from_robots=a.cu_robots,
        evaluate_location=a.cu_location, evaluate_response=a.cu_response,
    ),
    Protocol(
        "content-signal", "Cloudflare Content-Signal (Content Signals Policy, contentsignals.org)",
        "TDMGUARD_CONTENT_SIGNAL_ENABLED",
        (Read(LOCATION, "Content-Signal lines in robots.txt", _IN_ROBOTS),
         Read(RESPONSE, "Content-Signal header", (RESPONSE_SWITCH,))),
        from_robots=a.cs_robots,
        evaluate_location=a.cs_location, evaluate_response=a.cs_response,
    ),
    Protocol(
        "disallow-ai-training", "DisallowAITraining (draft-canel-robots-ai-control-00)",
        "TDMGUARD_DISALLOW_AI_TRAINING_ENABLED",
        (Read(LOCATION, "DisallowAITraining lines in robots.txt", _IN_ROBOTS),
         Read(RESPONSE, "DisallowAITraining in X-Robots-Tag and meta tags",
              (RESPONSE_SWITCH,))),
        from_robots=a.at_robots,
        evaluate_location=a.at_location, evaluate_response=a.at_response,
    ),
    Protocol(
        "rsl", "RSL 1.0 (Really Simple Licensing)", "TDMGUARD_RSL_ENABLED",
        (Read(LOCATION, "licences named by robots.txt License:", _IN_ROBOTS),
         Read(RESPONSE, "licences named by a page (Link header, <link rel=license>, inline)",
              (RESPONSE_SWITCH,))),
        fails_closed="a named licence unreachable or unreadable",
        documents=lambda origin, robots: [("rsl", ref.url) for ref in robots.get("rsl") or ()],
        parse=rsl.RslDocument.parse,
        from_robots=a.rsl_robots,
        evaluate_location=a.rsl_location, evaluate_response=a.rsl_response,
    ),
    Protocol(
        "ai.txt", "Spawning ai.txt (as Spawning's generator writes it, 2023)",
        "TDMGUARD_AITXT_ENABLED",
        (Read(LOCATION, "/ai.txt", (LOCATION_SWITCH,)),),
        fails_closed="ai.txt unreachable (HTTP 429, 5xx, network error)",
        documents=lambda origin, robots: [("ai.txt", f"{origin}/ai.txt")],
        parse=aitxt.AiTxt.parse,
        evaluate_location=a.aitxt_location,
    ),
    Protocol(
        "noai", "noai / noimageai / noml directives (DeviantArt 2022, noml.info)",
        "TDMGUARD_NOAI_ENABLED",
        (Read(RESPONSE, "X-Robots-Tag header and robots meta tags", (RESPONSE_SWITCH,)),),
        evaluate_response=a.noai_response,
    ),
    Protocol(
        "iptc", "IPTC Photo Metadata 2023.1 plus:DataMining", "TDMGUARD_IPTC_ENABLED",
        (Read(RESPONSE, "XMP metadata embedded in images, PDF and EPUB",
              (RESPONSE_SWITCH, ASSETS_SWITCH)),),
        fails_closed="embedded metadata present but unreadable",
        evaluate_response=a.asset_protocol("iptc"),
    ),
    Protocol(
        "c2pa", "C2PA training-mining and CAWG Training and Data Mining 1.1 assertions",
        "TDMGUARD_C2PA_ENABLED",
        (Read(RESPONSE, "C2PA manifests embedded in images", (RESPONSE_SWITCH, ASSETS_SWITCH)),),
        fails_closed="a C2PA manifest present but unreadable",
        evaluate_response=a.asset_protocol("c2pa"),
    ),
    Protocol(
        "blocklist", "Blocklists of infringing hosts (court orders, watch lists)",
        "TDMGUARD_BLOCKLIST_ENABLED",
        (Read(REQUEST, "the request's host, before any network"),),
        kind=LAWFUL, speaks_to=PURPOSES,
        component="tdmguard.middlewares.blocklist.BlocklistMiddleware",
    ),
    Protocol(
        RESERVATION, "Rightsholder reservations (entries added by upheld complaints, "
        "tdmguard complaints register)", "TDMGUARD_RIGHTSHOLDER_RESERVATION_ENABLED",
        (Read(REQUEST, "the request's URL against the TDMGUARD_RESERVATIONS lists, before "
              "any network"),),
        fails_closed="a reservations list unreadable or malformed",
        speaks_to=PURPOSES,
        load=a.load_reservations, evaluate_request=a.reservations_request,
    ),
    Protocol(
        "lawful-access", "Lawful access (HTTP 401/402/403/407/451, paywall and login-wall "
        "markup)", "TDMGUARD_LAWFUL_ACCESS_ENABLED",
        (Read(RESPONSE, "the response status, paywall markup and login walls"),),
        kind=LAWFUL, speaks_to=PURPOSES,
        component="tdmguard.middlewares.lawful.LawfulAccessMiddleware",
    ),
)

BY_NAME: dict[str, Protocol] = {p.name: p for p in PROTOCOLS}
#: Every ``TDMGUARD_*_ENABLED`` switch a protocol or a stage of it depends on.
SWITCHES: tuple[str, ...] = tuple(dict.fromkeys(
    s for p in PROTOCOLS for s in (p.switch, *(x for r in p.reads for x in r.parents))))


# -- which protocols are on -------------------------------------------------------


def switch_on(settings: Settings, name: str) -> bool:
    """Whether switch *name* is on in *settings* (unrecorded: on, the default)."""
    if callable(settings):
        return bool(settings(name, True))
    return to_bool(settings.get(name, True))


def to_bool(value: Any) -> bool:
    """Read a switch as Scrapy's ``getbool`` does (``"False"``, ``"0"`` are off)."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("false", "0", "no", "off", ""):
            return False
        return lowered not in ("none", "null")
    return value is None or bool(value)


def active_reads(protocol: Protocol, settings: Settings) -> list[Read]:
    """The places *protocol* was read under *settings* (empty: not honoured)."""
    if not switch_on(settings, protocol.switch):
        return []
    return [r for r in protocol.reads if all(switch_on(settings, s) for s in r.parents)]


def enabled(settings: Settings, stage: str | None = None) -> list[Protocol]:
    """The protocols on under *settings* (read at *stage*, when given)."""
    return [p for p in PROTOCOLS
            if any(stage in (None, r.stage) for r in active_reads(p, settings))]


def evaluators(settings: Settings, stage: str) -> list[tuple[Protocol, Callable[[Any],
                                                                                 list[Reason]]]]:
    """``(protocol, evaluate)`` for each protocol on at *stage* that the
    request, location or response loop evaluates."""
    out = []
    for p in enabled(settings, stage):
        fn = {LOCATION: p.evaluate_location, RESPONSE: p.evaluate_response,
              REQUEST: p.evaluate_request}.get(stage)
        if fn is not None:
            out.append((p, fn))
    return out


# -- purposes -------------------------------------------------------------------------


@cache
def _purposes_in(name: str) -> tuple[str, ...]:
    ref = resources.files("tdmguard.middlewares") / "data" / "purposes.json"
    table = json.loads(ref.read_text(encoding="utf-8"))
    known = table.get("purposes", list(PURPOSES))
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and value in known:
            found.add(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for k, v in value.items():
                if not k.startswith("_"):
                    walk(v)

    walk(table.get(name, {}))
    return tuple(p for p in known if p in found)


__all__ = ["BY_NAME", "LOCATION", "PROTOCOLS", "REQUEST", "RESPONSE", "STAGES", "SWITCHES",
           "LocationContext", "Protocol", "Read", "RequestContext", "ResponseContext",
           "RobotsInput",
           "active_reads", "enabled", "evaluators", "switch_on", "to_bool"]
