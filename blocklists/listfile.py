"""The blocklist file format: a provenance header, then one entry per line.

A list file is UTF-8 text. It starts with a header of ``# key: value``
comment lines, then has one entry per line::

    # name: Example court order
    # kind: authoritative
    # issuer: Example Court of Appeal
    # source: Judgment of 1 January 2020, https://court.example/ruling.pdf
    # edition: 2020-01-01
    # licence: public domain (official act)
    piracy.example          # trailing comments are fine
    https://mirror.example:8443/any/path   # a URL's host is taken
    *.other.example         # same as other.example: subdomains always match

``name`` and ``kind`` are required, except that a file with neither (a
plain list of domains, such as datatrove's) is accepted as the operator's own
list: named after the file (its stem), ``advisory``, with a one-line warning
that it carries no provenance. ``kind`` is ``authoritative`` (a court or
an EU/EEA public authority, the lists Code of Practice Measure 1.2(1)(b)
refers to) or ``advisory`` (e.g. the EU Counterfeit and Piracy Watch List,
the USTR Notorious Markets list). ``edition`` and ``source`` are expected: a
warning says when one is missing. ``source`` may be repeated; other keys are
kept as metadata. ``license`` is accepted for ``licence``.

Parsing is lenient, like Protego's: an entry that is not a host name after
normalisation (see :mod:`tdmguard.blocklists.hosts`), or that is a bare public suffix
such as ``co.uk``, is skipped with a warning naming the file and line. Only an
incomplete (one of ``name``/``kind`` missing) or invalid header raises
:class:`BlocklistError`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path

from .domains import icann_wildcard_parents, is_public_suffix, suffix_rules
from .hosts import HOSTNAME_RE, MAX_HOST_LENGTH, canonical_host, idna_variants

__all__ = ["KINDS", "BlocklistError", "ParsedList", "parse_lines"]

logger = logging.getLogger(__name__)

#: Allowed values of the ``kind`` header, strongest first.
KINDS = ("authoritative", "advisory")
REQUIRED_KEYS = ("name", "kind")
EXPECTED_KEYS = ("edition", "source")
#: Header keys that become :class:`~tdmguard.blocklists.lists.Blocklist` fields.
FIELDS = ("name", "title", "kind", "issuer", "source", "edition", "licence")
#: Warnings kept (and logged) per file; the rest are counted in one line.
MAX_WARNINGS = 1000

# "# key: value"; the colon must be followed by a space or end the line, so a
# comment such as "# https://example.org" is not taken for a header key.
_HEADER = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*:(?:\s+(.*?))?\s*$")
_ALIASES = {"license": "licence"}
_REPEATABLE = frozenset({"source"})
_VALID_HOST = HOSTNAME_RE.fullmatch
_Search = Callable[[str], "re.Match[str] | None"]

# The batch fast path (see _Parser.batch). A block of lines is wrapped in
# newlines, encoded and mapped to character classes with bytes.translate, so
# every check is a substring search: no per-line Python code at all.
BATCH_LINES = 50_000
_COMMENT = re.compile(r"[ \t]*#[^\n]*")
_BLANK_LINES = re.compile(r"\n{2,}")


def _classes(mapping: dict[bytes, bytes], default: bytes) -> bytes:
    table = bytearray(default * 256)
    for chars, cls in mapping.items():
        for char in chars:
            table[char] = cls[0]
    return bytes(table)


_LOWER, _DIGITS = b"abcdefghijklmnopqrstuvwxyz_", b"0123456789"
# (translation table, byte strings that must not occur in the translated block)
_CHECKS = (
    # A character a host name cannot have; a name ending in a digit (an IP
    # address or a numeric top-level label: the line-by-line path decides).
    (
        _classes({_LOWER: b"a", _DIGITS: b"0", b".-": b"=", b"\n": b"\n"}, b"!"),
        (b"!", b"0\n"),
    ),
    # Empty labels, a leading or trailing dot, a label over 63 characters.
    (_classes({b".\n": b"."}, b"a"), (b"..", b"a" * 64)),
    # A label starting or ending with a hyphen.
    (_classes({b".\n": b".", b"-": b"-"}, b"a"), (b".-", b"-.")),
    # A name over 253 characters.
    (_classes({b"\n": b"\n"}, b"a"), (b"a" * (MAX_HOST_LENGTH + 1),)),
)


class BlocklistError(Exception):
    """A list file is missing or unusable; the message says how to fix it."""


@dataclass
class ParsedList:
    """What :func:`parse_lines` read: header fields, metadata, entries, warnings."""

    fields: dict[str, str]
    meta: dict[str, str]
    entries: set[str]
    warnings: list[str] = field(default_factory=list)
    dots: set[int] = field(default_factory=set)
    """How many dots the entries have (for matching: which parents to probe)."""


def parse_lines(lines: Iterable[str], path: Path) -> ParsedList:
    """Parse the lines of a list file; *path* is only used in messages."""
    return _Parser(path).run(lines)


def entry_hosts(text: str) -> tuple[str, ...] | str:
    """Return the canonical hosts of one entry, or the reason it is not one.

    Usually one host; an internationalised name also yields its other ASCII
    spelling (see :func:`tdmguard.blocklists.hosts.idna_variants`).
    """
    if any(char.isspace() for char in text):
        return "whitespace inside an entry"
    # "*.example.com" and ".example.com" mean the domain and its subdomains,
    # which is what every entry means.
    if text.startswith("*."):
        text = text[2:]
    elif text.startswith(".") and not text.startswith(".."):
        text = text[1:]
    result = canonical_host(text)
    if result is None:
        return "not a host name or URL"
    host, ip = result
    if ip:
        return (host,)
    if len(host) > MAX_HOST_LENGTH or not _VALID_HOST(host):
        return "not a valid host name"
    if host.rpartition(".")[2].isdigit():
        return "not a valid host name or IP address"
    if is_public_suffix(host):
        return "a bare public suffix, which would block a whole registry"
    return (host, *idna_variants(host))


class _Parser:
    """One pass over a list file.

    After the header, lines are handled in batches: a batch of plain ASCII
    host names (the bulk of any large list) is checked with a few C-speed
    string operations and added at once; any batch that is not plain, or
    that might hold a bare public suffix, is redone line by line, so
    warnings always name the right line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: dict[str, str] = {}
        self.warnings: list[str] = []
        self.suppressed = 0
        self.entries: set[str] = set()
        self.dots: set[int] = set()

    def warn(self, lineno: int | None, problem: str) -> None:
        if len(self.warnings) >= MAX_WARNINGS:
            self.suppressed += 1
            return
        where = f"{self.path}:{lineno}" if lineno else f"{self.path}"
        message = f"{where}: {problem}"
        self.warnings.append(message)
        logger.warning("%s", message)

    def header_line(self, lineno: int, line: str) -> None:
        match = _HEADER.match(line)
        if not match:
            return
        key = match[1].lower()
        key = _ALIASES.get(key, key)
        value = match[2] or ""
        if key in self.header and key in _REPEATABLE:
            self.header[key] = f"{self.header[key]}; {value}"
            return
        if key in self.header:
            self.warn(lineno, f"header key {key!r} repeated; the last value is used")
        self.header[key] = value

    def make(self) -> ParsedList:
        if not any(key in self.header for key in REQUIRED_KEYS):
            return self.headerless()
        missing = [key for key in REQUIRED_KEYS if not self.header.get(key)]
        if missing:
            wanted = ", ".join(f"'# {key}: ...'" for key in missing)
            raise BlocklistError(
                f"{self.path}: the header lacks {wanted}; start the file with "
                "'# name: <list name>' and '# kind: authoritative|advisory' lines"
            )
        kind = self.header["kind"].lower()
        if kind not in KINDS:
            raise BlocklistError(
                f"{self.path}: '# kind: {self.header['kind']}' is not one of "
                f"{', '.join(KINDS)}; use 'authoritative' for a court or EU/EEA "
                "authority list and 'advisory' for anything else"
            )
        for key in EXPECTED_KEYS:
            if not self.header.get(key):
                self.warn(None, f"the header has no '# {key}: ...' line")
        fields = {key: self.header.get(key, "") for key in FIELDS}
        fields["kind"] = kind
        meta = {k: v for k, v in self.header.items() if k not in FIELDS}
        return ParsedList(fields, meta, self.entries, self.warnings, self.dots)

    def headerless(self) -> ParsedList:
        """A plain list of hosts (datatrove's, a dataset's own): the operator's
        own list, named after the file, advisory, with one warning."""
        name = self.path.stem or "operator-list"
        self.warn(None, f"no '# name:'/'# kind:' header: loaded as the operator's own "
                  f"list {name!r} (advisory), which carries no provenance")
        fields = {key: self.header.get(key, "") for key in FIELDS}
        fields.update(name=name, kind="advisory",
                      title=f"{name} (operator's own list, no provenance header)")
        meta = {k: v for k, v in self.header.items() if k not in FIELDS}
        meta["provenance"] = "none"
        return ParsedList(fields, meta, self.entries, self.warnings, self.dots)

    def line(self, lineno: int, raw: str) -> None:
        line = raw.strip()
        if not line or line[0] == "#":
            return
        if "#" in line:
            line = line[: line.index("#")].rstrip()
        hosts = entry_hosts(line)
        if isinstance(hosts, str):
            self.warn(lineno, f"{hosts}: {line!r}; line skipped")
        else:
            self.entries.update(hosts)
            self.dots.update(host.count(".") for host in hosts)

    def batch(self, lines: list[str]) -> bool:
        """Add a batch of plain host-name lines at once; ``False`` if it is not one."""
        block = "".join(lines)
        if block.count("\n") < len(lines) - 1:  # lines given without their ends
            block = "\n".join(lines)
        if not block.isascii():
            return False
        block = "\n" + block.lower()
        if block[-1] != "\n":
            block += "\n"
        if "xn--" in block:  # IDNs get their other spelling added, line by line
            return False
        if "#" in block:
            block = _COMMENT.sub("", block)
        if "\n\n" in block:
            block = _BLANK_LINES.sub("\n", block)
        data = block.encode("ascii")
        for table, forbidden in _CHECKS:
            classes = data.translate(table)
            if any(bad in classes for bad in forbidden):
                return False
        hosts = block.split()
        # Candidate bare public suffixes ("co.uk", or "x.ck" under "*.ck")
        # need the full check.
        if not suffix_rules().isdisjoint(hosts):
            return False
        wildcard_tail, wildcard_child = _wildcard_patterns()
        if wildcard_tail(block) and wildcard_child(block):
            return False
        self.entries.update(hosts)
        self.dots.update(map(str.count, hosts, repeat(".")))
        return True

    def run(self, lines: Iterable[str]) -> ParsedList:
        iterator = iter(lines)
        parsed: ParsedList | None = None
        lineno = 0
        for raw in iterator:
            lineno += 1
            line = raw.strip()
            if line.startswith("#"):
                self.header_line(lineno, line)
            elif line:
                parsed = self.make()
                self.line(lineno, line)
                break
        if parsed is None:
            parsed = self.make()
            self.warn(None, "the list has no entries")
        while batch := list(islice(iterator, BATCH_LINES)):
            if not self.batch(batch):
                for offset, raw in enumerate(batch, lineno + 1):
                    self.line(offset, raw)
            lineno += len(batch)
        if self.suppressed:
            message = f"{self.path}: {self.suppressed} more warnings not shown"
            self.warnings.append(message)
            logger.warning("%s", message)
        return parsed


@functools.cache
def _wildcard_patterns() -> tuple[_Search, _Search]:
    # A line "label.ck" is itself a public suffix when the PSL has "*.ck".
    # The first pattern is a cheap filter for the second.
    parents = sorted(icann_wildcard_parents(), key=len, reverse=True)
    alternatives = "|".join(map(re.escape, parents)) or "(?!)"
    return (
        re.compile(rf"\.(?:{alternatives})\n").search,
        re.compile(rf"\n[^.\n]+\.(?:{alternatives})\n").search,
    )
