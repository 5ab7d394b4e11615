"""DisallowAITraining reader: Microsoft's robots.txt AI-training rules.

Spec: draft-canel-robots-ai-control-00 (October 2024, expired; -01 moved to
the aipref vocabulary, still deployed): ``DisallowAITraining: /path`` and
``AllowAITraining: /path`` rules in robots.txt groups, matched like
Allow/Disallow (RFC 9309 §2.2.2: longest match, the allow rule wins a tie,
``*`` and ``$``), and the value ``DisallowAITraining`` in ``<meta
name="robots">`` / ``X-Robots-Tag`` (parsed as in :mod:`._robotstag`).

Also here, because it is the same kind of statement: **policy-only tokens**
(``Google-Extended``, ``Applebot-Extended``, ``Webzio-Extended``; list in
``policy-tokens`` of ``middlewares/data/purposes.json``). They name no crawler;
a ``Disallow`` in their group says "no AI use by this vendor" (vector O3).

Modes:

- ``rfc``: only our own group's rules (RFC 9309 group selection); policy-only
  tokens are another vendor's business and ignored.
- ``strict`` (default): when our group has no AI-training rule matching the
  URL, the ``*`` group's rules apply; a policy-only token's group that
  disallows the URL is read as an AI-training reservation (logged).

Middleware use::

    rules = AiTrainingRules.from_robots(robots, tokens, robots_url)  # per origin
    rules.evaluate(url, purpose, mode)                               # per request
    directive_reasons(response.headers, head, tokens, purpose, mode) # per response
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tdmguard.middlewares.readers.robots import (
    Group,
    RobotsTxt,
    Rule,
    compile_pattern,
    longest_match,
    normalise_path,
)
from tdmguard.middlewares.vocab import PERMITTED, RESERVED, STRICT, TRAIN_AI, UNAVAILABLE, Reason

from ._common import HeadersLike, covers, labels, never_raises, norm_mode
from ._robotstag import directives
from .htmlhead import Head

PROTOCOL = "disallow-ai-training"
SPEC = "draft-canel-robots-ai-control-00 (2024-10)"
_LABEL = "disallowaitraining"
_FIELDS = {"disallowaitraining": False, "allowaitraining": True}


def _rules(groups: Sequence[Group]) -> list[Rule]:
    out = []
    for group in groups:
        for record in group.records:
            allow = _FIELDS.get(record.field)
            if allow is None or not record.value:
                continue
            pattern = compile_pattern(record.value)
            if pattern is not None:
                out.append(Rule(allow, record.value, record.line, pattern))
    return out


def _show(rule: Rule) -> str:
    name = "AllowAITraining" if rule.allow else "DisallowAITraining"
    return f"line {rule.line}: {name}: {rule.pattern}"


@dataclass(slots=True)
class AiTrainingRules:
    """The AI-training rules of one robots.txt for our tokens: parse once."""

    url: str = ""
    ours: list[Rule] = field(default_factory=list)
    star: list[Rule] = field(default_factory=list)
    #: (policy token, its group) for groups naming a policy-only token.
    policy: list[tuple[str, Group]] = field(default_factory=list)

    @property
    def has_statements(self) -> bool:
        """False when :meth:`evaluate` could only say "absent" (cheap)."""
        return bool(self.ours or self.star or self.policy)

    @classmethod
    def from_robots(
        cls, robots: RobotsTxt | None, tokens: Sequence[str] = (), url: str = ""
    ) -> AiTrainingRules:
        result = cls(url=str(url or ""))
        if robots is None:
            return result
        try:
            ours = robots.groups_for(tuple(tokens))
            star = robots.groups_for(())
            result.ours = _rules(ours)
            if bool(ours) and {id(g) for g in ours} != {id(g) for g in star}:
                result.star = _rules(star)
            mine = {t.lower() for t in tokens}
            names = set(labels("policy-tokens")) - mine
            result.policy = robots.named_groups(names)
        except Exception:
            result.ours, result.star, result.policy = [], [], []
        return result

    @never_raises(PROTOCOL)
    def evaluate(
        self, url: str, purpose: str = TRAIN_AI, mode: str = STRICT
    ) -> list[Reason]:
        """The robots.txt AI-training verdict for *url*."""
        mode = norm_mode(mode)
        source = self.url or "robots.txt"
        path = normalise_path(url)
        applies = covers(PROTOCOL, _LABEL, purpose, mode)
        rule = longest_match(self.ours, path)
        where = "robots.txt"
        if rule is None and mode == STRICT:
            rule = longest_match(self.star, path)
            where = "robots.txt's * group (read in strict mode: our group is silent)"
        reasons: list[Reason] = []
        if rule is None or not applies:
            reasons.append(
                Reason(
                    PROTOCOL,
                    UNAVAILABLE,
                    _show(rule) if rule else "",
                    source,
                    "No DisallowAITraining / AllowAITraining rule matches this URL."
                    if rule is None
                    else f"AI-training rules do not speak about '{purpose}'.",
                )
            )
        elif rule.allow:
            reasons.append(
                Reason(
                    PROTOCOL,
                    PERMITTED,
                    _show(rule),
                    source,
                    f"{where} allows AI training on this path.",
                )
            )
        else:
            reasons.append(
                Reason(
                    PROTOCOL,
                    RESERVED,
                    _show(rule),
                    source,
                    f"{where} disallows AI training on this path.",
                )
            )
        if mode == STRICT and self.policy and path != "/robots.txt":
            reasons += self._policy_tokens(path, purpose, mode, source)
        return reasons

    def _policy_tokens(
        self, path: str, purpose: str, mode: str, source: str
    ) -> list[Reason]:
        out = []
        for agent, group in self.policy:
            token = agent.strip().split("/")[0].lower()
            if not covers("policy-tokens", token, purpose, mode):
                continue
            rule = longest_match(group.rules, path)
            if rule is None or rule.allow:
                continue
            out.append(
                Reason(
                    PROTOCOL,
                    RESERVED,
                    f"{group.label()} (line {group.line}); {rule}",
                    source,
                    f"The policy-only token {agent} is disallowed here: read as a "
                    f"reservation of '{purpose}' in strict mode (no crawler uses it).",
                )
            )
        return out


@never_raises(PROTOCOL)
def directive_reasons(
    headers: HeadersLike = None,
    head: Head | None = None,
    tokens: Iterable[str] = (),
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
) -> list[Reason]:
    """``DisallowAITraining`` in X-Robots-Tag / robots-tag or robots meta."""
    mode = norm_mode(mode)
    out = []
    if covers(PROTOCOL, _LABEL, purpose, mode):
        for found in directives(headers, head, tokens, body=mode == STRICT):
            if found.name == _LABEL:
                scope = f" (scoped to {found.scope})" if found.scope else ""
                out.append(
                    Reason(
                        PROTOCOL,
                        RESERVED,
                        found.rule,
                        found.source,
                        f"DisallowAITraining{scope} reserves this content for AI "
                        "training.",
                    )
                )
    return out or [
        Reason(
            PROTOCOL,
            UNAVAILABLE,
            "",
            "X-Robots-Tag / meta robots",
            "No DisallowAITraining directive applies.",
        )
    ]


__all__ = ["PROTOCOL", "SPEC", "AiTrainingRules", "directive_reasons"]
