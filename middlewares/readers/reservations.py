"""Rightsholder reservations: URLs and domains an upheld complaint reserved.

Pure (no Scrapy or Twisted import). The complaints register
(``tdmguard complaints uphold``) appends to a UTF-8 JSON Lines file, one
object a line::

    {"pattern": "https://example.com/gallery/", "kind": "url-prefix",
     "complaint": "TDMC-2026-000123", "added": "2026-12-06T09:00:00Z",
     "withdrawn": null}

- ``kind`` ``domain``: the domain and every subdomain of it (``example.com``
  covers ``www.example.com``; IP addresses match exactly);
- ``kind`` ``url-prefix``: every URL whose path (and query, when the pattern
  has one) starts with the pattern's, on the pattern's host; ``http`` and
  ``https`` are the same site, and a pattern without a port covers every port.
  Paths are compared percent-decoded, hosts as the blocklists compare them
  (case, trailing dot, IDNA);
- the latest line for one ``(kind, pattern, complaint)`` wins: a line with
  ``withdrawn`` set lifts that complaint's entry. Another complaint's entry for
  the same pattern stays (a withdrawal never lifts more than it names).

Fails closed: a file that cannot be read, is not UTF-8, or has any line that
is not such an object makes :meth:`Reservations.evaluate` answer
``unreadable`` for every URL, naming the file and the first bad line. Skipping
a bad line could drop a reservation, so nothing is skipped. A reservation
holds whatever the crawl's purpose (the complaint named the URL, not a use).

>>> f = ReservationFile.parse(b'{"pattern": "example.com", "kind": "domain", '
...     b'"complaint": "TDMC-2026-000001", "added": "2026-12-01T00:00:00Z", '
...     b'"withdrawn": null}\\n', "reservations.jsonl")
>>> [r.rule for r in Reservations([f]).evaluate("https://www.example.com/a")]
['domain example.com']
>>> Reservations([f]).evaluate("https://example.org/")
[]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from tdmguard.blocklists.hosts import HOSTNAME_RE, canonical_host, idna_variants
from tdmguard.middlewares.vocab import RESERVED, UNREADABLE, Reason

__all__ = ["DOMAIN", "KINDS", "PROTOCOL", "URL_PREFIX", "Entry", "ReservationFile",
           "Reservations"]

PROTOCOL = "rightsholder-reservation"
URL_PREFIX = "url-prefix"
DOMAIN = "domain"
KINDS = (URL_PREFIX, DOMAIN)
_WEB = ("http", "https")
_DEFAULT_PORT = {"http": 80, "https": 443}


class _Bad(ValueError):
    """One line of a reservations file is unusable (the message says why)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One reservation in force."""

    pattern: str
    kind: str
    complaint: str
    added: str
    #: The file and line that put it in force.
    source: str
    line: int

    def reason(self) -> Reason:
        what = (f"domain {self.pattern} and its subdomains" if self.kind == DOMAIN
                else f"URLs starting with {self.pattern}")
        return Reason(PROTOCOL, RESERVED, rule=f"{self.kind} {self.pattern}",
                      source=self.source,
                      detail=f"reserved by a rightsholder (complaint {self.complaint}, "
                             f"entry added {self.added}): {what}")


@dataclass(frozen=True, slots=True)
class _Prefix:
    port: int | None  # None: any port
    path: str  # percent-decoded path, then "?" and the query when the pattern has one
    entry: Entry


def _timestamp(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f'"{name}" must be an ISO 8601 time')
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f'"{name}" {value[:40]!r} is not an ISO 8601 time') from None
    return value


def _host(value: str) -> str | None:
    found = canonical_host(value)
    if found is None:
        return None
    host, ip = found
    return host if ip or HOSTNAME_RE.fullmatch(host) else None


def _url_parts(url: str) -> tuple[str, int | None, str] | None:
    """``(host, explicit port or None, decoded path[?query])`` of a web URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB or not parts.netloc:
        return None
    host = _host(parts.netloc.rpartition("@")[2])
    if host is None:
        return None
    path = unquote(parts.path or "/")
    if parts.query or url.rstrip().endswith("?"):
        path += "?" + unquote(parts.query)
    if port == _DEFAULT_PORT[parts.scheme.lower()]:
        port = None
    return host, port, path


