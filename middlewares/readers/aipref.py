"""Content-Usage reader: IETF AI preferences in headers and robots.txt.

Spec: draft-ietf-aipref-vocab-07 (vocabulary, §5.1 combining, §6.5 syntax)
and draft-ietf-aipref-attach-05 (the ``Content-Usage`` response field, §2,
and ``Content-Usage`` rules in robots.txt groups, §3), both 2026-08-19.
Values are RFC 9651 Structured Field Dictionaries parsed with ``http-sf``:
a Token ``y`` allows, ``n`` disallows, anything else is unknown; a dictionary
that fails to parse (for example an upper-case key) is unknown as a whole;
parameters and unknown labels are ignored; duplicate keys: the last wins.

robots.txt rules (attach §3): ``Content-Usage: [path] prefs`` inside a group.
The longest matching path decides (RFC 9309 octet count); rules with
identical paths are combined most-restrictively (vocab §5.1); a rule with no
path applies to ``/``; rules only apply to URLs the group lets us crawl (the
caller passes ``crawlable``, e.g. ``robots.match(url, tokens).allowed``).

Group formation: attach-05 defines ``Content-Usage`` as a *rule*, so, like
Allow/Disallow, it ends a run of ``User-agent`` lines; RFC 9309 parsers that
do not know it (``tdmguard.middlewares.readers.robots``, Google's) treat it as an other record
that does not (vector R12). :meth:`ContentUsageRules.parse` reads the body
both ways: the AIPREF grouping is the spec's, and where it states nothing for
our purpose, strict mode also honours a reservation that only the RFC 9309
grouping gives our group.
:meth:`ContentUsageRules.from_robots` only has the RFC 9309 grouping.

Modes:

- ``rfc``: the drafts literally. The single most specific matching rule
  decides, even when it is silent on the purpose (then: unknown). Only our
  own group is read (RFC 9309 group selection, vector A11). Legacy labels are
  ignored.
- ``strict`` (default): the most specific rule *that states a preference for
  the purpose* decides, so a site-wide ``train-ai=n`` is not undone by a
  more specific rule that only speaks about ``search``; an explicit carve-out
  (``/ai-ok/ train-ai=y``) is still honoured. If our group states nothing for
  the purpose at this URL, the ``*`` group's rules apply. Legacy labels of
  earlier drafts (``ai``, ``train-genai``, ``bots``, ``tdm``, ``all``, …) are
  read as reservations (never as permissions) and logged as legacy.

Label-to-purpose mapping: ``content-usage`` / ``content-usage-legacy`` in
``middlewares/data/purposes.json`` (vocab-07 has no ``ai-input`` label).

Middleware use::

    rules = ContentUsageRules.parse(robots_body, tokens, robots_url)  # per origin
    rules.evaluate(url, crawlable, purpose, mode)                     # per request
    header_reasons(response.headers, purpose, mode)                   # per response

Why it is long: it implements two drafts at once (the ``Content-Usage``
response field and robots.txt ``Content-Usage`` rules), reads robots.txt under
both group formations (attach-05's and RFC 9309's, vector R12) and evaluates in
two modes, strict adding the legacy labels and the ``*``-group fallback; this
docstring records each of those readings. DESIGN keeps one protocol in one pure
reader module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import http_sf

from tdmguard.middlewares.readers.robots import (
    RobotsTxt,
    compile_pattern,
    normalise_path,
    parse,
)
from tdmguard.middlewares.readers.robots import decode as decode_robots
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    Reason,
)

from ._common import HeadersLike, clip, covers, header_values, never_raises, norm_mode

PROTOCOL = "content-usage"
SPEC = "draft-ietf-aipref-vocab-07 + draft-ietf-aipref-attach-05"
_LEGACY = "content-usage-legacy"
FIELD = "content-usage"


@dataclass(frozen=True, slots=True)
class Preferences:
    """A parsed preference dictionary: label -> ``y``, ``n`` or ``?``."""

    labels: dict[str, str]
    error: str = ""

    @classmethod
    def parse(cls, value: str | bytes) -> Preferences:
        data = value if isinstance(value, bytes) else _encode(value)
        try:
            parsed = http_sf.parse(data, tltype="dictionary")
        except Exception as exc:  # StructuredFieldError and anything stranger
            return cls({}, clip(f"not an RFC 9651 dictionary: {exc}", 160))
        out: dict[str, str] = {}
        for key, member in parsed.items():  # type: ignore[union-attr]
            item = member[0] if isinstance(member, tuple) else member
            if isinstance(item, http_sf.Token) and str(item) in ("y", "n"):
                out[key] = str(item)
            else:
                out[key] = "?"
        return cls(out)

    def verdict(
        self, purpose: str, mode: str
    ) -> tuple[str | None, list[str], list[str]]:
        """(``n``/``y``/None, labels that decided, legacy labels that decided)."""
        no, yes, legacy = [], [], []
        for label, value in self.labels.items():
            if covers(PROTOCOL, label, purpose, mode):
                if value == "n":
                    no.append(label)
                elif value == "y":
                    yes.append(label)
            elif value == "n" and covers(_LEGACY, label, purpose, mode):
                legacy.append(label)
        if no or legacy:
            return "n", no, legacy
        if yes:
            return "y", yes, []
        return None, [], []

    def unknown_for(self, purpose: str) -> list[str]:
        """Labels for *purpose* present with a value that is neither y nor n."""
        return [
            label
            for label, value in self.labels.items()
            if value == "?" and covers(PROTOCOL, label, purpose, STRICT)
        ]


def _encode(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


def _describe(verdict: str | None, labels: list[str], legacy: list[str]) -> str:
    if verdict is None:
        return ""
    parts = [f"{label}={verdict}" for label in labels]
    parts += [
        f"{label}=n (legacy label, read as a reservation in strict mode)"
        for label in legacy
    ]
    return ", ".join(parts)


@never_raises(PROTOCOL)
def header_reasons(
    headers: HeadersLike, purpose: str = TRAIN_AI, mode: str = STRICT
) -> list[Reason]:
    """The ``Content-Usage`` response field (all field lines combined)."""
    mode = norm_mode(mode)
    lines = [value for _, value in header_values(headers, FIELD)]
    lines = [v for v in lines if v]
    if not lines:
        return [
            Reason(
                PROTOCOL,
                UNAVAILABLE,
                "",
                "Content-Usage header",
                "No Content-Usage header.",
            )
        ]
    combined = ", ".join(lines)
    prefs = Preferences.parse(combined)
    rule = f"Content-Usage: {clip(combined, 240)}"
    return [
        _reason(
            prefs, purpose, mode, rule, "Content-Usage header", "the response header"
        )
    ]


def _reason(
    prefs: Preferences, purpose: str, mode: str, rule: str, source: str, where: str
) -> Reason:
    verdict, labels, legacy = prefs.verdict(purpose, mode)
    if verdict == "n":
        return Reason(
            PROTOCOL,
            RESERVED,
            rule,
            source,
            f"{where} disallows '{purpose}' ({_describe(verdict, labels, legacy)}).",
        )
    if verdict == "y":
        return Reason(
            PROTOCOL,
            PERMITTED,
            rule,
            source,
            f"{where} allows '{purpose}' ({_describe(verdict, labels, legacy)}).",
        )
    if prefs.error:
        why = f"{prefs.error}; preferences are unknown (vocab §6.5)"
    elif prefs.unknown_for(purpose):
        why = (
            f"{', '.join(prefs.unknown_for(purpose))} has a value other than the "
            "Token y or n, so the preference is unknown (vocab §6.5)"
        )
    else:
        why = f"no preference is stated for '{purpose}'"
    return Reason(PROTOCOL, UNAVAILABLE, rule, source, f"In {where}, {why}.")


# -- robots.txt rules ------------------------------------------------------------


@dataclass(slots=True)
class UsageRule:
    """One ``Content-Usage`` record of a group."""

    path: str  # "" when the rule has no path (applies to "/")
    pattern: Any
    prefs: Preferences
    line: int
    raw: str
    group: str

    @property
    def priority(self) -> int:
        return self.pattern.priority if self.pattern is not None else 0

    def __str__(self) -> str:
        return f"line {self.line}: Content-Usage: {clip(self.raw, 200)}"


def parse_rule(value: str, line: int = 0, group: str = "") -> UsageRule | None:
    """Split a rule value into optional path and preferences (attach §3.1)."""
    value = value.strip()
    path = ""
    prefs = value
    if value.startswith("/"):
        parts = value.split(None, 1)
        path = parts[0]
        prefs = parts[1] if len(parts) == 2 else ""
    pattern = compile_pattern(path or "/")
    if pattern is None:
        return None
    return UsageRule(path, pattern, Preferences.parse(prefs), line, value, group)


#: robots.txt parse limit (RFC 9309 §2.5 floor).
LIMIT = 500 * 1024
_LINES = re.compile(r"\r\n|\r|\n")


def _aipref_view(body: bytes | str, limit: int = LIMIT) -> tuple[RobotsTxt, list[int]]:
    """Parse *body* with Content-Usage lines ending user-agent runs (attach-05
    grammar): an empty ``Disallow:`` (no rule, but it closes the run) is put
    before each of them. Returns the parse and new-line -> original-line.
    """
    data = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    )
    if len(data) > limit:
        data = data[:limit]
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        data = data[: cut + 1] if cut >= 0 else b""
    out: list[str] = []
    mapping = [0]
    for number, line in enumerate(_LINES.split(decode_robots(data)), start=1):
        record = line.split("#", 1)[0]
        if ":" in record and record.split(":", 1)[0].strip().lower() == FIELD:
            out.append("Disallow:")
            mapping.append(number)
        out.append(line)
        mapping.append(number)
    return parse("\n".join(out)), mapping


def _rules(groups: Sequence[Any], lines: list[int] | None = None) -> list[UsageRule]:
    out = []
    for group in groups:
        for record in group.records:
            if record.field == FIELD:
                line = (
                    lines[record.line]
                    if lines and record.line < len(lines)
                    else record.line
                )
                rule = parse_rule(record.value, line, group.label())
                if rule is not None:
                    out.append(rule)
    return out


def _combine(verdicts: list[str | None]) -> str | None:
    if "n" in verdicts:
        return "n"
    if "y" in verdicts:
        return "y"
    return None


@dataclass(slots=True)
class Resolution:
    verdict: str | None
    rules: list[UsageRule]
    labels: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)


def _resolve(
    rules: list[UsageRule], path: str, purpose: str, mode: str
) -> Resolution | None:
    """Longest matching rule(s); strict skips rules silent on the purpose."""
    best: list[tuple[UsageRule, tuple[str | None, list[str], list[str]]]] = []
    top = -1
    for rule in rules:
        if not rule.pattern.match(path):
            continue
        result = rule.prefs.verdict(purpose, mode)
        if mode == STRICT and result[0] is None:
            continue
        if rule.priority > top:
            top, best = rule.priority, [(rule, result)]
        elif rule.priority == top:
            best.append((rule, result))
    if not best:
        return None
    verdict = _combine([r[1][0] for r in best])
    deciding = [(rule, res) for rule, res in best if res[0] == verdict] or best
    labels = sorted({label for _, res in deciding for label in res[1]})
    legacy = sorted({label for _, res in deciding for label in res[2]})
    return Resolution(verdict, [rule for rule, _ in best], labels, legacy)


@dataclass(slots=True)
class ContentUsageRules:
    """The Content-Usage rules of one robots.txt for our tokens: parse once."""

    url: str = ""
    ours: list[UsageRule] = field(default_factory=list)
    #: The ``*`` group's rules when our tokens have a group of their own.
    star: list[UsageRule] = field(default_factory=list)
    #: The same two lists under the other group reading (strict mode only).
    alt_ours: list[UsageRule] = field(default_factory=list)
    alt_star: list[UsageRule] = field(default_factory=list)

    @property
    def has_statements(self) -> bool:
        """False when :meth:`evaluate` could only say "absent" (cheap)."""
        return bool(self.ours or self.star or self.alt_ours or self.alt_star)

    @classmethod
    def parse(
        cls, body: bytes | str | None, tokens: Sequence[str] = (), url: str = ""
    ) -> ContentUsageRules:
        """Read a robots.txt body with the AIPREF grouping (preferred)."""
        result = cls(url=str(url or ""))
        try:
            view, lines = _aipref_view(body or b"")
            result.ours, result.star = _select(view, tokens, lines)
            result.alt_ours, result.alt_star = _select(
                parse(body or b"", limit=LIMIT), tokens
            )
        except Exception:
            result.ours = result.star = result.alt_ours = result.alt_star = []
        return result

    @classmethod
    def from_robots(
        cls, robots: RobotsTxt | None, tokens: Sequence[str] = (), url: str = ""
    ) -> ContentUsageRules:
        """From an already parsed robots.txt (RFC 9309 grouping only)."""
        result = cls(url=str(url or ""))
        if robots is not None:
            try:
                result.ours, result.star = _select(robots, tokens)
            except Exception:  # an object that only looks like a RobotsTxt
                result.ours, result.star = [], []
        return result

    @never_raises(PROTOCOL)
    def evaluate(
        self,
        url: str,
        crawlable: bool = True,
        purpose: str = TRAIN_AI,
        mode: str = STRICT,
    ) -> list[Reason]:
        """The robots.txt Content-Usage verdict for *url*."""
        mode = norm_mode(mode)
        source = self.url or "robots.txt"
        if not (self.ours or self.alt_ours) and not (
            mode == STRICT and (self.star or self.alt_star)
        ):
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    "robots.txt has no Content-Usage rule for our group.",
                )
            ]
        if not crawlable:
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    "robots.txt disallows this URL, so no usage preference is "
                    "implied (attach §3).",
                )
            ]
        path = normalise_path(url)
        found, where = self._lookup(self.ours, self.star, path, purpose, mode)
        if mode == STRICT and (self.alt_ours or self.alt_star):
            alt, alt_where = self._lookup(
                self.alt_ours, self.alt_star, path, purpose, mode
            )
            # Only where the AIPREF reading is silent: an explicit carve-out holds.
            if (
                alt is not None
                and alt.verdict == "n"
                and (found is None or found.verdict is None)
            ):
                found = alt
                where = (
                    alt_where
                    + " (RFC 9309 grouping, where Content-Usage does not end a group)"
                )
        if found is None:
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    "No Content-Usage rule matches this URL.",
                )
            ]
        rule = "; ".join(str(r) for r in found.rules)
        if found.verdict is None:
            errors = [r.prefs.error for r in found.rules if r.prefs.error]
            why = f" ({errors[0]})" if errors else ""
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    rule,
                    source,
                    "The most specific Content-Usage rule states no preference "
                    f"for '{purpose}'{why}.",
                )
            ]
        verdict = RESERVED if found.verdict == "n" else PERMITTED
        return [self._reason(found, verdict, rule, source, where, purpose)]

    @staticmethod
    def _lookup(
        ours: list[UsageRule], star: list[UsageRule], path: str, purpose: str, mode: str
    ) -> tuple[Resolution | None, str]:
        found = _resolve(ours, path, purpose, mode)
        if (found is None or found.verdict is None) and mode == STRICT and star:
            star_found = _resolve(star, path, purpose, mode)
            if star_found is not None:
                return (
                    star_found,
                    "robots.txt's * group (read in strict mode: our group is silent)",
                )
        return found, "robots.txt"

    @staticmethod
    def _reason(
        found: Resolution,
        verdict: str,
        rule: str,
        source: str,
        where: str,
        purpose: str,
    ) -> Reason:
        verb = "disallows" if verdict == RESERVED else "allows"
        return Reason(
            PROTOCOL,
            verdict,
            rule,
            source,
            f"{where} {verb} '{purpose}' for this path "
            f"({_describe(found.verdict, found.labels, found.legacy)}).",
        )


def _select(
    robots: RobotsTxt, tokens: Sequence[str], lines: list[int] | None = None
) -> tuple[list[UsageRule], list[UsageRule]]:
    """Our groups' rules, and the ``*`` group's when ours is a named group."""
    ours = robots.groups_for(tuple(tokens))
    star = robots.groups_for(())
    own = bool(ours) and {id(g) for g in ours} != {id(g) for g in star}
    return _rules(ours, lines), (_rules(star, lines) if own else [])


__all__ = [
    "FIELD",
    "PROTOCOL",
    "SPEC",
    "ContentUsageRules",
    "Preferences",
    "UsageRule",
    "header_reasons",
    "parse_rule",
]
