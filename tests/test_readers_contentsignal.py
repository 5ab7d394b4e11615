"""Content-Signal reader: protocols.md §6 vectors C1-C7, real robots, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import robots
from tdmguard.middlewares.readers.contentsignal import (
    ContentSignals,
    header_reasons,
    parse_signals,
)
from tdmguard.middlewares.vocab import (
    AI_INPUT,
    PERMITTED,
    RESERVED,
    RFC,
    SEARCH,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
)

from .test_readers_common import (
    BODIES,
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


def signals(text: str, tokens: tuple[str, ...] = ()) -> ContentSignals:
    return ContentSignals.from_robots(
        robots.parse(text), tokens, "https://ex.example/robots.txt"
    )


def line(value: str) -> str:
    return f"User-agent: *\nContent-Signal: {value}\nAllow: /\n"


C1 = "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
# C5 with the "*" group closed by a rule, as in Cloudflare's managed file.
C5 = (
    "User-agent: *\nContent-Signal: ai-train=no\nAllow: /\n\nUser-agent: MyBot\n"
    "Allow: /\n"
)

VECTORS = [
    pytest.param(
        C1, (), TRAIN_AI, STRICT, RESERVED, id="C1-content-signal-ai-train-no"
    ),
    pytest.param(
        C1, (), TRAIN_AI, RFC, RESERVED, id="C1-content-signal-ai-train-no-rfc"
    ),
    pytest.param(C1, (), SEARCH, RFC, PERMITTED, id="C1-content-signal-search-yes"),
    pytest.param(
        line("search=yes, ai-input=yes, ai-train=yes"),
        (),
        TRAIN_AI,
        STRICT,
        PERMITTED,
        id="C2-content-signal-all-yes",
    ),
    pytest.param(
        line("search=yes, ai-input=yes, ai-train=yes"),
        (),
        TRAIN_AI,
        RFC,
        PERMITTED,
        id="C2-content-signal-all-yes-rfc",
    ),
    pytest.param(
        line("search=yes"),
        (),
        TRAIN_AI,
        STRICT,
        UNAVAILABLE,
        id="C3-content-signal-missing-neither-grants-nor-restricts",
    ),
    pytest.param(
        line("search=yes"),
        (),
        TRAIN_AI,
        RFC,
        UNAVAILABLE,
        id="C3-content-signal-missing-rfc",
    ),
    pytest.param(
        line("search=yes,ai-train=no,use=reference"),
        (),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="C4-content-signal-managed-default",
    ),
    pytest.param(
        line("search=yes,ai-train=no,use=reference"),
        (),
        TRAIN_AI,
        RFC,
        RESERVED,
        id="C4-content-signal-managed-default-rfc",
    ),
    pytest.param(
        C5,
        ("MyBot",),
        TRAIN_AI,
        RFC,
        UNAVAILABLE,
        id="C5-content-signal-specific-group-shadows-star-rfc",
    ),
    pytest.param(
        C5,
        ("MyBot",),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="C5-content-signal-star-read-when-ours-silent-strict",
    ),
    pytest.param(
        line("ai-train=NO"),
        (),
        TRAIN_AI,
        RFC,
        UNAVAILABLE,
        id="C6-content-signal-uppercase-NO-undefined-rfc",
    ),
    pytest.param(
        line("ai-train=NO"),
        (),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="C6-content-signal-uppercase-NO-strict",
    ),
    pytest.param(
        line("ai-train=n"),
        (),
        TRAIN_AI,
        RFC,
        UNAVAILABLE,
        id="C6-content-signal-n-undefined-rfc",
    ),
    pytest.param(
        line("ai-train=n"),
        (),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="C6-content-signal-n-strict",
    ),
    pytest.param(
        line("ai-input=no"),
        (),
        AI_INPUT,
        STRICT,
        RESERVED,
        id="C7-content-signal-ai-input-no-rag",
    ),
    pytest.param(
        line("ai-input=no"),
        (),
        AI_INPUT,
        RFC,
        RESERVED,
        id="C7-content-signal-ai-input-no-rag-rfc",
    ),
    pytest.param(
        line("ai-input=no"),
        (),
        TRAIN_AI,
        STRICT,
        UNAVAILABLE,
        id="C7-content-signal-ai-input-no-not-training",
    ),
    pytest.param(
        line("ai-input=no"),
        (),
        TRAIN_AI,
        RFC,
        UNAVAILABLE,
        id="C7-content-signal-ai-input-no-not-training-rfc",
    ),
]


@pytest.mark.parametrize(("text", "tokens", "purpose", "mode", "expected"), VECTORS)
def test_vectors(
    text: str, tokens: tuple[str, ...], purpose: str, mode: str, expected: str
) -> None:
    assert verdict(signals(text, tokens).evaluate(purpose, mode)) == expected


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [(TRAIN_AI, RESERVED), (SEARCH, PERMITTED), (AI_INPUT, UNAVAILABLE)],
)
def test_ai_train_no_does_not_reserve_search(purpose: str, expected: str) -> None:
    assert verdict(signals(C1).evaluate(purpose)) == expected


def test_c4_use_is_recorded() -> None:
    (reason,) = signals(line("search=yes,ai-train=no,use=reference")).evaluate()
    assert "use=reference" in reason.detail
    assert reason.rule == "line 2: Content-Signal: search=yes,ai-train=no,use=reference"
    assert reason.source == "https://ex.example/robots.txt"


@BOTH
def test_c5_as_written_is_one_group(mode: str) -> None:
    # Without a rule after Content-Signal, "*" and "MyBot" form one group
    # (RFC 9309 §2.2.4: other records do not end a group), so it is MyBot's.
    text = "User-agent: *\nContent-Signal: ai-train=no\n\nUser-agent: MyBot\nAllow: /\n"
    assert verdict(signals(text, ("MyBot",)).evaluate(TRAIN_AI, mode)) == RESERVED


def test_several_lines_combine_most_restrictive() -> None:
    text = (
        "User-agent: *\nContent-Signal: ai-train=yes\nContent-Signal: ai-train=no\n"
        "Allow: /\n"
    )
    assert verdict(signals(text).evaluate()) == RESERVED


def test_parse_signals() -> None:
    assert parse_signals(" Search = YES , AI-Train=No,use=full", STRICT) == (
        {"search": "yes", "ai-train": "no"},
        "full",
    )
    assert parse_signals("search=YES", RFC) == ({"search": "YES"}, "")
    assert parse_signals(",,=,novalue,ai-train=", RFC) == ({"ai-train": ""}, "")


@pytest.mark.parametrize(
    ("headers", "purpose", "mode", "expected"),
    [
        ({"Content-Signal": "ai-train=no"}, TRAIN_AI, RFC, RESERVED),
        ({"content-signal": "search=yes, ai-train=no"}, SEARCH, STRICT, PERMITTED),
        (
            [("Content-Signal", "ai-train=yes"), ("Content-Signal", "ai-input=no")],
            AI_INPUT,
            RFC,
            RESERVED,
        ),
        ({"Content-Signal": "AI-TRAIN=no"}, TRAIN_AI, RFC, UNAVAILABLE),
        ({"Content-Signal": "AI-TRAIN=no"}, TRAIN_AI, STRICT, RESERVED),
        ({}, TRAIN_AI, STRICT, UNAVAILABLE),
    ],
)
def test_header(headers, purpose: str, mode: str, expected: str) -> None:
    assert verdict(header_reasons(headers, purpose, mode)) == expected


ROBOTS_FILES = sorted((REAL_WEB / "robots").glob("*.txt"))


@pytest.mark.parametrize("path", ROBOTS_FILES, ids=lambda p: p.name)
def test_real_robots_files(path) -> None:
    parsed = robots.parse(path.read_bytes(), limit=500 * 1024)
    for tokens in ((), ("tdmguard",), ("GPTBot",), ("Google-Extended",)):
        for mode in (STRICT, RFC):
            for purpose in (TRAIN_AI, SEARCH, AI_INPUT):
                assert_reasons(
                    ContentSignals.from_robots(parsed, tokens).evaluate(purpose, mode)
                )


@pytest.mark.parametrize(
    ("site", "tokens", "purpose", "mode", "expected"),
    [
        ("researchsquare.com", ("tdmguard",), TRAIN_AI, STRICT, RESERVED),
        ("researchsquare.com", ("tdmguard",), TRAIN_AI, RFC, RESERVED),
        ("researchsquare.com", ("tdmguard",), SEARCH, RFC, PERMITTED),
        ("researchsquare.com", ("tdmguard",), AI_INPUT, RFC, UNAVAILABLE),
        # GPTBot has its own group there (Disallow: /): strict still reads "*".
        ("researchsquare.com", ("GPTBot",), TRAIN_AI, RFC, UNAVAILABLE),
        ("researchsquare.com", ("GPTBot",), TRAIN_AI, STRICT, RESERVED),
        ("ebsco.com", ("tdmguard",), TRAIN_AI, STRICT, PERMITTED),
        ("ebsco.com", ("tdmguard",), AI_INPUT, RFC, PERMITTED),
        ("en.wikipedia.org", ("tdmguard",), TRAIN_AI, STRICT, UNAVAILABLE),
    ],
)
def test_real_robots_verdicts(
    site: str, tokens, purpose: str, mode: str, expected: str
) -> None:
    parsed = robots.parse((REAL_WEB / "robots" / f"{site}.txt").read_bytes())
    assert (
        verdict(ContentSignals.from_robots(parsed, tokens).evaluate(purpose, mode))
        == expected
    )


@FUZZ
@given(headers=st.one_of(HEADERS, SIGNAL_HEADERS), mode=MODES, purpose=PURPOSES)
def test_fuzz_header(headers, mode, purpose) -> None:
    assert_reasons(header_reasons(headers, purpose, mode))


@FUZZ
@given(
    text=st.one_of(
        BODIES,
        st.lists(
            st.one_of(
                st.sampled_from(["User-agent: *", "User-agent: MyBot", "Allow: /"]),
                SIGNAL_TEXT.map(lambda v: f"Content-Signal: {v}"),
            ),
            max_size=8,
        ).map("\n".join),
    ),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_robots(text, mode, purpose) -> None:
    parsed = robots.parse(text)
    for tokens in ((), ("MyBot",)):
        assert_reasons(
            ContentSignals.from_robots(parsed, tokens).evaluate(purpose, mode)
        )
    assert_reasons(ContentSignals.from_robots(None).evaluate(purpose, mode))
