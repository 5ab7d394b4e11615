"""noai reader: protocols.md §5 vectors N1-N7, §9 O1, real heads, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import htmlhead
from tdmguard.middlewares.readers._robotstag import directives
from tdmguard.middlewares.readers.noai import noai_reasons
from tdmguard.middlewares.vocab import (
    AI_INPUT,
    RESERVED,
    RFC,
    SEARCH,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
)

from .test_readers_common import (
    BOTH,
    FUZZ,
    HEADERS,
    MODES,
    PURPOSES,
    REAL_WEB,
    SIGNAL_HEADERS,
    SIGNAL_TEXT,
    assert_reasons,
    verdict,
)

VECTORS = [
    pytest.param(
        {"X-Robots-Tag": "noai"}, None, (), None, STRICT, RESERVED, id="N1-noai-header"
    ),
    pytest.param(
        {"X-Robots-Tag": "noai"}, None, (), None, RFC, RESERVED, id="N1-noai-header-rfc"
    ),
    pytest.param(
        {"X-Robots-Tag": "other, noimageai"},
        None,
        (),
        "image/jpeg",
        STRICT,
        RESERVED,
        id="N2-noai-noimageai-on-image",
    ),
    pytest.param(
        {"X-Robots-Tag": "other, noimageai"},
        None,
        (),
        "image/png",
        RFC,
        RESERVED,
        id="N2-noai-noimageai-on-image-rfc",
    ),
    pytest.param(
        {},
        '<meta name="robots" content="noimageai">',
        (),
        "text/html",
        STRICT,
        RESERVED,
        id="N3-noai-meta-noimageai-page-strict",
    ),
    pytest.param(
        {},
        '<meta name="robots" content="noimageai">',
        (),
        "text/html",
        RFC,
        UNAVAILABLE,
        id="N3-noai-meta-noimageai-page-text-rfc",
    ),
    pytest.param(
        {"X-Robots-Tag": "mybot: noai"},
        None,
        ("mybot",),
        None,
        STRICT,
        RESERVED,
        id="N4-noai-scoped-to-our-token",
    ),
    pytest.param(
        {"X-Robots-Tag": "mybot: noai"},
        None,
        ("mybot",),
        None,
        RFC,
        RESERVED,
        id="N4-noai-scoped-to-our-token-rfc",
    ),
    pytest.param(
        {"X-Robots-Tag": "mybot: noai"},
        None,
        ("otherbot",),
        None,
        STRICT,
        UNAVAILABLE,
        id="N4-noai-scoped-to-other-token",
    ),
    pytest.param(
        {"X-Robots-Tag": "mybot: noai"},
        None,
        ("otherbot",),
        None,
        RFC,
        UNAVAILABLE,
        id="N4-noai-scoped-to-other-token-rfc",
    ),
    pytest.param(
        {"X-Robots-Tag": "noindex"},
        None,
        (),
        None,
        STRICT,
        UNAVAILABLE,
        id="N5-noai-noindex-is-not-a-reservation",
    ),
    pytest.param(
        {"X-Robots-Tag": "noindex"},
        None,
        (),
        None,
        RFC,
        UNAVAILABLE,
        id="N5-noai-noindex-is-not-a-reservation-rfc",
    ),
    pytest.param(
        {"X-Robots-Tag": ":, :, ,;: -::"},
        None,
        (),
        None,
        STRICT,
        UNAVAILABLE,
        id="N6-noai-malformed-ignored",
    ),
    pytest.param(
        {"X-Robots-Tag": ":, :, ,;: -::"},
        None,
        (),
        None,
        RFC,
        UNAVAILABLE,
        id="N6-noai-malformed-ignored-rfc",
    ),
    pytest.param(
        {},
        '<meta name="robots" content="noarchive">',
        (),
        None,
        STRICT,
        UNAVAILABLE,
        id="N7-noai-noarchive-not-mapped",
    ),
    pytest.param(
        {},
        '<meta name="robots" content="noarchive">',
        (),
        None,
        RFC,
        UNAVAILABLE,
        id="N7-noai-noarchive-not-mapped-rfc",
    ),
    pytest.param(
        {"robots-tag": "*=nosnippet; otherbot=noai"},
        None,
        ("otherbot",),
        None,
        STRICT,
        RESERVED,
        id="O1-noai-repext-token-rules",
    ),
    pytest.param(
        {"robots-tag": "*=nosnippet; otherbot=noai"},
        None,
        ("otherbot",),
        None,
        RFC,
        RESERVED,
        id="O1-noai-repext-token-rules-rfc",
    ),
    pytest.param(
        {"robots-tag": "*=nosnippet; otherbot=noai"},
        None,
        ("mybot",),
        None,
        STRICT,
        UNAVAILABLE,
        id="O1-noai-repext-other-token",
    ),
]


@pytest.mark.parametrize(
    ("headers", "html", "tokens", "ctype", "mode", "expected"), VECTORS
)
def test_vectors(headers, html, tokens, ctype, mode, expected) -> None:
    head = htmlhead.scan(html) if html else None
    assert (
        verdict(noai_reasons(headers, head, tokens, ctype, TRAIN_AI, mode)) == expected
    )


def test_n3_images_reserved_in_both_modes() -> None:
    head = htmlhead.scan('<meta name="robots" content="noimageai">')
    for mode in (STRICT, RFC):
        assert (
            verdict(noai_reasons(None, head, (), "image/webp", TRAIN_AI, mode))
            == RESERVED
        )
    (reason,) = noai_reasons(None, head, (), "text/html", TRAIN_AI, STRICT)
    assert "strict mode reads it for the page too" in reason.detail


def test_n7_optional_mapping() -> None:
    head = htmlhead.scan('<meta name="robots" content="noarchive">')
    extra = {"noarchive": [TRAIN_AI]}
    assert verdict(noai_reasons(None, head, extra_directives=extra)) == RESERVED
    assert (
        verdict(noai_reasons(None, head, purpose=SEARCH, extra_directives=extra))
        == UNAVAILABLE
    )


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [(TRAIN_AI, RESERVED), (AI_INPUT, RESERVED), (SEARCH, UNAVAILABLE)],
)
def test_noai_does_not_reserve_search(purpose: str, expected: str) -> None:
    assert verdict(noai_reasons({"X-Robots-Tag": "noai"}, purpose=purpose)) == expected


def test_noml_is_training_only() -> None:
    assert verdict(noai_reasons({"X-Robots-Tag": "noml"})) == RESERVED
    assert (
        verdict(noai_reasons({"X-Robots-Tag": "noml"}, purpose=AI_INPUT)) == UNAVAILABLE
    )


@BOTH
def test_several_header_lines_and_case(mode: str) -> None:
    headers = [
        ("x-robots-tag", "noindex"),
        ("X-ROBOTS-TAG", "MyBot: NoAI"),
        (b"X-Robots-Tag", b"googlebot: nofollow"),
    ]
    reasons = noai_reasons(headers, tokens=("mybot",), mode=mode)
    assert verdict(reasons) == RESERVED
    assert reasons[0].rule == "X-ROBOTS-TAG: MyBot: NoAI"
    assert reasons[0].source == "X-ROBOTS-TAG header"


def test_scope_runs_to_end_of_line_and_values_with_colons() -> None:
    found = directives(
        {"X-Robots-Tag": "unavailable_after: 25 Jun 2010 15:00:00 PST, noai"}, tokens=()
    )
    assert [d.name for d in found] == ["unavailable_after", "noai"]
    found = directives({"X-Robots-Tag": "otherbot: noindex, noai"}, tokens=("mybot",))
    assert found == []
    found = directives({"X-Robots-Tag": "noai, otherbot: noindex"}, tokens=("mybot",))
    assert [d.name for d in found] == ["noai"]


def test_meta_for_our_token() -> None:
    head = htmlhead.scan(
        '<META NAME="MyBot" CONTENT="NoImageAI, noai">'
        '<meta name="otherbot" content="noai">'
    )
    reasons = noai_reasons(None, head, ("mybot",), "text/html", TRAIN_AI, RFC)
    assert verdict(reasons) == RESERVED
    assert [r.source for r in reasons] == ['meta name="mybot"']
    assert verdict(noai_reasons(None, head, ("someone",))) == UNAVAILABLE


def test_real_sciencedirect_robots_meta_has_no_ai_directive() -> None:
    head = htmlhead.scan(
        (
            REAL_WEB
            / "tdmrep"
            / "html"
            / "sciencedirect.com.S1361841524003281.head-excerpt.html"
        ).read_bytes()
    )
    for mode in (STRICT, RFC):
        assert (
            verdict(
                noai_reasons(None, head, ("tdmguard",), "text/html", TRAIN_AI, mode)
            )
            == UNAVAILABLE
        )


@FUZZ
@given(
    headers=st.one_of(HEADERS, SIGNAL_HEADERS),
    html=st.one_of(
        st.none(),
        st.text(max_size=300),
        SIGNAL_TEXT.map(
            lambda v: f'<meta name="robots" content="{v}"><meta name=mybot content={v}>'
        ),
    ),
    ctype=st.one_of(
        st.none(),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.sampled_from(["image/png", "text/html"]),
    ),
    tokens=st.lists(st.text(max_size=10), max_size=3),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz(headers, html, ctype, tokens, mode, purpose) -> None:
    head = htmlhead.scan(html) if html is not None else None
    assert_reasons(
        noai_reasons(headers, head, tokens + ["mybot"], ctype, purpose, mode)
    )
    assert_reasons(
        noai_reasons(
            headers, head, tokens, ctype, purpose, mode, {"noindex": ["train-ai"]}
        )
    )


def test_a_robots_meta_misplaced_in_the_body_reserves_in_strict_mode_only() -> None:
    # HTML puts meta robots in the head; templates misplace it. Strict mode:
    # a reservation seen anywhere holds. rfc mode: the head only.
    from tdmguard.middlewares.readers import htmlhead
    from tdmguard.middlewares.vocab import RFC

    page = (b'<html><head><title>t</title></head><body><p>x</p>'
            b'<meta name="robots" content="noai"></body></html>')
    head = htmlhead.scan(page)
    assert [m.key for m in head.body_metas] == ["robots"] and not head.meta("robots")
    assert verdict(noai_reasons(None, head, ("TestBot",), "text/html")) == RESERVED
    assert verdict(noai_reasons(None, head, ("TestBot",), "text/html", mode=RFC)) == UNAVAILABLE


@pytest.mark.parametrize("hidden", [
    b'<!-- <meta name="robots" content="noai"> -->',
    b'<script>var s = "<meta name=robots content=noai>";</script>',
    b'<template><meta name="robots" content="noai"></template>',
    b'<textarea><meta name="robots" content="noai"></textarea>',
])
def test_a_meta_in_a_comment_or_raw_text_in_the_body_is_no_reservation(hidden: bytes) -> None:
    from tdmguard.middlewares.readers import htmlhead

    head = htmlhead.scan(b"<html><head><title>t</title></head><body>" + hidden + b"</body>")
    assert head.body_metas == []
    assert verdict(noai_reasons(None, head, ("TestBot",), "text/html")) == UNAVAILABLE


@pytest.mark.parametrize(("content", "expected"), [
    ("noai", RESERVED), ("TestBot: noai", RESERVED), ("otherbot: noai", UNAVAILABLE),
    ("noindex", UNAVAILABLE)])
def test_meta_http_equiv_x_robots_tag_reads_as_the_header(content: str, expected: str) -> None:
    from tdmguard.middlewares.readers import htmlhead
    from tdmguard.middlewares.vocab import RFC

    head = htmlhead.scan(f'<html><head><meta http-equiv="X-Robots-Tag" content="{content}">'
                         "</head></html>".encode())
    for mode in ("strict", RFC):
        reasons = noai_reasons(None, head, ("TestBot",), "text/html", mode=mode)
        assert verdict(reasons) == expected, (mode, reasons)


def test_meta_http_equiv_robots_still_reads_as_meta_robots() -> None:
    # Some sites write http-equiv="robots"; it was read as name="robots"
    # before http-equiv="X-Robots-Tag" support, and still is.
    head = htmlhead.scan(b'<html><head><meta http-equiv="robots" content="noai"></head></html>')
    assert verdict(noai_reasons(None, head, ("TestBot",), "text/html")) == RESERVED
