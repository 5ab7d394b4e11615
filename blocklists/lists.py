"""Blocklists with their provenance, and matching hosts against them.

:class:`Blocklist` is one list file (format: :mod:`tdmguard.blocklists.listfile`);
:class:`BlocklistSet` consults several at once. A host matches an entry when
it equals it or is a subdomain of it, so ``not-listed.to`` does not match
``listed.to`` and neither does ``listed.to.example.com``. Hosts without a
public suffix (``x.example``, ``localhost``) match the same way; IP
addresses match exactly.

>>> text = ["# name: t", "# kind: advisory", "# edition: 1", "# source: s", "listed.to"]
>>> blocklists = BlocklistSet([Blocklist.parse(text)])
>>> found = blocklists.match("https://WWW.Listed.TO.:443/x")
>>> found.list_name, found.entry, found.host
('t', 'listed.to', 'www.listed.to')
>>> blocklists.match("not-listed.to") is None
True
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from .hosts import PLAIN_HOST_RE, PLAIN_URL_RE, canonical_host
from .listfile import KINDS, BlocklistError, parse_lines

__all__ = [
    "KINDS",
    "Blocklist",
    "BlocklistError",
    "BlocklistSet",
    "Match",
    "load_blocklists",
    "shipped_blocklist_paths",
]

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"

_plain_host = PLAIN_HOST_RE.fullmatch
_plain_url = PLAIN_URL_RE.match
# A plain host ending like this may be an IP address or have a trailing dot.
_NOT_PLAIN_END = frozenset(".0123456789")


@dataclass(frozen=True, slots=True)
class Match:
    """Why a host is blocked: which list, which of its entries."""

    list_name: str
    kind: str
    edition: str
    entry: str
    """The list entry that matched (the host itself or a parent domain)."""
    host: str
    """The canonical host that was looked up."""


@dataclass(eq=False)
class Blocklist:
    """One list file: its provenance header and its set of canonical hosts."""

    name: str
    """Short identifier, used in matches, stats keys and the ledger."""
    kind: str
    """``authoritative`` or ``advisory`` (see :data:`KINDS`)."""
    title: str = ""
    """Human-readable name (defaults to :attr:`name`)."""
    issuer: str = ""
    source: str = ""
    edition: str = ""
    licence: str = ""
    path: Path | None = None
    entries: set[str] = field(default_factory=set, repr=False)
    warnings: list[str] = field(default_factory=list, repr=False)
    meta: dict[str, str] = field(default_factory=dict, repr=False)
    """Header keys other than the standard ones (e.g. ``compiled``)."""
    sha256: str = ""
    """SHA-256 of the file's bytes, to record exactly which list was in force."""
    _dots: tuple[int, frozenset[int]] = field(
        default=(0, frozenset()), init=False, repr=False
    )

    def __len__(self) -> int:
        return len(self.entries)

    def dot_counts(self) -> frozenset[int]:
        """Return the numbers of dots in the entries (``a.co.uk`` has 2).

        Known from parsing; recomputed if :attr:`entries` changed size since.
        """
        size, dots = self._dots
        if size != len(self.entries):
            dots = frozenset(map(str.count, self.entries, repeat(".")))
            self._dots = (len(self.entries), dots)
        return dots

    @property
    def authoritative(self) -> bool:
        return self.kind == "authoritative"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Blocklist:
        """Read a list file; raise :class:`BlocklistError` if it is unusable."""
        path = Path(path)
        if not path.is_file():
            raise BlocklistError(
                f"blocklist file not found: {path} (give the path of an existing "
                "list file; the format is described in blocklists/data/README.md)"
            )
        try:
            digest = hashlib.sha256()
            with path.open("rb") as binary:
                for chunk in iter(lambda: binary.read(1 << 20), b""):
                    digest.update(chunk)
            with path.open(encoding="utf-8-sig", errors="replace") as text:
                blocklist = cls.parse(text, path=path)
        except OSError as exc:
            raise BlocklistError(f"cannot read blocklist file {path}: {exc}") from exc
        blocklist.sha256 = digest.hexdigest()
        logger.debug(
            "Loaded blocklist %(name)r (%(kind)s, edition %(edition)s): "
            "%(entries)d entries from %(path)s",
            {
                "name": blocklist.name,
                "kind": blocklist.kind,
                "edition": blocklist.edition,
                "entries": len(blocklist),
                "path": path,
            },
        )
        return blocklist

    @classmethod
    def parse(
        cls, lines: Iterable[str] | str, path: str | os.PathLike[str] = "<string>"
    ) -> Blocklist:
        """Parse list text (a string or an iterable of lines, e.g. an open file)."""
        if isinstance(lines, str):
            lines = lines.splitlines()
        parsed = parse_lines(lines, Path(path))
        blocklist = cls(
            **parsed.fields,
            path=Path(path),
            entries=parsed.entries,
            warnings=parsed.warnings,
            meta=parsed.meta,
        )
        blocklist._dots = (len(parsed.entries), frozenset(parsed.dots))
        return blocklist


