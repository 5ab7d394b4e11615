"""RSL reader: Really Simple Licensing 1.0 discovery and licence documents.

Spec: RSL 1.0 (RSL Technical Steering Committee, https://rslstandard.org/rsl;
namespace ``https://rslstandard.org/rsl``, media type ``application/rsl+xml``)
and its robots.txt / HTTP guides. Discovery: global robots.txt ``License:``
records, ``Link: <url>; rel="license"; type="application/rsl+xml"`` headers,
``<link rel="license" type="application/rsl+xml">`` and inline ``<script
type="application/rsl+xml">`` in HTML. Licences are parsed with defusedxml.

Evaluation of one licence document for one URL:

- ``content@url`` is a full URL or a path pattern with RFC 9309 matching
  (``*``, ``$``); the most specific (longest) matching ``<content>`` decides,
  so a site's ``/open/`` carve-out beside a site-wide ``/`` holds. Ties: the
  first in document order (rfc) or all of them, most restrictive (strict).
- ``content@server`` present: "clients must obtain a license ... even if the
  license is free" -> reserved unless the operator holds it (*held*).
- per ``<license>``: ``prohibits type="usage"`` naming the purpose (via
  ``all``, ``ai-all``, ``ai-train``, …; table ``rsl`` in purposes.json) ->
  reserved; a ``permits type="usage"`` list that does not name it -> reserved
  (a licence grants only what it lists); a ``<payment>`` of any type other
  than ``free`` -> reserved unless the operator holds the licence (*held*:
  licence document URLs or licence-server URLs); no ``<payment>`` = free.
- ``user`` / ``geo`` conditions: checked against *user* / *geo* when given;
  when not given, strict mode fails closed (the crawl cannot show it
  qualifies), rfc mode records them and goes on.
- several ``<license>`` elements are alternatives: permitted if any one
  permits. In strict mode an explicit ``prohibits`` in any of them holds.
- an unreadable licence (no 2xx, bad XML, not RSL) is ``unreadable`` in both
  modes: the robots.txt guide says crawlers "must retrieve and comply with the
  defined terms before accessing or processing the site's content".

Open questions taken as parameters: *held*, *user*, *geo* (defaults: none
held, user and geo unknown). Not implemented: OLP/CAP token exchange,
``encrypted`` content, ``max-age`` revalidation (the caller's cache), RSS
feeds other than ``rsl:content`` elements found anywhere in the document.

Middleware use::

    refs = discover(robots=robots, base_url=robots_url)         # per origin
    doc = RslDocument.parse(body, status, ref.url)              # per licence URL
    evaluate_all(docs, url, purpose, mode, held=settings_held)   # per request

Why it is long: RSL 1.0 is discovered in four places (robots.txt ``License:``,
``Link`` headers, HTML ``<link>`` and inline ``<script>``), and a licence is
judged on each of its terms (content matching, ``server``, ``prohibits`` and
``permits``, ``payment``, ``user`` and ``geo`` conditions, alternative
licences), each in rfc and strict mode. DESIGN keeps one protocol in one pure
reader module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from tdmguard.middlewares.readers.robots import RobotsTxt, compile_pattern, normalise_path
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

from ._common import (
    HeadersLike,
    clip,
    covers,
    header_values,
    never_raises,
    norm_mode,
    parse_xml,
    xml_error,
)
from .htmlhead import RSL_TYPE, Head

PROTOCOL = "rsl"
SPEC = "RSL 1.0 (rslstandard.org/rsl)"
NAMESPACE = "https://rslstandard.org/rsl"
MAX_BYTES = 4 * 1024 * 1024
ALL_USERS = frozenset(
    {"commercial", "non-commercial", "education", "government", "personal"}
)
_LINK_PARAM = re.compile(r"([^\s=;,]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;,]*))?")
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class LicenseRef:
    """A licence URL to fetch, with the record that named it."""

    url: str
    rule: str
    source: str


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 8288 ``Link`` values: ``[(target, {param: value})]``, leniently."""
    links: list[tuple[str, dict[str, str]]] = []
    pos, end = 0, len(value)
    while pos < end:
        lt = value.find("<", pos)
        if lt < 0:
            break
        gt = value.find(">", lt + 1)
        if gt < 0:
            break
        target, pos = value[lt + 1 : gt].strip(), gt + 1
        params: dict[str, str] = {}
        while pos < end:
            char = value[pos]
            if char in " \t;":
                pos += 1
                continue
            if char == ",":
                pos += 1
                break
            match = _LINK_PARAM.match(value, pos)
            if match is None:
                pos += 1
                continue
            raw = (match.group(2) or "").strip()
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params.setdefault(match.group(1).lower(), raw)
            pos = match.end()
        links.append((target, params))
    return links


