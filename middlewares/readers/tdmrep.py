"""TDMRep reader: the W3C TDM Reservation Protocol at every level.

Spec: W3C TDM Reservation Protocol, Final Community Group Report
(``CG-FINAL``) of 10 May 2024: ``/.well-known/tdmrep.json``, the
``tdm-reservation`` / ``tdm-policy`` response headers, HTML ``<meta>``, EPUB
OPF (EPUB 2 ``name="tdm:reservation"``, EPUB 3 ``property="tdm:reservation"``)
and PDF XMP ``tdm:reservation`` (namespaces ``http://www.w3.org/ns/tdmrep/``
and ``…/tdmrep#``; the last two are read by :mod:`.assets`).

Levels, in the spec's order: file < header < HTML meta < EPUB/PDF. A later
value supersedes an earlier one and absence never resets. Values other than
``0``/``1`` are protocol errors and leave the value unset.

Modes (``mode=``):

- ``rfc``: the spec literally: a later ``0`` lifts an earlier ``1`` (vector
  T7); a tdmrep.json answering 5xx, 429, no response, invalid JSON or a
  non-array is "not implemented" (unset).
- ``strict`` (default): any ``1`` seen at any level holds; a file that cannot
  be read (5xx, 429, no response, invalid JSON, not an array) is
  ``unreadable`` (fail closed, retried when the origin's cache expires),
  because it may hold a ``1`` for this path that no later ``0`` could lift.

Open questions, as parameters:

- ``matching="first"`` (default): the spec's "most specific match is the first
  in sequence". ``"longest"`` uses RFC 9309 longest match instead. When the two
  readings differ (vector T4) the reason's detail says so; the spec's own
  rule decides in both modes, so a site's explicit carve-out holds.
- ``soft_404_html=True`` (default): a 2xx whose body is markup (first
  character ``<``) is the site's "page not found" page, not a broken TDMRep
  file, so it counts as not implemented. Valid JSON never starts with ``<``;
  without this, every single-page-app site would be refused forever.

Purposes: TDMRep reserves text and data mining, mapped in
``middlewares/data/purposes.json`` to ``train-ai``, ``ai-input`` (and
``train-ai-nongen``). ``search`` is not mapped by default: publishers that
reserve TDM (ScienceDirect) also ask to be indexed in the same ``<head>``.

Middleware use, per origin then per request / response::

    tdm_file = TdmRepFile.parse(body, status, url)          # once per origin
    tdm_file.evaluate(request.url, purpose, mode)           # before download
    resolve(url, tdm_file, response.headers, head, embedded, purpose, mode)

In strict mode a ``reserved`` or ``unreadable`` file verdict is final and the
request is refused before download; in rfc mode a file ``1`` may still be
lifted by a response's ``0``, so the response must be fetched and resolved.

Why it is long: it covers every TDMRep level (tdmrep.json with its rule
matching, headers, HTML ``<meta>``, and the EPUB and PDF values :mod:`.assets`
reads) and their precedence in rfc and strict mode, with the spec's open
questions (first or longest match, soft-404 pages) as parameters whose
disagreements the reasons explain; this docstring records each reading. DESIGN
keeps one protocol in one pure reader module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tdmguard.middlewares.readers.robots import compile_pattern, normalise_path
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

from ._common import HeadersLike, clip, covers, header_values, never_raises, norm_mode
from .htmlhead import Head

PROTOCOL = "tdmrep"
SPEC = "W3C TDMRep CG-FINAL 2024-05-10"
WELL_KNOWN = "/.well-known/tdmrep.json"
_LABEL = "tdm-reservation"


@dataclass(frozen=True, slots=True)
class Statement:
    """One ``tdm-reservation`` statement at one level.

    :param reservation: 1, 0, or None for a protocol error (treated as unset).
    :param level: ``file``, ``header``, ``meta``, ``epub`` or ``pdf``/``xmp``.
    """

    reservation: int | None
    policy: str | None
    rule: str
    source: str
    level: str
    raw: str = ""


@dataclass(slots=True)
class FileRule:
    index: int  # 1-based position in the array
    location: str
    reservation: int
    policy: str | None
    pattern: Any
    raw: str

    def describe(self) -> str:
        return f"tdmrep.json rule #{self.index}: {self.raw}"


@dataclass(slots=True)
class TdmRepFile:
    """A fetched ``/.well-known/tdmrep.json``: parse once per origin."""

    url: str = ""
    status: int | None = None
    #: ``ok`` (rules read), ``absent`` (not implemented) or ``error``.
    state: str = "absent"
    error: str = ""
    rules: list[FileRule] = field(default_factory=list)
    #: Array entries skipped as invalid (counted, never raised).
    skipped: int = 0

    @classmethod
    def parse(
        cls,
        body: bytes | str | None,
        status: int | None = 200,
        url: str = "",
        *,
        soft_404_html: bool = True,
    ) -> TdmRepFile:
        """Read a tdmrep.json response; *status* None means no response."""
        result = cls(url=str(url or ""), status=status)
        try:
            result._read(body, status, soft_404_html)
        except Exception as exc:  # safety net: a body we did not foresee
            result.state, result.error = "error", f"unreadable ({type(exc).__name__})"
        return result

    def _read(self, body: bytes | str | None, status: int | None, soft: bool) -> None:
        if (
            status is None
            or status == 429
            or (isinstance(status, int) and status >= 500)
        ):
            self.state = "error"
            self.error = "no response" if status is None else f"HTTP {status}"
            return
        if not 200 <= int(status) < 300:
            self.state = "absent"
            self.error = f"HTTP {status}: the origin does not implement TDMRep"
            return
        if isinstance(body, (bytes, bytearray, memoryview)):
            try:
                text = bytes(body).decode("utf-8-sig")
            except UnicodeDecodeError:
                self.state, self.error = "error", "invalid JSON (not UTF-8)"
                return
        else:
            text = (body or "").lstrip("\ufeff")
        stripped = text.lstrip()
        if soft and stripped.startswith("<"):
            self.state = "absent"
            self.error = "markup instead of JSON (a soft 404): not implemented"
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.state, self.error = "error", f"invalid JSON ({clip(str(exc), 80)})"
            return
        if not isinstance(data, list):
            self.state = "error"
            self.error = f"top level is a JSON {type(data).__name__}, not an array"
            return
        self.state = "ok"
        for index, entry in enumerate(data, start=1):
            rule = _file_rule(index, entry)
            if rule is None:
                self.skipped += 1
            else:
                self.rules.append(rule)

    # -- per URL ---------------------------------------------------------------

    def match(self, url: str, matching: str = "first") -> FileRule | None:
        """The rule deciding *url* (path and query, RFC 9309 normalised)."""
        return self._match(normalise_path(url), matching)

    def _match(self, path: str, matching: str) -> FileRule | None:
        if matching == "longest":
            best: FileRule | None = None
            for rule in self.rules:
                if rule.pattern.match(path) and (
                    best is None or rule.pattern.priority > best.pattern.priority
                ):
                    best = rule
            return best
        for rule in self.rules:
            if rule.pattern.match(path):
                return rule
        return None

    def statement(self, url: str, matching: str = "first") -> Statement | None:
        return self._statement(normalise_path(url), matching)

    def _statement(self, path: str, matching: str) -> Statement | None:
        rule = self._match(path, matching)
        if rule is None:
            return None
        return Statement(
            rule.reservation,
            rule.policy,
            rule.describe(),
            self.url or WELL_KNOWN,
            "file",
        )

    def evaluate(
        self,
        url: str,
        purpose: str = TRAIN_AI,
        mode: str = STRICT,
        matching: str = "first",
    ) -> list[Reason]:
        """The file's verdict for *url*, before any response is seen."""
        return resolve(url, self, purpose=purpose, mode=mode, matching=matching)

    def _disagreement(self, path: str, matching: str) -> str:
        if len(self.rules) < 2:
            return ""
        other = "longest" if matching == "first" else "first"
        a, b = self._match(path, matching), self._match(path, other)
        if a is b or (a and b and a.reservation == b.reservation):
            return ""
        what = f"rule #{b.index} ({b.reservation})" if b else "no rule"
        return f" The {other}-match reading would pick {what}."


