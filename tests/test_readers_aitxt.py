"""ai.txt reader: protocols.md §4 vectors S1-S5 (S6-S7 are a network API), fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers.aitxt import AiTxt
from tdmguard.middlewares.vocab import (
    AI_INPUT,
    PERMITTED,
    RESERVED,
    RFC,
    SEARCH,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
)

from .test_readers_common import (
    BODIES,
    BOTH,
    DATA,
    FUZZ,
    MODES,
    PURPOSES,
    REAL_WEB,
    assert_reasons,
    verdict,
)

S1 = "User-agent: *\nDisallow: *.jpg\nDisallow: *.png\nAllow: *.html\nAllow: /\n"
S3 = "User-agent: *\nDisallow: *\nDisallow: /\n"
BASE = "https://ex.example"

VECTORS = [
    pytest.param(S1, 200, "/img/cat.jpg", RESERVED, id="S1-ai.txt-jpg-disallowed"),
    pytest.param(S1, 200, "/about.html", PERMITTED, id="S2-ai.txt-html-allowed"),
    pytest.param(S1, 200, "/about", PERMITTED, id="S2-ai.txt-global-allow"),
    pytest.param(
        S3, 200, "/anything.txt", RESERVED, id="S3-ai.txt-disallow-everything"
    ),
    pytest.param(S3, 200, "/", RESERVED, id="S3-ai.txt-disallow-everything-root"),
    pytest.param(
        S1,
        200,
        "/photo.jpg.html",
        PERMITTED,
        id="S4-ai.txt-longest-match-html-6-beats-jpg-5",
    ),
    pytest.param("", 404, "/img/cat.jpg", UNAVAILABLE, id="S5-ai.txt-404-unknown"),
]


@pytest.mark.parametrize(("body", "status", "path", "expected"), VECTORS)
@BOTH
def test_vectors(body: str, status: int, path: str, expected: str, mode: str) -> None:
    ai_txt = AiTxt.parse(body.encode(), status, f"{BASE}/ai.txt")
    reasons = ai_txt.evaluate(BASE + path, (), TRAIN_AI, mode)
    assert verdict(reasons) == expected


def test_s4_rule_is_pinned() -> None:
    (reason,) = AiTxt.parse(S1).evaluate(BASE + "/photo.jpg.html")
    assert reason.rule == "line 4: Allow: *.html"


@pytest.mark.parametrize(
    ("status", "strict", "rfc"),
    [
        (500, UNREADABLE, UNAVAILABLE),
        (429, UNREADABLE, UNAVAILABLE),
        (None, UNREADABLE, UNAVAILABLE),
        (403, UNAVAILABLE, UNAVAILABLE),
        (301, UNAVAILABLE, UNAVAILABLE),
    ],
)
def test_fetch_results(status: int | None, strict: str, rfc: str) -> None:
    ai_txt = AiTxt.parse(b"", status)
    assert verdict(ai_txt.evaluate(BASE, (), TRAIN_AI, STRICT)) == strict
    assert verdict(ai_txt.evaluate(BASE, (), TRAIN_AI, RFC)) == rfc


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [(TRAIN_AI, RESERVED), (SEARCH, UNAVAILABLE), (AI_INPUT, UNAVAILABLE)],
)
def test_purposes(purpose: str, expected: str) -> None:
    assert verdict(AiTxt.parse(S3).evaluate(BASE, (), purpose)) == expected


def test_star_group_in_strict_when_our_group_is_silent() -> None:
    text = b"User-agent: *\nDisallow: *.jpg\n\nUser-agent: mybot\nDisallow: /private/\n"
    ai_txt = AiTxt.parse(text)
    assert (
        verdict(ai_txt.evaluate(BASE + "/a.jpg", ("mybot",), TRAIN_AI, RFC))
        == UNAVAILABLE
    )
    assert (
        verdict(ai_txt.evaluate(BASE + "/a.jpg", ("mybot",), TRAIN_AI, STRICT))
        == RESERVED
    )


def test_fixture_file_and_soft_404() -> None:
    ai_txt = AiTxt.parse((DATA / "ai.txt").read_bytes(), 200, f"{BASE}/ai.txt")
    assert verdict(ai_txt.evaluate(BASE + "/media/a.mp4")) == RESERVED
    assert verdict(ai_txt.evaluate(BASE + "/notes.txt")) == PERMITTED
    html = AiTxt.parse(b"<!doctype html><p>Page not found</p>")
    assert verdict(html.evaluate(BASE + "/a.jpg")) == UNAVAILABLE


def test_real_robots_files_read_as_ai_txt_never_crash() -> None:
    for path in sorted((REAL_WEB / "robots").glob("*.txt")):
        ai_txt = AiTxt.parse(path.read_bytes(), 200, "https://x/ai.txt")
        for mode in (STRICT, RFC):
            assert_reasons(
                ai_txt.evaluate("https://x/a/b.jpg", ("tdmguard",), TRAIN_AI, mode)
            )


@FUZZ
@given(
    body=st.one_of(
        BODIES,
        st.lists(
            st.sampled_from(
                [
                    "User-agent: *",
                    "Disallow: *.jpg",
                    "Allow: *.html",
                    "Allow: /",
                    "Disallow: *",
                    "Disallow: /",
                    "Allow: /a$",
                ]
            ),
            max_size=8,
        ).map("\n".join),
    ),
    status=st.one_of(st.none(), st.integers(100, 599)),
    url=st.text(max_size=40),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz(body, status, url, mode, purpose) -> None:
    ai_txt = AiTxt.parse(body, status)
    assert_reasons(ai_txt.evaluate(url, ("mybot",), purpose, mode))
