"""ai.txt reader: Spawning's ``/ai.txt`` media-type opt-outs.

Spec: none normative. The format is what Spawning's generator
(site.spawning.ai, May 2023) and WordPress plugin write: robots.txt syntax,
``User-agent: *``, ``Allow:``/``Disallow:`` lines with extension globs
without a leading slash (``Disallow: *.jpg``), plus ``Allow: /`` or
``Disallow: /``. Evaluated with RFC 9309 matching (longest match, allow wins
a tie; ``*.jpg`` without ``$`` also matches ``/x.jpg.html``): a disallowed
URL is reserved for AI training, an allowed one permitted.

Groups: ours (by product token) else ``*``, as RFC 9309; in ``strict`` mode
the ``*`` group also applies where our own group has no matching rule.

Fetch results: 2xx parsed; other 3xx/4xx = no ai.txt (unavailable, vector
S5); 5xx, 429 or no response: ``strict`` unreadable (fail closed, retried
when the cache expires), ``rfc`` unavailable (nothing says otherwise).

Not implemented: Spawning's "Do Not Train" API (vectors S6-S7), a network
service with a paid key; it belongs in a middleware, not a pure reader.

Middleware use::

    ai_txt = AiTxt.parse(body, status, url)      # once per origin
    ai_txt.evaluate(request.url, tokens, purpose, mode)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tdmguard.middlewares.readers.robots import RobotsTxt, longest_match, normalise_path, parse
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

from ._common import covers, never_raises, norm_mode

PROTOCOL = "ai.txt"
SPEC = "Spawning ai.txt (generator and WordPress plugin, 2023)"
PATH = "/ai.txt"
#: Same floor as RFC 9309 §2.5 for robots.txt.
LIMIT = 500 * 1024


@dataclass(slots=True)
class AiTxt:
    """A fetched ``/ai.txt``: parse once per origin."""

    url: str = ""
    status: int | None = None
    state: str = "absent"  # ok | absent | error
    error: str = ""
    robots: RobotsTxt | None = None

    @classmethod
    def parse(
        cls, body: bytes | str | None, status: int | None = 200, url: str = ""
    ) -> AiTxt:
        result = cls(url=str(url or ""), status=status)
        try:
            if status is None or status == 429 or int(status) >= 500:
                result.state = "error"
                result.error = "no response" if status is None else f"HTTP {status}"
            elif not 200 <= int(status) < 300:
                result.error = f"HTTP {status}: no ai.txt"
            else:
                result.robots = parse(body or b"", limit=LIMIT)
                result.state = "ok"
        except Exception as exc:
            result.state, result.error = "error", f"unreadable ({type(exc).__name__})"
        return result

    @never_raises(PROTOCOL)
    def evaluate(
        self,
        url: str,
        tokens: Sequence[str] = (),
        purpose: str = TRAIN_AI,
        mode: str = STRICT,
    ) -> list[Reason]:
        """The ai.txt verdict for *url*."""
        mode = norm_mode(mode)
        source = self.url or PATH
        if not covers(PROTOCOL, PROTOCOL, purpose, mode):
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    f"ai.txt speaks about AI training, not '{purpose}'.",
                )
            ]
        if self.state == "error":
            verdict = UNREADABLE if mode == STRICT else UNAVAILABLE
            return [
                Reason(
                    PROTOCOL,
                    verdict,
                    f"ai.txt: {self.error}",
                    source,
                    f"ai.txt could not be read ({self.error}).",
                )
            ]
        if self.robots is None:
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    f"ai.txt: {self.error}" if self.error else "",
                    source,
                    "The site has no ai.txt.",
                )
            ]
        path = normalise_path(url)
        groups = self.robots.groups_for(tuple(tokens))
        rule = longest_match([r for g in groups for r in g.rules], path)
        if rule is None and mode == STRICT:  # our group is silent: read "*"
            star = self.robots.groups_for(())
            rule = longest_match([r for g in star for r in g.rules], path)
        if rule is None:
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    "",
                    source,
                    "No ai.txt rule matches this URL.",
                )
            ]
        if rule.allow:
            return [
                Reason(
                    PROTOCOL,
                    PERMITTED,
                    str(rule),
                    source,
                    "ai.txt allows AI training on this URL.",
                )
            ]
        return [
            Reason(
                PROTOCOL,
                RESERVED,
                str(rule),
                source,
                "ai.txt disallows AI training on this URL.",
            )
        ]


__all__ = ["LIMIT", "PATH", "PROTOCOL", "SPEC", "AiTxt"]
