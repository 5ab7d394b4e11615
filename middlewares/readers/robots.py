"""robots.txt reader: RFC 9309 groups and matching, with no Scrapy import.

Spec: RFC 9309 (Robots Exclusion Protocol, September 2022), sections 2.2 to 2.5.

Group formation is ours, because Protego departs from the RFC there: it ends
a group at any unknown record (so a ``Content-Signal`` line splits ``A`` from
``B`` in ``User-agent: A / Content-Signal: .. / User-agent: B / Disallow: /``),
and it matches a group's user-agent as a substring of the crawler's name.
Here only ``Allow``/``Disallow`` rules end a group (§2.2.4: other records "MUST
NOT interfere"), user-agent values match product tokens case-insensitively as
whole names, and every matching group is combined (§2.2.1).

Pattern matching reuses Protego's percent-encoding normalisation and pattern
engine, vendored from Protego 0.7.0 in :mod:`._protego` (BSD-3-Clause), so
paths and patterns compare octet for octet as §2.2.2 asks: the longest match
wins, ``allow`` wins a tie, ``*`` and ``$`` as in §2.2.3.

:func:`parse` never raises on content: unparseable lines are counted and
skipped (§2.3.1.5 "Crawlers MUST use the parseable rules").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ._protego import URLPattern, quote_path, quote_pattern

#: RFC 9309 §2.2.1: product tokens are letters, "_" and "-" only.
PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")

_UA_FIELDS = {"user-agent", "useragent", "user agent"}
# Misspellings accepted by Google's reference parser (robots.cc), which the
# RFC's authors wrote; accepting them can only make the crawler more careful.
_DISALLOW_FIELDS = {"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"}
_ALLOW_FIELDS = {"allow"}
_KNOWN_NOCOLON = _UA_FIELDS | _DISALLOW_FIELDS | _ALLOW_FIELDS | {
    "sitemap",
    "crawl-delay",
}
# Records that are global rather than group members (RSL: "The License
# directive is global (not tied to any specific user agent)").
GLOBAL_FIELDS = {"sitemap", "license", "host"}
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_NOT_UTF8 = re.compile("\ufffd+")
#: Byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE).
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
         (b"\xfe\xff", "utf-16-be"))


def is_product_token(value: str) -> bool:
    """True if *value* is a valid RFC 9309 product token (not ``*``)."""
    return bool(PRODUCT_TOKEN.fullmatch(value))


@dataclass(frozen=True, slots=True)
class Record:
    """One ``field: value`` line; ``field`` is lower-cased, ``line`` 1-based."""

    field: str
    value: str
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.value}"


@dataclass(slots=True)
class Rule:
    allow: bool
    pattern: str
    line: int
    _compiled: URLPattern | None = None

    @property
    def priority(self) -> int:
        return self._compiled.priority if self._compiled else -1

    def matches(self, path: str) -> bool:
        return self._compiled is not None and self._compiled.match(path)

    def __str__(self) -> str:
        return f"line {self.line}: {'Allow' if self.allow else 'Disallow'}: {self.pattern}"


@dataclass(slots=True)
class Group:
    """A group: its user-agent values, rules and other member records."""

    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    line: int = 0

    def label(self) -> str:
        return "User-agent: " + ", ".join(self.agents)


@dataclass(slots=True)
class Match:
    """The outcome of matching one path against a (combined) group."""

    allowed: bool
    rule: Rule | None
    groups: list[Group]

    def describe(self) -> str:
        where = " + ".join(g.label() for g in self.groups) or "no group"
        if self.rule is None:
            return f"no rule matches ({where})"
        return f"{self.rule} ({where}, line {self.groups[0].line})"


def compile_pattern(pattern: str) -> URLPattern | None:
    return _compile(pattern)


@lru_cache(maxsize=65536)
def _compile(pattern: str) -> URLPattern | None:
    quoted = quote_pattern(pattern)
    return URLPattern(quoted) if quoted else None


def normalise_path(url_or_path: str) -> str:
    """The path and query of a URL, percent-encoded as RFC 9309 §2.2.2 says."""
    return quote_path(url_or_path)


def longest_match(rules: list[Rule], path: str) -> Rule | None:
    """The rule that decides *path*: most octets, ``allow`` on a tie (§2.2.2)."""
    best: Rule | None = None
    for rule in rules:
        if not rule.matches(path):
            continue
        if (
            best is None
            or rule.priority > best.priority
            or (rule.priority == best.priority and rule.allow and not best.allow)
        ):
            best = rule
    return best


@dataclass(slots=True)
class RobotsTxt:
    """A parsed robots.txt."""

    groups: list[Group] = field(default_factory=list)
    #: Global records (Sitemap, License, Host), in order.
    globals: list[Record] = field(default_factory=list)
    #: Member records seen before any user-agent line (RFC: SHOULD be ignored).
    ungrouped: list[Record] = field(default_factory=list)
    lines: int = 0
    invalid_lines: int = 0
    truncated: bool = False
    _by_agent: dict[str, list[Group]] = field(default_factory=dict)

    def groups_for(self, tokens: tuple[str, ...] | list[str]) -> list[Group]:
        """The groups naming any of *tokens* (case-insensitively), combined,
        else the ``*`` groups, else none (§2.2.1).
        """
        found: list[Group] = []
        for token in tokens:
            for group in self._by_agent.get(token.lower(), ()):
                if group not in found:
                    found.append(group)
        if found:
            return found
        return list(self._by_agent.get("*", ()))

    def named_groups(self, names: set[str]) -> list[tuple[str, Group]]:
        """Groups explicitly naming one of *names* (lower-cased), with the name."""
        out = []
        for group in self.groups:
            for agent in group.agents:
                key = agent_key(agent)
                if key in names:
                    out.append((agent, group))
                    break
        return out

    def match(self, url: str, tokens: tuple[str, ...] | list[str]) -> Match:
        groups = self.groups_for(tokens)
        return match_groups(groups, url)

    def crawl_delay(self, tokens: tuple[str, ...] | list[str]) -> float | None:
        delays = []
        for group in self.groups_for(tokens):
            for rec in group.records:
                if rec.field in ("crawl-delay", "crawl delay"):
                    try:
                        value = float(rec.value)
                    except ValueError:
                        continue
                    if value >= 0 and value == value and value != float("inf"):
                        delays.append(value)
        return max(delays) if delays else None

    def global_values(self, name: str) -> list[Record]:
        return [r for r in self.globals if r.field == name]


def refuses_every_path(groups: list[Group]) -> bool:
    """Whether the combined *groups* disallow every path but ``/robots.txt``
    (allowed implicitly, §2.2.2): a ``Disallow`` whose pattern matches any
    path (``/``, ``/*``, ``*``) and no ``Allow`` rule at all (an ``Allow``,
    however narrow, opens some path). Conservative: False says nothing."""
    rules = [r for g in groups for r in g.rules if r._compiled is not None]
    if any(r.allow for r in rules):
        return False
    return any(r.pattern.rstrip("*") in ("", "/") for r in rules)


def match_groups(groups: list[Group], url: str) -> Match:
    path = normalise_path(url)
    if path == "/robots.txt":  # §2.2.2: implicitly allowed
        return Match(True, None, groups)
    rules = [rule for group in groups for rule in group.rules]
    rule = longest_match(rules, path)
    return Match(rule is None or rule.allow, rule, groups)


def agent_key(value: str) -> str:
    """Lower-cased user-agent value, reduced to its product name
    (``Googlebot/2.1`` -> ``googlebot``)."""
    value = value.strip().lower()
    for sep in ("/", " ", "\t"):
        if sep in value and value != "*":
            head = value.split(sep, 1)[0]
            if head:
                value = head
    return value


def _split_line(line: str) -> tuple[str, str] | None:
    if ":" in line:
        key, value = line.split(":", 1)
        return key.strip().lower(), value.strip()
    # Google's reference parser accepts a missing colon for the core records
    # ("disallow /"); so do we, for those records only.
    words = line.split(None, 1)
    if not words:
        return None
    key = words[0].lower()
    if key == "user" and len(words) == 2 and words[1].lower().startswith("agent"):
        rest = words[1][5:].strip()
        return "user-agent", rest
    if key in _KNOWN_NOCOLON:
        return key, words[1].strip() if len(words) == 2 else ""
    return None


def decode(content: bytes) -> str:
    """The text of a robots.txt-format file (RFC 9309 §2.3: UTF-8).

    A byte-order mark names the encoding (a UTF-16 file read as UTF-8 would
    lose every rule, failing open); so does UTF-16 without one, when every
    other byte of the start is NUL. Anything else is UTF-8, invalid octets
    becoming U+FFFD (see :func:`parse`).
    """
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content[len(bom):].decode(codec, "replace")
    if content[:2] == b"\xef\xbb" or (content[:1] == b"\xef" and content[1:2].isascii()):
        # A cut-off UTF-8 BOM would turn the first line (a User-agent line,
        # typically) into U+FFFD noise and leave its rules outside any group:
        # ignored, failing open. Skipped, as Google's parser does.
        content = content[2:] if content[1:2] == b"\xbb" else content[1:]
    sample = content[:1024]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) * 4 >= len(sample) and min(even, odd) * 8 <= len(sample):
            return content.decode("utf-16-le" if odd > even else "utf-16-be", "replace")
    return content.decode("utf-8", "replace")


def parse(content: bytes | str, limit: int | None = None) -> RobotsTxt:
    """Parse robots.txt *content*; honour at most *limit* bytes (§2.5)."""
    result = RobotsTxt()
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    if limit is not None and len(content) > limit:
        content = content[:limit]
        # Drop the line cut in the middle: half a rule could widen access.
        cut = max(content.rfind(b"\n"), content.rfind(b"\r"))
        content = content[: cut + 1] if cut >= 0 else b""
        result.truncated = True
    text = decode(content)

    current: list[Group] = []  # groups receiving records
    open_for_agents = False  # True while consecutive user-agent lines build a group
    for number, raw in enumerate(_LINE_SPLIT.split(text), start=1):
        result.lines = number
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parsed = _split_line(line)
        if parsed is None:
            result.invalid_lines += 1
            continue
        key, value = parsed
        if key in _UA_FIELDS:
            if not open_for_agents:
                group = Group(line=number)
                result.groups.append(group)
                current = [group]
                open_for_agents = True
            if value:
                current[0].agents.append(value)
                result._by_agent.setdefault(agent_key(value), [])
                if current[0] not in result._by_agent[agent_key(value)]:
                    result._by_agent[agent_key(value)].append(current[0])
            continue
        if key in GLOBAL_FIELDS:
            result.globals.append(Record(key, value, number))
            continue
        if key in _ALLOW_FIELDS or key in _DISALLOW_FIELDS:
            if not current:
                result.ungrouped.append(Record(key, value, number))
                continue
            open_for_agents = False
            if "\ufffd" in value:
                # Octets that are not UTF-8 (§2.3 asks for UTF-8; a Latin-1
                # file, invalid bytes): the path they spell is unknown. A
                # Disallow covers whatever they were (each run becomes "*");
                # an Allow that cannot be read grants nothing.
                if key in _ALLOW_FIELDS:
                    result.invalid_lines += 1
                    continue
                value = _NOT_UTF8.sub("*", value)
            if value:  # "Disallow:" with no path is no rule at all
                rule = Rule(key in _ALLOW_FIELDS, value, number, _compile(value))
                current[0].rules.append(rule)
            continue
        # Any other record (Crawl-delay, Content-Usage, Content-Signal,
        # DisallowAITraining, unknown ones) belongs to the group but does not
        # end it (§2.2.4).
        record = Record(key, value, number)
        if current:
            current[0].records.append(record)
        else:
            result.ungrouped.append(record)
    return result
