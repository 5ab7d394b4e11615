"""One origin's robots.txt, as fetched, turned into reasons per URL.

Pure (no Scrapy or Twisted import): shared by the middleware and ``tdmguard
check``. Access results follow RFC 9309 §2.3.1; ``strict`` mode adds the
AI-crawler reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tdmguard.middlewares.readers import robots
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import (
    AI_INPUT,
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

if TYPE_CHECKING:
    # Only the type: settings.py imports Scrapy, this module must not. Any
    # object with ``tokens``, ``mode`` and ``purpose`` will do.
    from tdmguard.middlewares.settings import Config

PROTOCOL = "robots.txt"


def looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or (
        head.startswith(b"<") and b"<html" in head
    )


@dataclass(slots=True)
class RobotsPolicy:
    snapshot: Snapshot
    #: "success", "unavailable" or "unreachable" (RFC 9309 §2.3.1).
    access: str
    config: Config
    ai_names: frozenset[str]
    expires_at: float
    detail: str = ""
    limit: int = 512000
    parsed: robots.RobotsTxt | None = None
    crawl_delay: float | None = None
    _own: list[robots.Group] = field(default_factory=list)
    _ai_groups: list[tuple[str, robots.Group]] = field(default_factory=list)
    _html: bool = False

    def __post_init__(self) -> None:
        if self.access != "success":
            return
        body = self.snapshot.body
        if looks_like_html(body):
            self._html = True
            self.parsed = robots.RobotsTxt()
            return
        self.parsed = robots.parse(body, self.limit)
        self._own = self.parsed.groups_for(self.config.tokens)
        self.crawl_delay = self.parsed.crawl_delay(self.config.tokens)
        mine = {t.lower() for t in self.config.tokens}
        own_named = any(robots.agent_key(a) in mine for g in self._own for a in g.agents)
        if (
            self.config.mode == STRICT
            and self.config.purpose in (TRAIN_AI, AI_INPUT)
            and not own_named
        ):
            self._ai_groups = self.parsed.named_groups(set(self.ai_names))

    @property
    def source(self) -> str:
        return self.snapshot.url

    def evaluate(self, url: str) -> list[Reason]:
        """The robots.txt reasons for fetching *url* (hot path: no parsing)."""
        if self.access == "unreachable":
            return [
                Reason(
                    PROTOCOL,
                    UNREADABLE,
                    rule=self._status_rule(),
                    source=self.source,
                    detail=f"robots.txt unreachable ({self.detail}): complete disallow "
                    "(RFC 9309 §2.3.1.4)",
                )
            ]
        if self.access == "unavailable":
            detail = self.detail or "robots.txt unavailable"
            return [
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    rule=self._status_rule(),
                    source=self.source,
                    detail=f"{detail}: no restrictions, body not parsed (RFC 9309 §2.3.1.3)",
                )
            ]
        if self._html:
            return [
                Reason(PROTOCOL, UNAVAILABLE, rule=self._status_rule(), source=self.source,
                       detail="an HTML page was served as robots.txt: no rules")
            ]
        match = robots.match_groups(self._own, url)
        reasons = []
        if not match.allowed:
            reasons.append(
                Reason(PROTOCOL, RESERVED, rule=match.describe(), source=self.source,
                       detail="disallowed for our product token(s) "
                       f"{', '.join(self.config.tokens)}")
            )
        for name, group in self._ai_groups:
            ai_match = robots.match_groups([group], url)
            if not ai_match.allowed:
                reasons.append(
                    Reason(PROTOCOL, RESERVED, rule=ai_match.describe(), source=self.source,
                           detail=f"disallowed for AI-training crawler {name}; strict mode "
                           "reads this as a reservation against AI training")
                )
        if reasons:
            return reasons
        if not self._own:
            detail = "no group for our token(s) and no * group: no rules apply"
        elif match.rule is None:
            detail = "no rule in the applicable group matches"
        else:
            detail = "allowed by the longest matching rule"
        return [Reason(PROTOCOL, PERMITTED, rule=match.describe(), source=self.source,
                       detail=detail)]

    def refuses_every_url(self) -> bool:
        """Whether :meth:`evaluate` refuses every URL of the origin (but
        ``/robots.txt`` itself, when robots.txt was read): unreachable, or a
        group that applies disallows every path with no ``Allow`` (ours, or in
        strict mode an AI-training crawler's). Lets ``tdmguard audit`` defer
        the origin's other documents, as a crawl asks for them only for a
        request robots.txt allows."""
        if self.access == "unreachable":
            return True
        if self.access != "success" or self._html:
            return False
        return robots.refuses_every_path(self._own) or any(
            robots.refuses_every_path([group]) for _name, group in self._ai_groups)

    def _status_rule(self) -> str:
        status = self.snapshot.status
        rule = f"HTTP {status}" if status is not None else (self.snapshot.error or "no response")
        if status is not None and 200 <= status < 300 and self.snapshot.error:
            rule += f", {self.snapshot.error}"  # a 2xx whose body was cut off
        if self.snapshot.redirects:
            rule += f" after {len(self.snapshot.redirects)} redirect(s)"
        return rule