class BlocklistSet:
    """Several lists consulted as one.

    Authoritative lists are consulted before advisory ones, each group in
    the order given, so a host on both kinds reports the authoritative list.
    A host (or URL) matches the first list holding the host or one of its
    parent domains; the most specific entry of that list is reported.

    Build it after loading: later changes to a list's entries are not seen.
    """

    def __init__(self, lists: Iterable[Blocklist] = ()) -> None:
        ordered = sorted(lists, key=lambda blocklist: blocklist.kind != KINDS[0])
        names: set[str] = set()
        for blocklist in ordered:
            if blocklist.name in names:
                raise BlocklistError(
                    f"two blocklists are named {blocklist.name!r} ({blocklist.path}); "
                    "give each list file its own '# name:' header"
                )
            names.add(blocklist.name)
        self.lists: tuple[Blocklist, ...] = tuple(ordered)
        # The largest list is probed as it is (copying millions of entries
        # would cost seconds and hundreds of MB); the others are merged into
        # one dict, entry -> position of the first list holding it.
        self._big: set[str] | frozenset[str] = frozenset()
        self._big_position = len(self.lists)
        if self.lists:
            biggest = max(range(len(self.lists)), key=lambda i: len(self.lists[i]))
            self._big = self.lists[biggest].entries
            self._big_position = biggest
        index: dict[str, int] = {}
        for position in reversed(range(len(self.lists))):
            if position != self._big_position:
                index.update(zip(self.lists[position].entries, repeat(position)))
        self._index = index
        # Only parents with as many dots as some entry can be entries.
        dots = set().union(*(blocklist.dot_counts() for blocklist in self.lists))
        self._min_dots, self._max_dots = min(dots, default=0), max(dots, default=0)

    def __repr__(self) -> str:
        entries = sum(map(len, self.lists))
        return f"<BlocklistSet: {len(self.lists)} lists, {entries} entries>"

    def match(self, host_or_url: str) -> Match | None:
        """Return why *host_or_url* is blocked, or ``None`` if no list names it."""
        # Inlined fast path of canonical_host(): a plain ASCII host, or a URL
        # with one; IP addresses, trailing dots, IDNs and oddities go the
        # long way.
        host = host_or_url.lower() if host_or_url.isascii() else ""
        if not _plain_host(host):
            url = _plain_url(host)
            host = url[1] if url else ""
        get, big, big_position = self._index.get, self._big, self._big_position
        if not host or host[-1] in _NOT_PLAIN_END:
            result = canonical_host(host_or_url)
            if result is None:
                return None
            host, ip = result
            if ip:  # addresses match exactly
                best = get(host)
                if host in big and (best is None or big_position < best):
                    best = big_position
                return None if best is None else self._match(best, host, host)
        # Walk up the labels, from the longest suffix that can be an entry to
        # the shortest, keeping the first list (lowest position) that matches.
        best = None
        entry = name = host
        dots = host.count(".")
        if dots > self._max_dots:
            cut = -1
            for _ in range(dots - self._max_dots):
                cut = host.find(".", cut + 1)
            name = host[cut + 1 :]
            dots = self._max_dots
        min_dots = self._min_dots
        while True:
            position = get(name)
            if name in big and (position is None or big_position < position):
                position = big_position
            if position is not None and (best is None or position < best):
                best, entry = position, name
                if not position:
                    break
            if dots <= min_dots:
                break
            dots -= 1
            name = name[name.find(".") + 1 :]
        if best is None:
            return None
        blocklist = self.lists[best]
        return Match(blocklist.name, blocklist.kind, blocklist.edition, entry, host)

    def match_all(self, host_or_url: str) -> list[Match]:
        """Return one :class:`Match` per list naming the host (slower; for evidence)."""
        result = canonical_host(host_or_url)
        if result is None:
            return []
        host, ip = result
        names = [host] if ip else _parents(host)
        matches = []
        for position, blocklist in enumerate(self.lists):
            for name in names:
                if name in blocklist.entries:
                    matches.append(self._match(position, name, host))
                    break
        return matches

    def _match(self, position: int, entry: str, host: str) -> Match:
        blocklist = self.lists[position]
        return Match(blocklist.name, blocklist.kind, blocklist.edition, entry, host)

    def describe(self) -> list[dict[str, Any]]:
        """One row per list, in look-up order, for the CLI and the ledger."""
        return [
            {
                "name": blocklist.name,
                "title": blocklist.title or blocklist.name,
                "kind": blocklist.kind,
                "issuer": blocklist.issuer,
                "edition": blocklist.edition,
                "source": blocklist.source,
                "licence": blocklist.licence,
                "entries": len(blocklist),
                "path": str(blocklist.path) if blocklist.path else "",
                "sha256": blocklist.sha256,
                "warnings": len(blocklist.warnings),
            }
            for blocklist in self.lists
        ]


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def shipped_blocklist_paths() -> list[Path]:
    """Return the list files bundled in ``blocklists/data``, sorted by name."""
    return sorted(DATA_DIR.glob("*.txt"))


def load_blocklists(
    paths: Iterable[str | os.PathLike[str]] = (), include_shipped: bool = True
) -> BlocklistSet:
    """Load the shipped lists (unless told not to) and then the files in *paths*."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    candidates = [*shipped_blocklist_paths()] if include_shipped else []
    candidates.extend(Path(path) for path in paths)
    seen: set[Path] = set()
    lists = []
    for path in candidates:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            lists.append(Blocklist.load(path))
    return BlocklistSet(lists)