def discover(
    robots: RobotsTxt | None = None,
    headers: HeadersLike = None,
    head: Head | None = None,
    base_url: str = "",
) -> list[LicenseRef]:
    """Licence URLs named by robots.txt, ``Link`` headers and HTML links."""
    refs: list[LicenseRef] = []

    def add(url: str, rule: str, source: str) -> None:
        try:
            absolute = urljoin(base_url, url.strip()) if base_url else url.strip()
        except ValueError:
            absolute = url.strip()
        if absolute and all(r.url != absolute for r in refs):
            refs.append(LicenseRef(absolute, clip(rule, 300), source))

    try:
        if robots is not None:
            for record in robots.global_values("license"):
                if record.value:
                    add(record.value, str(record), base_url or "robots.txt")
        for name, value in header_values(headers, "link"):
            for target, params in parse_link_header(value):
                rels = params.get("rel", "").lower().split()
                kind = params.get("type", "").split(";")[0].strip().lower()
                if "license" in rels and kind == RSL_TYPE and target:
                    add(target, f"{name}: {value}", "Link header")
        if head is not None:
            for link in head.rsl_links():
                add(link.href, f"line {link.line}: {link.raw}", 'link rel="license"')
    except Exception:  # discovery is best effort; what was found stands
        pass
    return refs


def inline_documents(head: Head | None, page_url: str = "") -> list[RslDocument]:
    """Inline ``<script type="application/rsl+xml">`` licences of a page."""
    if head is None:
        return []
    return [
        RslDocument.parse(script.text, 200, f"{page_url}#rsl-line-{script.line}")
        for script in head.scripts
        if script.type == RSL_TYPE
    ]


# -- the licence document --------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _tokens(value: str | None) -> set[str]:
    return {t for t in _SPLIT.split((value or "").strip().lower()) if t}


@dataclass(slots=True)
class RslLicense:
    index: int
    permits: dict[str, set[str]] = field(default_factory=dict)
    prohibits: dict[str, set[str]] = field(default_factory=dict)
    payments: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"license #{self.index}"]
        for kind, values in self.permits.items():
            parts.append(f"permits {kind}={' '.join(sorted(values))}")
        for kind, values in self.prohibits.items():
            parts.append(f"prohibits {kind}={' '.join(sorted(values))}")
        if self.payments:
            parts.append(f"payment={','.join(self.payments)}")
        return "; ".join(parts)


@dataclass(slots=True)
class RslContent:
    index: int
    url: str
    server: str
    origin: tuple[str, str] | None
    pattern: Any
    licenses: list[RslLicense]

    def matches(self, url: str, path: str) -> bool:
        if self.origin is not None:
            try:
                parts = urlsplit(url)
            except ValueError:  # no origin to compare: the content may cover it
                return bool(self.pattern.match(path))
            if (parts.scheme.lower(), parts.netloc.lower()) != self.origin:
                return False
        return bool(self.pattern.match(path))


class _Invalid(ValueError):
    """Well-formed XML that cannot be applied as a licence; the message says why."""


