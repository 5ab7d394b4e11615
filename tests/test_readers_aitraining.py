"""DisallowAITraining reader: protocols.md §9 vectors O2-O3, real robots, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import htmlhead, robots
from tdmguard.middlewares.readers.aitraining import AiTrainingRules, directive_reasons
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
    assert_reasons,
    verdict,
)

BASE = "https://ex.example"


def rules(text: str, tokens: tuple[str, ...] = ("MyBot",)) -> AiTrainingRules:
    return AiTrainingRules.from_robots(robots.parse(text), tokens, f"{BASE}/robots.txt")


O2 = "User-agent: *\nDisallowAITraining: /\nAllow: /\n"
O3 = "User-agent: Google-Extended\nDisallow: /\n"


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(
            STRICT, id="O2-disallow-ai-training-fetch-allowed-training-reserved"
        ),
        pytest.param(
            RFC, id="O2-disallow-ai-training-fetch-allowed-training-reserved-rfc"
        ),
    ],
)
def test_o2_fetch_allowed_training_reserved(mode: str) -> None:
    parsed = robots.parse(O2)
    assert parsed.match(BASE + "/page", ("MyBot",)).allowed  # FETCH_ALLOWED
    reasons = rules(O2).evaluate(BASE + "/page", TRAIN_AI, mode)
    assert verdict(reasons) == RESERVED
    assert reasons[0].rule == "line 2: DisallowAITraining: /"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(
            RFC, UNAVAILABLE, id="O3-policy-token-google-extended-rfc-unknown"
        ),
        pytest.param(
            STRICT, RESERVED, id="O3-policy-token-google-extended-strict-reserved"
        ),
    ],
)
def test_o3_policy_only_token(mode: str, expected: str) -> None:
    assert robots.parse(O3).match(BASE + "/x", ("MyBot",)).allowed  # FETCH_ALLOWED
    reasons = rules(O3).evaluate(BASE + "/x", TRAIN_AI, mode)
    assert verdict(reasons) == expected


def test_o3_is_logged_with_group_and_rule() -> None:
    reasons = rules(O3).evaluate(BASE + "/x")
    reserved = [r for r in reasons if r.verdict == RESERVED]
    assert reserved and "Google-Extended" in reserved[0].detail
    assert (
        reserved[0].rule == "User-agent: Google-Extended (line 1); line 2: Disallow: /"
    )


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [(TRAIN_AI, RESERVED), (AI_INPUT, RESERVED), (SEARCH, UNAVAILABLE)],
)
def test_o3_purposes(purpose: str, expected: str) -> None:
    assert verdict(rules(O3).evaluate(BASE + "/x", purpose)) == expected
    applebot = "User-agent: Applebot-Extended\nDisallow: /\n"
    assert verdict(rules(applebot).evaluate(BASE + "/x", AI_INPUT)) == UNAVAILABLE


def test_o3_partial_disallow_only_where_it_matches() -> None:
    text = "User-agent: Google-Extended\nDisallow: /private/\n"
    assert verdict(rules(text).evaluate(BASE + "/private/a")) == RESERVED
    assert verdict(rules(text).evaluate(BASE + "/public")) == UNAVAILABLE


def test_longest_match_and_allow_tie() -> None:
    text = (
        "User-agent: *\nDisallowAITraining: /\nAllowAITraining: /open/\n"
        "DisallowAITraining: /open/secret$\n"
    )
    r = rules(text, ())
    assert verdict(r.evaluate(BASE + "/x")) == RESERVED
    assert verdict(r.evaluate(BASE + "/open/page")) == PERMITTED
    assert verdict(r.evaluate(BASE + "/open/secret")) == RESERVED
    tie = rules("User-agent: *\nDisallowAITraining: /a\nAllowAITraining: /a\n", ())
    assert verdict(tie.evaluate(BASE + "/a")) == PERMITTED
    assert verdict(r.evaluate(BASE + "/x", SEARCH)) == UNAVAILABLE


@pytest.mark.parametrize(("mode", "expected"), [(RFC, UNAVAILABLE), (STRICT, RESERVED)])
def test_star_group_read_in_strict_when_ours_silent(mode: str, expected: str) -> None:
    text = (
        "User-agent: *\nDisallowAITraining: /\nAllow: /\n\nUser-agent: MyBot\n"
        "Allow: /\n"
    )
    assert verdict(rules(text).evaluate(BASE + "/x", TRAIN_AI, mode)) == expected


def test_empty_value_is_no_rule() -> None:
    assert (
        verdict(rules("User-agent: *\nDisallowAITraining:\n", ()).evaluate(BASE))
        == UNAVAILABLE
    )


@BOTH
def test_directive_in_header_and_meta(mode: str) -> None:
    assert (
        verdict(directive_reasons({"X-Robots-Tag": "DisallowAITraining"}, mode=mode))
        == RESERVED
    )
    head = htmlhead.scan('<meta name="robots" content="noindex, disallowaitraining">')
    assert verdict(directive_reasons(None, head, mode=mode)) == RESERVED
    assert (
        verdict(
            directive_reasons(
                {"X-Robots-Tag": "otherbot: DisallowAITraining"},
                tokens=("mybot",),
                mode=mode,
            )
        )
        == UNAVAILABLE
    )
    assert (
        verdict(
            directive_reasons(
                {"X-Robots-Tag": "DisallowAITraining"}, purpose=SEARCH, mode=mode
            )
        )
        == UNAVAILABLE
    )


ROBOTS_FILES = sorted((REAL_WEB / "robots").glob("*.txt"))


@pytest.mark.parametrize("path", ROBOTS_FILES, ids=lambda p: p.name)
def test_real_robots_files(path) -> None:
    parsed = robots.parse(path.read_bytes(), limit=500 * 1024)
    for tokens in ((), ("tdmguard",), ("Google-Extended",)):
        r = AiTrainingRules.from_robots(parsed, tokens, "https://x/robots.txt")
        for url in ("https://x/", "https://x/news/a?b=1"):
            for mode in (STRICT, RFC):
                assert_reasons(r.evaluate(url, TRAIN_AI, mode))
                if mode == RFC:
                    assert verdict(r.evaluate(url, TRAIN_AI, mode)) == UNAVAILABLE


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("nytimes.com", RESERVED),
        ("researchsquare.com", RESERVED),
        ("theguardian.com", RESERVED),
        ("arxiv.org", UNAVAILABLE),
    ],
)
def test_real_policy_tokens_in_strict_mode(site: str, expected: str) -> None:
    parsed = robots.parse((REAL_WEB / "robots" / f"{site}.txt").read_bytes())
    names = {agent.lower() for group in parsed.groups for agent in group.agents}
    assert (("google-extended" in names) or ("applebot-extended" in names)) == (
        expected == RESERVED
    )
    assert (
        verdict(
            AiTrainingRules.from_robots(parsed, ("tdmguard",)).evaluate(
                "https://x/article"
            )
        )
        == expected
    )


@FUZZ
@given(
    text=st.one_of(
        BODIES,
        st.lists(
            st.one_of(
                st.sampled_from(
                    [
                        "User-agent: *",
                        "User-agent: MyBot",
                        "User-agent: Google-Extended",
                        "Allow: /",
                        "Disallow: /",
                        "Disallow: /a*",
                    ]
                ),
                st.text(max_size=20).map(lambda v: f"DisallowAITraining: {v}"),
                st.text(max_size=20).map(lambda v: f"AllowAITraining: {v}"),
            ),
            max_size=8,
        ).map("\n".join),
    ),
    url=st.text(max_size=40),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_robots(text, url, mode, purpose) -> None:
    parsed = robots.parse(text)
    for tokens in ((), ("MyBot",), ("Google-Extended",)):
        assert_reasons(
            AiTrainingRules.from_robots(parsed, tokens).evaluate(url, purpose, mode)
        )


@FUZZ
@given(
    headers=st.one_of(HEADERS, SIGNAL_HEADERS),
    html=st.one_of(st.none(), st.text(max_size=200)),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_directives(headers, html, mode, purpose) -> None:
    head = htmlhead.scan(html) if html is not None else None
    assert_reasons(directive_reasons(headers, head, ("mybot",), purpose, mode))
