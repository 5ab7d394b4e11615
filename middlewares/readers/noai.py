"""noai reader: ``noai``, ``noimageai`` and ``noml`` robots directives.

Spec: none published. DeviantArt's directives (journal "UPDATE All Deviations
Are Opted Out of AI Datasets", November 2022): ``noai`` and ``noimageai`` in
``<meta name="robots">`` and ``X-Robots-Tag``; ``noml`` from noml.info. Header
syntax: legacy ``X-Robots-Tag`` (``token:`` scopes) and the repext
``robots-tag`` ``token=rules;`` groups (draft-illyes-repext-00), parsed in
:mod:`._robotstag`. Everything is case-insensitive; malformed pieces are
ignored (vector N6); ``noindex``/``noarchive`` are not AI reservations
(N5, N7) unless the operator maps them with ``extra_directives``.
``<meta http-equiv="X-Robots-Tag">`` is read as that header; ``strict`` mode
also reads robots meta tags misplaced after the head (``Head.body_metas``).

``noimageai`` reserves images. On a non-image response:

- ``rfc``: unavailable for the page itself (it speaks about the page's
  images; a middleware may carry it to the images it discovers there);
- ``strict`` (default): reserved too (vector N3, conservative reading).

Directive-to-purpose mapping: ``noai`` in ``middlewares/data/purposes.json``
(noai/noimageai: training and AI input; noml: training).

Middleware use, per response::

    head = htmlhead.scan(response.body)          # once, shared with other readers
    noai_reasons(response.headers, head, tokens, content_type, purpose, mode)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tdmguard.middlewares.vocab import RESERVED, STRICT, TRAIN_AI, UNAVAILABLE, Reason

from ._common import HeadersLike, covers, never_raises, norm_mode, text
from ._robotstag import directives
from .htmlhead import Head

PROTOCOL = "noai"
SPEC = "DeviantArt noai/noimageai (2022-11); noml.info; draft-illyes-repext-00 syntax"
IMAGE_ONLY = frozenset({"noimageai"})


def is_image(content_type: str | bytes | None) -> bool:
    return text(content_type).strip().lower().startswith("image/")


@never_raises(PROTOCOL)
def noai_reasons(
    headers: HeadersLike = None,
    head: Head | None = None,
    tokens: Iterable[str] = (),
    content_type: str | bytes | None = None,
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
    extra_directives: Mapping[str, Iterable[str]] | None = None,
) -> list[Reason]:
    """Reasons from X-Robots-Tag / robots-tag headers and robots meta tags.

    :param tokens: our product tokens, for ``token:`` / ``token=`` scopes and
        ``<meta name="token">``.
    :param extra_directives: more directives the operator reads as
        reservations, ``{"noarchive": ["train-ai"]}`` (Bing's opt-out).
    """
    mode = norm_mode(mode)
    extra = {k.lower(): set(v) for k, v in (extra_directives or {}).items()}
    image = is_image(content_type)
    reasons: list[Reason] = []
    seen: set[tuple[str, str]] = set()
    deferred: list[str] = []
    for found in directives(headers, head, tokens, body=mode == STRICT):
        applies = covers(PROTOCOL, found.name, purpose, mode) or purpose in extra.get(
            found.name, ()
        )
        if not applies or (found.rule, found.name) in seen:
            continue
        seen.add((found.rule, found.name))
        scope = f" (scoped to {found.scope})" if found.scope else ""
        if found.name in IMAGE_ONLY and not image:
            if mode != STRICT:
                deferred.append(f"{found.rule} ({found.source})")
                continue
            detail = (
                f"{found.name}{scope} reserves the images of this page for "
                f"'{purpose}'; "
                "strict mode reads it for the page too."
            )
        else:
            detail = f"{found.name}{scope} reserves this content for '{purpose}'."
        reasons.append(Reason(PROTOCOL, RESERVED, found.rule, found.source, detail))
    if reasons:
        return reasons
    if deferred:
        return [
            Reason(
                PROTOCOL,
                UNAVAILABLE,
                deferred[0],
                "noimageai",
                "noimageai reserves the page's images, not this non-image response "
                "(rfc mode).",
            )
        ]
    return [
        Reason(
            PROTOCOL,
            UNAVAILABLE,
            "",
            "X-Robots-Tag / meta robots",
            "No noai, noimageai or noml directive applies.",
        )
    ]


__all__ = ["IMAGE_ONLY", "PROTOCOL", "SPEC", "is_image", "noai_reasons"]
