"""The decision vocabulary: purposes, reasons, decisions and request meta keys.

No Scrapy import here: readers, the ledger, the CLI and the policy documents
all speak this small language. The precedence rule is written once, in
:func:`blocks` and :func:`is_allowed`: any applicable reservation wins, and an
unreadable signal fails closed (readers that follow a spec saying an error
means "unset" report ``unavailable`` instead of ``unreadable``). Every
``request.meta`` key tdmguard sets is named here, and :func:`add_reasons` is
the one way a check hands its reasons to the decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# -- purposes -----------------------------------------------------------------

#: Default purpose: using the content to train AI models (IETF aipref vocab-07).
TRAIN_AI = "train-ai"
#: Building a search index (aipref ``search``, Content-Signal ``search``).
SEARCH = "search"
#: Feeding content into AI models at inference time (Content-Signal ``ai-input``).
AI_INPUT = "ai-input"
PURPOSES = (TRAIN_AI, SEARCH, AI_INPUT)

# -- verdicts -------------------------------------------------------------------

#: An applicable machine-readable reservation ("no") exists for the purpose.
RESERVED = "reserved"
#: An explicit statement permits the request or use.
PERMITTED = "permitted"
#: No applicable statement: the signal is absent, or the spec says to treat it as unset.
UNAVAILABLE = "unavailable"
#: The signal could not be read (5xx, timeout, malformed) and fails closed.
UNREADABLE = "unreadable"
VERDICTS = (RESERVED, PERMITTED, UNAVAILABLE, UNREADABLE)
BLOCKING_VERDICTS = frozenset({RESERVED, UNREADABLE})

# -- modes --------------------------------------------------------------------

#: Default: each spec's own rules, plus every reservation seen anywhere holds.
STRICT = "strict"
#: Each spec followed literally.
RFC = "rfc"
MODES = (STRICT, RFC)


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding of one check about one request.

    :param protocol: ``robots.txt``, ``tdmrep``, ``content-usage``, ... .
    :param verdict: one of :data:`VERDICTS`.
    :param rule: the exact line, header or entry that decided (may be empty).
    :param source: URL of the document, or the header / meta name read.
    :param detail: one human sentence.
    """

    protocol: str
    verdict: str
    rule: str = ""
    source: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def blocks(self) -> bool:
        """True when this reason alone refuses the request."""
        return self.verdict in BLOCKING_VERDICTS

    def to_dict(self) -> dict[str, str]:
        return {"protocol": self.protocol, "verdict": self.verdict, "rule": self.rule,
                "source": self.source, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        return cls(
            protocol=str(data["protocol"]),
            verdict=str(data["verdict"]),
            rule=str(data.get("rule", "")),
            source=str(data.get("source", "")),
            detail=str(data.get("detail", "")),
        )


def blocks(reasons: Iterable[Reason]) -> list[Reason]:
    """Return the reasons that refuse the request (any reservation wins)."""
    return [r for r in reasons if r.blocks]


def is_allowed(reasons: Iterable[Reason]) -> bool:
    """A request is allowed when no reason reserves it or fails closed."""
    return not any(r.blocks for r in reasons)


# -- request meta keys --------------------------------------------------------------

#: Reasons found so far for this request (list of :class:`Reason`).
REASONS_META = "tdmguard_reasons"
#: sha256 of each rights document in force, by kind (``robots.txt``, ``rsl:<url>``...).
SNAPSHOTS_META = "tdmguard_snapshots"
#: Marks tdmguard's own auxiliary fetches (value: the document kind); rights checks skip them.
AUX_META = "tdmguard_aux"
#: The origin's parsed tdmrep.json, handed from the location check to the response check.
TDMREP_META = "tdmguard_tdmrep_file"
#: RSL licence references a response named, for the licence fetcher.
RSL_REFS_META = "tdmguard_rsl_refs"
#: The request's origin, and the URL it was computed for (a redirect changes both).
ORIGIN_META = "tdmguard_origin"
ORIGIN_URL_META = "tdmguard_origin_url"
META_KEYS = (REASONS_META, SNAPSHOTS_META, AUX_META, TDMREP_META, RSL_REFS_META,
             ORIGIN_META, ORIGIN_URL_META)


def add_reasons(request: Any, reasons: Iterable[Reason], kind: str | None = None,
                sha256: str | None = None) -> None:
    """Add *reasons* to *request*'s decision (and cite the document *kind* by
    its *sha256*). *request* is anything with a ``meta`` dict."""
    request.meta.setdefault(REASONS_META, []).extend(reasons)
    if kind and sha256:
        request.meta.setdefault(SNAPSHOTS_META, {})[kind] = sha256


@dataclass(slots=True)
class Decision:
    """One decision about one request: written to the ledger before the
    spider sees anything.
    """

    url: str
    allowed: bool
    reasons: list[Reason]
    at: str  # ISO 8601 UTC
    origin: str = ""
    user_agent: str = ""
    tokens: tuple[str, ...] = ()
    purpose: str = TRAIN_AI
    #: "refused" (before download), "dropped" (after download), "fetched",
    #: or "failed" (download error, nothing received).
    stage: str = "fetched"
    status: int | None = None
    content_sha256: str | None = None
    content_length: int | None = None
    #: sha256 of each rights document in force, by kind.
    snapshots: dict[str, str] = field(default_factory=dict)
    redirect_urls: list[str] = field(default_factory=list)
    #: Why a download failed (stage "failed").
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "url": self.url,
            "allowed": self.allowed,
            "reasons": [r.to_dict() for r in self.reasons],
            "at": self.at,
            "origin": self.origin,
            "user_agent": self.user_agent,
            "tokens": list(self.tokens),
            "purpose": self.purpose,
            "stage": self.stage,
            "status": self.status,
            "content_sha256": self.content_sha256,
            "content_length": self.content_length,
            "snapshots": dict(self.snapshots),
            "redirect_urls": list(self.redirect_urls),
            "error": self.error,
        }
        return data