def _file_rule(index: int, entry: Any) -> FileRule | None:
    if not isinstance(entry, dict):
        return None
    location = entry.get("location")
    value = entry.get("tdm-reservation")
    if not isinstance(location, str) or not location.strip():
        return None
    if isinstance(value, bool) or value not in (0, 1):
        return None
    pattern = compile_pattern(location.strip())
    if pattern is None:
        return None
    policy = entry.get("tdm-policy")
    policy = policy.strip() if isinstance(policy, str) and policy.strip() else None
    try:
        raw = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        raw = f'{{"location":{location!r},"tdm-reservation":{value}}}'
    return FileRule(
        index, location.strip(), int(value), policy, pattern, clip(raw, 240)
    )


def _value(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw in ("0", "1") else None


def _combine(values: list[str], mode: str) -> int | None:
    """Several instances at one level: agreeing values stand; in strict mode
    any ``1`` stands; otherwise it is a protocol error.
    """
    parsed = [_value(v) for v in values]
    if norm_mode(mode) == STRICT and 1 in parsed:
        return 1
    if parsed and all(p is not None for p in parsed) and len(set(parsed)) == 1:
        return parsed[0]
    return None


def header_statements(headers: HeadersLike, mode: str = STRICT) -> list[Statement]:
    """The ``tdm-reservation`` / ``tdm-policy`` headers (0 or 1 statement).

    Each field line is one instance; a comma-joined line such as ``1, 1`` is
    not a 0/1 value and so a protocol error.
    """
    found = header_values(headers, "tdm-reservation")
    if not found:
        return []
    policies = [v for _, v in header_values(headers, "tdm-policy") if v]
    values = [v for _, v in found]
    rule = "; ".join(f"{name}: {clip(value, 120)}" for name, value in found)
    if policies:
        rule += f"; tdm-policy: {clip(policies[0], 200)}"
    return [
        Statement(
            _combine(values, mode),
            policies[0] if policies else None,
            rule,
            "tdm-reservation header",
            "header",
            raw=", ".join(values),
        )
    ]


def meta_statements(head: Head | None, mode: str = STRICT) -> list[Statement]:
    """``<meta name="tdm-reservation" content="1">`` (+ ``tdm-policy``)."""
    if head is None:
        return []
    metas = head.meta("tdm-reservation")
    policies = [m.content for m in head.meta("tdm-policy") if m.content]
    if mode == STRICT:  # a reservation seen anywhere holds: misplaced in the body too
        metas += [m for m in head.body_metas if m.key == "tdm-reservation"]
        policies += [m.content for m in head.body_metas if m.key == "tdm-policy" and m.content]
    if not metas:
        return []
    rule = "; ".join(str(m) for m in metas)
    return [
        Statement(
            _combine([m.content for m in metas], mode),
            policies[0] if policies else None,
            clip(rule, 300),
            'meta name="tdm-reservation"',
            "meta",
            raw=", ".join(m.content for m in metas),
        )
    ]


@never_raises(PROTOCOL)
def resolve(
    url: str,
    file: TdmRepFile | None = None,
    headers: HeadersLike = None,
    head: Head | None = None,
    embedded: Sequence[Statement] = (),
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
    matching: str = "first",
) -> list[Reason]:
    """Resolve TDMRep for one URL across every level; one reason.

    *file* is the origin's parsed tdmrep.json (None if not fetched), *head*
    the page's :func:`.htmlhead.scan`, *embedded* the EPUB/PDF statements from
    :func:`.assets.read_asset`.
    """
    mode = norm_mode(mode)
    statements: list[Statement] = []
    file_error = ""
    note = ""
    if file is not None:
        if file.state == "error":
            file_error = file.error
        elif file.state == "ok":
            path = normalise_path(url)
            found = file._statement(path, matching)
            if found is not None:
                statements.append(found)
            note = file._disagreement(path, matching)
            if file.skipped:
                note += f" {file.skipped} invalid rule(s) in the file were skipped."
    statements += header_statements(headers, mode)
    statements += meta_statements(head, mode)
    statements += list(embedded)
    return [_decide(statements, file, file_error, note, purpose, mode)]


def _decide(
    statements: list[Statement],
    file: TdmRepFile | None,
    file_error: str,
    note: str,
    purpose: str,
    mode: str,
) -> Reason:
    applies = covers(PROTOCOL, _LABEL, purpose, mode)
    current: Statement | None = None
    first_one: Statement | None = None
    errors = [s for s in statements if s.reservation is None]
    for statement in statements:
        if statement.reservation is None:
            continue  # protocol error: unset, and absence never resets
        current = statement
        if statement.reservation == 1 and first_one is None:
            first_one = statement
    source_url = file.url if file is not None and file.url else WELL_KNOWN
    if not applies:
        shown = current.rule if current else ""
        return Reason(
            PROTOCOL,
            UNAVAILABLE,
            clip(shown, 300),
            current.source if current else source_url,
            f"TDMRep reserves text and data mining, which purpose '{purpose}' "
            "is not mapped to.",
        )
    if mode == STRICT and first_one is not None:
        lifted = current is not None and current.reservation == 0
        extra = (
            f" A later {current.level} value 0 does not lift it in strict mode."
            if lifted and current is not None
            else ""
        )
        return _reserved(first_one, extra + note)
    if mode == STRICT and file_error:
        return Reason(
            PROTOCOL,
            UNREADABLE,
            f"tdmrep.json: {file_error}",
            source_url,
            f"The site's tdmrep.json could not be read ({file_error}); failing closed "
            "until it is fetched again.",
        )
    if current is not None and current.reservation == 1:
        return _reserved(current, note)
    if current is not None:
        return Reason(
            PROTOCOL,
            PERMITTED,
            clip(current.rule, 300),
            current.source,
            f"TDM rights are not reserved (tdm-reservation 0, {current.level}); "
            f"its tdm-policy is not processed.{note}",
        )
    if errors:
        bad = errors[-1]
        return Reason(
            PROTOCOL,
            UNAVAILABLE,
            clip(bad.rule, 300),
            bad.source,
            f"tdm-reservation value {clip(bad.raw, 40)!r} is not 0 or 1: a protocol "
            "error, so the reservation is unset.",
        )
    if file is not None and file.state != "ok":
        why = file.error or "not fetched"
        return Reason(
            PROTOCOL,
            UNAVAILABLE,
            f"tdmrep.json: {why}",
            source_url,
            f"No TDMRep statement: {why}.",
        )
    return Reason(
        PROTOCOL,
        UNAVAILABLE,
        "",
        source_url,
        f"No TDMRep rule or statement applies to this URL.{note}",
    )


def _reserved(statement: Statement, extra: str) -> Reason:
    policy = f" Policy: {clip(statement.policy, 200)}." if statement.policy else ""
    return Reason(
        PROTOCOL,
        RESERVED,
        clip(statement.rule, 300),
        statement.source,
        f"TDM rights are reserved (tdm-reservation 1, {statement.level})."
        f"{policy}{extra}",
    )


__all__ = [
    "PROTOCOL",
    "SPEC",
    "WELL_KNOWN",
    "FileRule",
    "Statement",
    "TdmRepFile",
    "header_statements",
    "meta_statements",
    "resolve",
]
