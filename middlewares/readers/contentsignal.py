"""Content-Signal reader: Cloudflare's Content Signals Policy.

Spec: Content Signals Policy, https://contentsignals.org (CC0, announced
2025-09-24; ``use=`` added 2026) and draft-romm-aipref-contentsignals-00.
A ``Content-Signal: search=yes, ai-train=no, ai-input=no`` line inside a
robots.txt group (it must not close the group, RFC 9309 §2.2.4), or the same
value in a ``Content-Signal`` response header. ``yes`` grants, ``no``
restricts, a missing signal "neither grants nor restricts" (unavailable).
``use=immediate|reference|full`` is recorded in the reason, not enforced.
Several lines in one group combine most-restrictively.

Modes:

- ``rfc``: keys and values exactly as published (lower-case ``yes``/``no``);
  only our own group is read (RFC 9309 group selection, vector C5).
- ``strict`` (default): keys and values are case-insensitive and ``y``/``n``
  count (vector C6: the policy is silent, and reading ``ai-train=NO`` as
  anything but a reservation would ignore a plain statement); when our own
  group states nothing for the purpose, the ``*`` group's signals apply.

Signal-to-purpose mapping: ``content-signal`` in
``middlewares/data/purposes.json``.

Middleware use::

    signals = ContentSignals.from_robots(robots, tokens, robots_url)  # per origin
    signals.evaluate(purpose, mode)          # per request (group-scoped, no paths)
    header_reasons(response.headers, purpose, mode)                   # per response
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tdmguard.middlewares.readers.robots import RobotsTxt
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    Reason,
)

from ._common import HeadersLike, clip, covers, header_values, never_raises, norm_mode

PROTOCOL = "content-signal"
SPEC = "Content Signals Policy (contentsignals.org, 2025-09-24; use= 2026)"
FIELD = "content-signal"
_YES = {"yes", "y"}
_NO = {"no", "n"}


@dataclass(frozen=True, slots=True)
class SignalLine:
    """One Content-Signal line or header value, parsed for one mode."""

    signals: dict[str, str]  # key -> "yes" | "no" | other (as read)
    use: str
    rule: str
    source: str

    def verdict(self, purpose: str, mode: str) -> tuple[str | None, list[str]]:
        no, yes = [], []
        for key, value in self.signals.items():
            if covers(PROTOCOL, key, purpose, mode):
                if value == "no":
                    no.append(f"{key}={value}")
                elif value == "yes":
                    yes.append(f"{key}={value}")
        if no:
            return "no", no
        if yes:
            return "yes", yes
        return None, []


def parse_signals(value: str, mode: str = STRICT) -> tuple[dict[str, str], str]:
    """``key=value`` pairs of one line, and its ``use`` value ("" if none)."""
    strict = norm_mode(mode) == STRICT
    signals: dict[str, str] = {}
    use = ""
    for item in value.split(","):
        if "=" not in item:
            continue
        key, val = (part.strip() for part in item.split("=", 1))
        if strict:
            key = key.lower()
            val = val.strip("\"'").strip().lower()
            val = "yes" if val in _YES else "no" if val in _NO else val
        if key == "use":
            use = val
        elif key:
            signals[key] = val
    return signals, use


def _line(value: str, mode: str, rule: str, source: str) -> SignalLine:
    signals, use = parse_signals(value, mode)
    return SignalLine(signals, use, rule, source)


def _decide(
    lines: list[SignalLine], purpose: str, mode: str, where: str
) -> Reason | None:
    """Combined verdict of *lines*; None when they are silent on *purpose*."""
    no, yes = [], []
    for line in lines:
        verdict, keys = line.verdict(purpose, mode)
        if verdict == "no":
            no.append((line, keys))
        elif verdict == "yes":
            yes.append((line, keys))
    chosen = no or yes
    if not chosen:
        return None
    uses = sorted({line.use for line in lines if line.use})
    use = f" Recorded use={', '.join(uses)}." if uses else ""
    rule = "; ".join(line.rule for line, _ in chosen)
    said = ", ".join(k for _, ks in chosen for k in ks)
    if no:
        detail = f"{where} restricts '{purpose}' ({said}): an Art. 4 reservation.{use}"
        return Reason(PROTOCOL, RESERVED, rule, chosen[0][0].source, detail)
    detail = f"{where} grants '{purpose}' ({said}).{use}"
    return Reason(PROTOCOL, PERMITTED, rule, chosen[0][0].source, detail)


def _silent(lines: list[SignalLine], source: str, purpose: str) -> Reason:
    if not lines:
        return Reason(PROTOCOL, UNAVAILABLE, "", source, "No Content-Signal applies.")
    uses = sorted({line.use for line in lines if line.use})
    use = f" Recorded use={', '.join(uses)}." if uses else ""
    return Reason(
        PROTOCOL,
        UNAVAILABLE,
        "; ".join(line.rule for line in lines),
        lines[0].source,
        f"Content-Signal neither grants nor restricts '{purpose}'.{use}",
    )


@dataclass(slots=True)
class ContentSignals:
    """The Content-Signal lines of one robots.txt for our tokens: parse once.

    Lines are kept raw and parsed per mode at evaluation (they are few).
    """

    url: str = ""
    ours: list[tuple[str, str]] = field(default_factory=list)  # (value, rule)
    star: list[tuple[str, str]] = field(default_factory=list)

    @property
    def has_statements(self) -> bool:
        """False when :meth:`evaluate` could only say "absent" (cheap)."""
        return bool(self.ours or self.star)

    @classmethod
    def from_robots(
        cls, robots: RobotsTxt | None, tokens: Sequence[str] = (), url: str = ""
    ) -> ContentSignals:
        result = cls(url=str(url or ""))
        if robots is None:
            return result
        try:
            ours = robots.groups_for(tuple(tokens))
            star = robots.groups_for(())
            own = bool(ours) and {id(g) for g in ours} != {id(g) for g in star}
            result.ours = _lines_of(ours)
            if own:
                result.star = _lines_of(star)
        except Exception:
            result.ours, result.star = [], []
        return result

    @never_raises(PROTOCOL)
    def evaluate(
        self, purpose: str = TRAIN_AI, mode: str = STRICT, url: str = ""
    ) -> list[Reason]:
        """The robots.txt Content-Signal verdict (the same for every URL)."""
        mode = norm_mode(mode)
        source = self.url or "robots.txt"
        ours = [_line(v, mode, r, source) for v, r in self.ours]
        found = _decide(ours, purpose, mode, "robots.txt Content-Signal")
        if found is None and mode == STRICT and self.star:
            star = [_line(v, mode, r, source) for v, r in self.star]
            found = _decide(
                star,
                purpose,
                mode,
                "robots.txt's * group Content-Signal (read in strict mode: our "
                "group is silent)",
            )
        return [found or _silent(ours, source, purpose)]


def _lines_of(groups: Sequence[object]) -> list[tuple[str, str]]:
    out = []
    for group in groups:
        for record in group.records:  # type: ignore[attr-defined]
            if record.field == FIELD:
                out.append(
                    (
                        record.value,
                        f"line {record.line}: Content-Signal: "
                        f"{clip(record.value, 200)}",
                    )
                )
    return out


@never_raises(PROTOCOL)
def header_reasons(
    headers: HeadersLike, purpose: str = TRAIN_AI, mode: str = STRICT
) -> list[Reason]:
    """The ``Content-Signal`` response header (every field line)."""
    mode = norm_mode(mode)
    source = "Content-Signal header"
    lines = [
        _line(value, mode, f"Content-Signal: {clip(value, 200)}", source)
        for _, value in header_values(headers, FIELD)
        if value
    ]
    found = _decide(lines, purpose, mode, "The Content-Signal header")
    return [found or _silent(lines, source, purpose)]


__all__ = [
    "FIELD",
    "PROTOCOL",
    "SPEC",
    "ContentSignals",
    "SignalLine",
    "header_reasons",
    "parse_signals",
]
