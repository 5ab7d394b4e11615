"""robots.txt as it stood at collection time, from archived WARC captures.

``tdmguard audit --history FILE.warc.gz`` reads WARC ``response`` records
whose ``WARC-Target-URI`` is an origin's ``/robots.txt`` (the form Common
Crawl's ``subset=robotstxt`` publishes, and ``tdmguard crawl --warc``
writes): ``WARC-Date`` is the capture time, the record block the full HTTP
response. Each row with a collection time is decided, as well, under the
capture in force then: the latest capture of its origin at or before that
time. The capture is read by the same :class:`RobotsPolicy` as a live
robots.txt (RFC 9309 status handling: 2xx parsed, 4xx but 429 "unavailable",
429/5xx "unreachable"; a 3xx capture cannot be followed inside the archive
and counts as unavailable), and the protocols that live inside robots.txt
(Content-Usage, Content-Signal, DisallowAITraining) are read from it through
the registry.

Flags (:func:`flag`): ``reserved at collection`` (the capture refused the
row), ``reserved since collection`` (the capture allowed it, today it is
refused), ``not reserved`` (allowed then and now), ``no capture`` (no time,
or no capture of the origin at or before it).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tdmguard.crawler.audit_inputs import iso_time
from tdmguard.crawler.clitools import fail
from tdmguard.middlewares.registry import RobotsInput
from tdmguard.middlewares.robotspolicy import RobotsPolicy
from tdmguard.middlewares.snapshots import Snapshot, origin_of
from tdmguard.middlewares.vocab import UNAVAILABLE, Reason, is_allowed

#: The ledger's snapshot kind for an archived capture (not a fetch of ours).
ARCHIVED_KIND = "archived-robots.txt"

RESERVED_AT = "reserved at collection"
RESERVED_SINCE = "reserved since collection"
NOT_RESERVED = "not reserved"
NO_CAPTURE = "no capture"
FLAGS = (RESERVED_AT, RESERVED_SINCE, NOT_RESERVED, NO_CAPTURE)


@dataclass(slots=True)
class Capture:
    at: str  # YYYY-MM-DDTHH:MM:SSZ
    snapshot: Snapshot
    source: str  # "<warc file>#<record id>"
    policy: RobotsPolicy | None = None
    in_robots: dict[str, Any] | None = None


def _access(status: int | None) -> tuple[str, str]:
    if status is None:
        return "unreachable", "no HTTP response in the capture"
    if 200 <= status < 300:
        return "success", ""
    if 300 <= status < 400:
        return "unavailable", f"archived capture is an HTTP {status} redirect (not followed)"
    if 400 <= status < 500 and status != 429:
        return "unavailable", ""
    return "unreachable", f"HTTP {status}"


@dataclass
class History:
    """Archived robots.txt captures, per origin, in time order."""

    by_origin: dict[str, list[Capture]] = field(default_factory=dict)
    files: list[dict[str, str]] = field(default_factory=list)
    #: Per origin, the capture times in order (for bisect).
    times: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: Iterable[str], origins: set[str] | None = None) -> History:
        """Read every robots.txt capture in the WARC files at *paths* (only
        those of *origins*, when given). An unreadable file: one-line error."""
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed

        history = cls()
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256")
                with open(path, "rb") as fh:
                    for record in ArchiveIterator(fh):
                        history._record(record, path, origins)
            except OSError as exc:
                raise fail(f"cannot read the WARC file {path}: {exc.strerror or exc}") \
                    from None
            except ArchiveLoadFailed as exc:
                raise fail(f"{path} is not a readable WARC file: "
                           f"{str(exc).splitlines()[0][:200]}") from None
            history.files.append({"path": path, "sha256": digest.hexdigest()})
        for origin, captures in history.by_origin.items():
            captures.sort(key=lambda c: c.at)
            history.times[origin] = [c.at for c in captures]
        return history

    def _record(self, record: Any, path: str, origins: set[str] | None) -> None:
        if record.rec_type != "response":
            return
        uri = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<> ")
        try:
            parts = urlsplit(uri)
        except ValueError:
            return
        if parts.path != "/robots.txt" or parts.scheme not in ("http", "https"):
            return
        origin = origin_of(uri)
        if origins is not None and origin not in origins:
            return
        at = iso_time(record.rec_headers.get_header("WARC-Date") or "")
        if at is None:
            return
        status: int | None = None
        headers: dict[str, list[str]] = {}
        if record.http_headers is not None:
            try:
                status = int(record.http_headers.get_statuscode())
            except (TypeError, ValueError):
                status = None
            for name, value in record.http_headers.headers:
                headers.setdefault(name.lower(), []).append(value)
        body = record.content_stream().read()
        access, _ = _access(status)
        snapshot = Snapshot(ARCHIVED_KIND, uri, origin, at, status, headers,
                            body if access == "success" else b"")
        rid = record.rec_headers.get_header("WARC-Record-ID") or ""
        self.by_origin.setdefault(origin, []).append(Capture(at, snapshot, f"{path}#{rid}"))

    def captures(self) -> Iterable[Capture]:
        for captures in self.by_origin.values():
            yield from captures

    def in_force(self, origin: str, when: str | None) -> Capture | None:
        """The latest capture of *origin* at or before *when*."""
        if when is None:
            return None
        captures = self.by_origin.get(origin)
        if not captures:
            return None
        i = bisect.bisect_right(self.times.get(origin) or [c.at for c in captures], when)
        return captures[i - 1] if i else None


class HistoryJudge:
    """Decides rows under archived captures, with the crawl's own readers."""

    def __init__(self, history: History, config: Any, ai_names: frozenset[str],
                 in_robots_protocols: list[Any], location_protocols: list[Any],
                 matching: str = "first") -> None:
        self.history = history
        self.config = config
        self.ai_names = ai_names
        self._in_robots = in_robots_protocols
        self._evaluators = location_protocols
        self.matching = matching

    def _prepare(self, capture: Capture) -> tuple[RobotsPolicy, dict[str, Any]]:
        if capture.policy is None:
            access, detail = _access(capture.snapshot.status)
            capture.policy = RobotsPolicy(capture.snapshot, access, self.config, self.ai_names,
                                          float("inf"), detail=detail)
            found: dict[str, Any] = {}
            parsed = capture.policy.parsed
            if parsed is not None:
                robots = RobotsInput(capture.snapshot.body, parsed, self.config.tokens,
                                     capture.snapshot.url)
                for p in self._in_robots:
                    value = p.from_robots(robots)
                    if value is not None:
                        found[p.name] = value
            capture.in_robots = found
        assert capture.in_robots is not None
        return capture.policy, capture.in_robots

    def decide(self, url: str, origin: str, when: str | None,
               context: Callable[[str, dict[str, Any]], Any]) -> tuple[
                   Capture | None, bool | None, list[Reason]]:
        """(capture, allowed at collection, reasons); (None, None, []) without one.
        *context(url, in_robots)* builds the registry's LocationContext."""
        capture = self.history.in_force(origin, when)
        if capture is None:
            return None, None, []
        policy, in_robots = self._prepare(capture)
        reasons = policy.evaluate(url)
        if is_allowed(reasons) and in_robots:
            ctx = context(url, in_robots)
            for _p, evaluate in self._evaluators:
                reasons += [r for r in evaluate(ctx) if r.verdict != UNAVAILABLE]
        return capture, is_allowed(reasons), reasons


def flag(allowed_then: bool | None, allowed_now: bool) -> str:
    if allowed_then is None:
        return NO_CAPTURE
    if not allowed_then:
        return RESERVED_AT
    return NOT_RESERVED if allowed_now else RESERVED_SINCE
