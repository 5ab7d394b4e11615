"""Robots directives from ``X-Robots-Tag`` / ``robots-tag`` headers and
``<meta name="robots">`` / ``<meta name="OUR-TOKEN">``, shared by the noai
and DisallowAITraining readers.

Syntax read (all case-insensitive, every field line separately):

- legacy ``X-Robots-Tag``: comma-separated directives, optionally scoped by a
  ``token:`` prefix that holds for the rest of the line
  (``X-Robots-Tag: mybot: noai, noimageai``);
- draft-illyes-repext-00 ``robots-tag`` (and the same syntax in
  ``X-Robots-Tag``): ``;``-separated ``token=rules`` groups, a group without
  ``token=`` being global (``robots-tag: *=nosnippet; otherbot=noai``).

A directive applies when it is unscoped, scoped to ``*``, or scoped to one of
our product tokens (repext: "the sum of negative rules specific to their
product token and the global product token"). Malformed pieces are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import HeadersLike, clip, header_values
from .htmlhead import Head

HEADER_NAMES = ("x-robots-tag", "robots-tag")
_EQ_SCOPE = re.compile(r"\s*([A-Za-z0-9_.*-]+)\s*=(.*)\Z", re.DOTALL)
_COLON_SCOPE = re.compile(r"\s*([A-Za-z0-9_.*-]+)\s*:(.*)\Z", re.DOTALL)
#: Directives whose own value follows a colon (Google's documentation).
_VALUED = {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive that applies to us: lower-cased *name*, its *scope*
    (``None`` for unscoped), the exact field line or meta tag, and where.
    """

    name: str
    scope: str | None
    rule: str
    source: str


def _directives_in(value: str) -> Iterable[tuple[str | None, str]]:
    for group in value.split(";"):
        scope: str | None = None
        eq = _EQ_SCOPE.match(group)
        if eq and eq.group(1).lower() not in _VALUED:
            scope, group = eq.group(1).lower(), eq.group(2)
        for item in group.split(","):
            colon = _COLON_SCOPE.match(item)
            if colon and colon.group(1).lower() not in _VALUED:
                scope, item = colon.group(1).lower(), colon.group(2)
            name = item.split(":", 1)[0].strip().lower()
            if name:
                yield scope, name


def directives(
    headers: HeadersLike = None, head: Head | None = None, tokens: Iterable[str] = (),
    body: bool = False,
) -> list[Directive]:
    """Every robots directive in *headers* and *head* that applies to *tokens*.

    ``<meta http-equiv="X-Robots-Tag">`` is read as the header it names. With
    *body* (strict mode), meta tags misplaced after the head count too.
    """
    ours = {t.lower() for t in tokens if t}
    out: list[Directive] = []
    header_like = [(value, f"{name} header", f"{name}: {clip(value, 200)}")
                   for name, value in header_values(headers, *HEADER_NAMES)]
    metas = list(head.metas) if head is not None else []
    if head is not None and body:
        metas += head.body_metas
    for meta in metas:
        if meta.attr == "http-equiv" and meta.key in ("x-robots-tag", "robots-tag"):
            header_like.append((meta.content, f'meta http-equiv="{meta.key}"', str(meta)))
    for value, source, rule in header_like:
        for scope, directive in _directives_in(value):
            if scope is None or scope == "*" or scope in ours:
                out.append(Directive(directive, scope, rule, source))
    if head is not None:
        wanted = {"robots", *ours}
        for meta in metas:
            if meta.key not in wanted:  # http-equiv="robots" counts as name="robots"
                continue
            scope = None if meta.key == "robots" else meta.key
            for item in meta.content.split(","):
                directive = item.strip().lower()
                if directive:
                    out.append(
                        Directive(
                            directive, scope, str(meta), f'meta name="{meta.key}"'
                        )
                    )
    return out