@dataclass(slots=True)
class ReservationFile:
    """One reservations file: its entries in force, or why it is unreadable."""

    source: str
    entries: list[Entry] = field(default_factory=list)
    #: Why the file is unusable ("" when it is usable).
    error: str = ""
    body: bytes = b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @classmethod
    def unreadable(cls, source: str, why: str, body: bytes = b"") -> ReservationFile:
        return cls(source, error=why, body=body)

    @classmethod
    def parse(cls, data: bytes, source: str) -> ReservationFile:
        """Read *data* (the file's bytes); never raises on content."""
        if not isinstance(data, bytes):
            raise TypeError("ReservationFile.parse takes the file's bytes")
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            return cls.unreadable(source, f"not UTF-8 (byte {exc.start})", data)
        latest: dict[tuple[str, str, str], Entry | None] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                key, entry = _parse_line(line, source, number)
            except _Bad as exc:
                return cls.unreadable(source, f"line {number}: {exc}", data)
            latest.pop(key, None)  # the latest line decides, in file order
            latest[key] = entry
        return cls(source, [e for e in latest.values() if e is not None], body=data)


def _parse_line(line: str, source: str, number: int
                ) -> tuple[tuple[str, str, str], Entry | None]:
    try:
        obj = json.loads(line)
    except ValueError:
        raise _Bad("not a JSON object") from None
    if not isinstance(obj, dict):
        raise _Bad("not a JSON object")
    kind, pattern, complaint = obj.get("kind"), obj.get("pattern"), obj.get("complaint")
    if kind not in KINDS:
        raise _Bad(f'"kind" must be {" or ".join(KINDS)}')
    if not isinstance(pattern, str) or not pattern.strip():
        raise _Bad('"pattern" must be a URL prefix or a domain')
    if not isinstance(complaint, str) or not complaint.strip():
        raise _Bad('"complaint" must name the complaint\'s reference')
    added = _timestamp(obj.get("added"), "added")
    withdrawn = obj.get("withdrawn")
    if withdrawn is not None:
        _timestamp(withdrawn, "withdrawn")
    pattern = pattern.strip()
    if kind == DOMAIN:
        if "/" in pattern.rstrip("/") or _host(pattern) is None:
            raise _Bad(f"domain {pattern[:80]!r} is not a host name")
        canonical = _host(pattern) or ""
    else:
        parts = _url_parts(pattern)
        if parts is None:
            raise _Bad(f"URL prefix {pattern[:80]!r} is not an http(s) URL with a host")
        canonical = repr(parts)
    key = (kind, canonical, complaint.strip())
    if withdrawn is not None:
        return key, None
    return key, Entry(pattern, kind, complaint.strip(), added, source, number)


class Reservations:
    """Every entry of one or more files, indexed by host; any unusable file
    makes every URL unreadable."""

    def __init__(self, files: Iterable[ReservationFile]) -> None:
        self.files = list(files)
        self.errors = [f for f in self.files if f.error]
        self._domains: dict[str, list[Entry]] = {}
        self._prefixes: dict[str, list[_Prefix]] = {}
        for f in self.files:
            for e in f.entries:
                if e.kind == DOMAIN:
                    host = _host(e.pattern) or ""
                    for h in (host, *idna_variants(host)):
                        self._domains.setdefault(h, []).append(e)
                else:
                    parts = _url_parts(e.pattern)
                    assert parts is not None  # checked by the parser
                    host, port, path = parts
                    for h in (host, *idna_variants(host)):
                        self._prefixes.setdefault(h, []).append(_Prefix(port, path, e))
        self._max_dots = max((h.count(".") for h in self._domains), default=-1)

    def __len__(self) -> int:
        return sum(len(f.entries) for f in self.files)

    def match(self, url: str) -> list[Entry]:
        """The entries in force that cover *url* (an http(s) URL)."""
        if not self._domains and not self._prefixes:
            return []
        found: list[Entry] = []
        result = canonical_host(url)
        if result is None:
            return found
        host, ip = result
        if self._domains:
            if ip:
                found += self._domains.get(host, [])
            else:
                labels = host.split(".")
                for i in range(max(0, len(labels) - 1 - self._max_dots), len(labels)):
                    found += self._domains.get(".".join(labels[i:]), [])
        prefixes = self._prefixes.get(host)
        if prefixes:
            parts = _url_parts(url)
            if parts is not None:
                _, port, path = parts
                scheme = url.split(":", 1)[0].lower()
                port = port if port is not None else _DEFAULT_PORT.get(scheme)
                for p in prefixes:
                    if (p.port is None or p.port == port) and path.startswith(p.path):
                        found.append(p.entry)
        return found

    def evaluate(self, url: str) -> list[Reason]:
        """``unreadable`` when a file is unusable, else one ``reserved`` reason
        per entry covering *url* (``[]``: none does)."""
        if self.errors:
            return [Reason(PROTOCOL, UNREADABLE, source=f.source,
                           detail=f"rightsholder reservations list {f.source} is unusable "
                                  f"({f.error}): every request is refused until it is "
                                  "fixed") for f in self.errors]
        return [e.reason() for e in self.match(url)]