@dataclass(slots=True)
class RslDocument:
    """One fetched RSL licence: parse once per licence URL."""

    url: str = ""
    status: int | None = None
    state: str = "error"
    error: str = ""
    contents: list[RslContent] = field(default_factory=list)

    @classmethod
    def parse(
        cls, body: bytes | str | None, status: int | None = 200, url: str = ""
    ) -> RslDocument:
        doc = cls(url=str(url or ""), status=status)
        try:
            doc._read(body, status)
        except _Invalid as exc:  # well-formed XML, but not a licence we can apply
            doc.state, doc.error = "error", str(exc)
            doc.contents = []
        except Exception as exc:  # defusedxml refusals, parser errors, odd input
            doc.state, doc.error = "error", f"not readable XML ({xml_error(exc)})"
            doc.contents = []
        return doc

    def _read(self, body: bytes | str | None, status: int | None) -> None:
        if status is None or not 200 <= int(status) < 300:
            self.error = "no response" if status is None else f"HTTP {status}"
            return
        if body is None or len(body) == 0:
            self.error = "empty body"
            return
        if len(body) > MAX_BYTES:
            self.error = f"larger than {MAX_BYTES} bytes"
            return
        root = parse_xml(body)
        if _local(root.tag) == "rsl":
            elements = [el for el in root if _local(el.tag) == "content"]
        else:
            elements = [el for el in root.iter() if el.tag == f"{{{NAMESPACE}}}content"]
            if not elements:
                self.error = f"root element <{_local(root.tag)}> is not <rsl>"
                return
        for index, element in enumerate(elements, start=1):
            content = _content(index, element)
            if content is not None:
                self.contents.append(content)
        self.state = "ok"

    @never_raises(PROTOCOL)
    def evaluate(
        self,
        url: str,
        purpose: str = TRAIN_AI,
        mode: str = STRICT,
        held: Iterable[str] = (),
        user: str | None = None,
        geo: str | None = None,
    ) -> list[Reason]:
        """This licence's verdict for *url*; one reason."""
        mode = norm_mode(mode)
        source = self.url or "RSL licence"
        if self.state != "ok":
            return [
                Reason(
                    PROTOCOL,
                    UNREADABLE,
                    f"RSL licence: {self.error}",
                    source,
                    f"The RSL licence could not be read ({self.error}); RSL requires "
                    "compliance before access, so this fails closed.",
                )
            ]
        path = normalise_path(url)
        matching = [c for c in self.contents if c.matches(url, path)]
        if not matching:
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    "The RSL licence covers no content at this URL.",
                )
            ]
        top = max(c.pattern.priority for c in matching)
        chosen = [c for c in matching if c.pattern.priority == top]
        if mode != STRICT:
            chosen = chosen[:1]
        held_set = {h.strip() for h in held if isinstance(h, str)}
        results = [self._content(c, purpose, mode, held_set, user, geo) for c in chosen]
        results.sort(key=lambda r: {RESERVED: 0, PERMITTED: 1}.get(r.verdict, 2))
        return [results[0]]

    def _content(
        self,
        content: RslContent,
        purpose: str,
        mode: str,
        held: set[str],
        user: str | None,
        geo: str | None,
    ) -> Reason:
        source = self.url or "RSL licence"
        where = f'content #{content.index} url="{clip(content.url, 120)}"'
        holds = bool(held & {self.url, content.server})
        if content.server and not holds:
            return Reason(
                PROTOCOL,
                RESERVED,
                f'{where} server="{clip(content.server, 120)}"',
                source,
                "A licence must be obtained from the RSL licence server, even if free; "
                "the operator holds none.",
            )
        if not content.licenses:
            return Reason(
                PROTOCOL,
                UNAVAILABLE,
                where,
                source,
                "The matching <content> states no licence terms.",
            )
        verdicts = [
            _license(lic, purpose, mode, holds, user, geo) for lic in content.licenses
        ]
        prohibited = [v for v in verdicts if v[0] == RESERVED and v[2]]
        permitted = [v for v in verdicts if v[0] == PERMITTED]
        reserved = [v for v in verdicts if v[0] == RESERVED]
        if mode == STRICT and prohibited:
            pick = prohibited[0]
        elif permitted:
            pick = permitted[0]
        elif reserved:
            pick = reserved[0]
        else:
            pick = verdicts[0]
        return Reason(PROTOCOL, pick[0], f"{where}; {pick[3]}", source, pick[1])


def _content(index: int, element: Any) -> RslContent | None:
    url = (element.get("url") or "").strip()
    if not url:
        return None
    origin = None
    path = url
    if url.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL": a bracket in the host
            # A <content> we cannot place might be the one that prohibits:
            # the whole licence is unreadable, as for XML we cannot parse.
            raise _Invalid(f"<content url={clip(url, 80)!r}> is not a URL ({exc})") from None
        origin = (parts.scheme.lower(), parts.netloc.lower())
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
    pattern = compile_pattern(path)
    if pattern is None:
        return None
    licenses = []
    for number, lic in enumerate(
        (el for el in element if _local(el.tag) == "license"), start=1
    ):
        item = RslLicense(number)
        for child in lic:
            name = _local(child.tag)
            kind = (child.get("type") or "").strip().lower()
            if name in ("permits", "prohibits"):
                target = item.permits if name == "permits" else item.prohibits
                target.setdefault(kind or "usage", set()).update(_tokens(child.text))
            elif name == "payment":
                item.payments.append(kind or "free")
        licenses.append(item)
    server = (element.get("server") or "").strip()
    return RslContent(index, url, server, origin, pattern, licenses)


def _license(
    lic: RslLicense,
    purpose: str,
    mode: str,
    holds: bool,
    user: str | None,
    geo: str | None,
) -> tuple[str, str, bool, str]:
    """(verdict, detail, explicit prohibition?, rule) for one <license>."""
    rule = lic.describe()
    banned = sorted(
        t for t in lic.prohibits.get("usage", ()) if covers(PROTOCOL, t, purpose, mode)
    )
    if banned:
        return (
            RESERVED,
            f"The licence prohibits {', '.join(banned)}, which covers '{purpose}'.",
            True,
            rule,
        )
    listed = lic.permits.get("usage")
    if listed is not None and not any(
        covers(PROTOCOL, t, purpose, mode) for t in listed
    ):
        return (
            RESERVED,
            f"The licence permits only {', '.join(sorted(listed)) or 'nothing'}; "
            f"'{purpose}' is not granted.",
            False,
            rule,
        )
    for kind, ours in (("user", user), ("geo", geo)):
        allowed, denied = lic.permits.get(kind), lic.prohibits.get(kind, set())
        restricted = bool(denied) or (
            allowed is not None and not (kind == "user" and allowed >= ALL_USERS)
        )
        if not restricted:
            continue
        if ours is None:
            if mode == STRICT:
                return (
                    RESERVED,
                    f"The licence restricts {kind}s and the crawl's {kind} is not "
                    "configured; failing closed.",
                    False,
                    rule,
                )
            continue
        if ours.lower() in denied or (
            allowed is not None and ours.lower() not in allowed
        ):
            return RESERVED, f"The licence does not cover {kind} '{ours}'.", False, rule
    paid = [p for p in lic.payments if p != "free"]
    if lic.payments and len(paid) < len(lic.payments):
        paid = []  # a free option is offered beside the paid ones
    if paid and not holds:
        return (
            RESERVED,
            f"Use requires a licence ({', '.join(paid)}) that the operator does "
            "not hold.",
            False,
            rule,
        )
    how = "under a licence the operator holds" if paid else "free of charge"
    return PERMITTED, f"The licence grants '{purpose}' {how}.", False, rule


@never_raises(PROTOCOL)
def evaluate_all(
    documents: Sequence[RslDocument],
    url: str,
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
    held: Iterable[str] = (),
    user: str | None = None,
    geo: str | None = None,
) -> list[Reason]:
    """Every licence in force for *url* (one reason each, or one unavailable)."""
    held = tuple(held)
    reasons: list[Reason] = []
    for doc in documents:
        reasons += doc.evaluate(url, purpose, mode, held, user, geo)
    return reasons or [
        Reason(
            PROTOCOL,
            UNAVAILABLE,
            "",
            "robots.txt / Link",
            "No RSL licence is declared.",
        )
    ]


__all__ = [
    "NAMESPACE",
    "PROTOCOL",
    "SPEC",
    "LicenseRef",
    "RslDocument",
    "discover",
    "evaluate_all",
    "inline_documents",
    "parse_link_header",
]
