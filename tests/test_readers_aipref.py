"""Content-Usage reader: protocols.md §3 vectors A1-A11, real robots, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import robots
from tdmguard.middlewares.readers.aipref import (
    ContentUsageRules,
    Preferences,
    header_reasons,
    parse_rule,
)
from tdmguard.middlewares.vocab import (
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

BASE = "https://ex.example"


def cu(value: str, mode: str = STRICT, purpose: str = TRAIN_AI) -> str:
    return verdict(header_reasons({"Content-Usage": value}, purpose, mode))


def robots_rules(
    text: str, tokens: tuple[str, ...] = ()
) -> tuple[robots.RobotsTxt, ContentUsageRules]:
    parsed = robots.parse(text)
    return parsed, ContentUsageRules.parse(text, tokens, f"{BASE}/robots.txt")


def robots_verdict(
    text: str,
    path: str,
    mode: str = STRICT,
    tokens: tuple[str, ...] = (),
    purpose: str = TRAIN_AI,
) -> str:
    parsed, rules = robots_rules(text, tokens)
    crawlable = parsed.match(BASE + path, tokens).allowed
    return verdict(rules.evaluate(BASE + path, crawlable, purpose, mode))


A8 = """User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: train-ai=n
Content-Usage: /ai-ok/ train-ai=y
"""
A11 = """User-Agent: *
Content-Usage: train-ai=n

User-Agent: MyBot
Allow: /
"""

HEADER_VECTORS = [
    pytest.param(
        "train-ai=n", STRICT, TRAIN_AI, RESERVED, id="A1-content-usage-train-ai-n"
    ),
    pytest.param(
        "train-ai=n", RFC, TRAIN_AI, RESERVED, id="A1-content-usage-train-ai-n-rfc"
    ),
    pytest.param(
        "train-ai=y, search=n",
        STRICT,
        TRAIN_AI,
        PERMITTED,
        id="A2-content-usage-train-ai-y",
    ),
    pytest.param(
        "train-ai=y, search=n", STRICT, SEARCH, RESERVED, id="A2-content-usage-search-n"
    ),
    pytest.param(
        "train-ai=no",
        STRICT,
        TRAIN_AI,
        UNAVAILABLE,
        id="A3-content-usage-no-is-not-token-n",
    ),
    pytest.param(
        'train-ai="n"',
        RFC,
        TRAIN_AI,
        UNAVAILABLE,
        id="A3-content-usage-string-n-unknown",
    ),
    pytest.param(
        "Train-AI=n",
        STRICT,
        TRAIN_AI,
        UNAVAILABLE,
        id="A4-content-usage-uppercase-key-parse-fails",
    ),
    pytest.param(
        "Train-AI=n",
        RFC,
        TRAIN_AI,
        UNAVAILABLE,
        id="A4-content-usage-uppercase-key-parse-fails-rfc",
    ),
    pytest.param(
        'train-ai=y, train-ai, search=n, search="n"',
        STRICT,
        TRAIN_AI,
        UNAVAILABLE,
        id="A5-content-usage-last-wins-train-ai-unknown",
    ),
    pytest.param(
        'train-ai=y, train-ai, search=n, search="n"',
        RFC,
        SEARCH,
        UNAVAILABLE,
        id="A5-content-usage-last-wins-search-unknown",
    ),
    pytest.param(
        "train-ai;allow=n, train-ai=y",
        STRICT,
        TRAIN_AI,
        PERMITTED,
        id="A6-content-usage-params-ignored-last-wins",
    ),
    pytest.param(
        "ai=n", RFC, TRAIN_AI, UNAVAILABLE, id="A7-content-usage-legacy-ai-ignored-rfc"
    ),
    pytest.param(
        "ai=n", STRICT, TRAIN_AI, RESERVED, id="A7-content-usage-legacy-ai-strict"
    ),
    pytest.param(
        "train-genai=n",
        RFC,
        TRAIN_AI,
        UNAVAILABLE,
        id="A7-content-usage-legacy-train-genai-rfc",
    ),
    pytest.param(
        "train-genai=n",
        STRICT,
        TRAIN_AI,
        RESERVED,
        id="A7-content-usage-legacy-train-genai-strict",
    ),
    pytest.param(
        "bots=n", RFC, TRAIN_AI, UNAVAILABLE, id="A7-content-usage-legacy-bots-rfc"
    ),
    pytest.param(
        "bots=n", STRICT, TRAIN_AI, RESERVED, id="A7-content-usage-legacy-bots-strict"
    ),
]


@pytest.mark.parametrize(("value", "mode", "purpose", "expected"), HEADER_VECTORS)
def test_header_vectors(value: str, mode: str, purpose: str, expected: str) -> None:
    assert cu(value, mode, purpose) == expected


def test_a7_legacy_is_logged_and_never_permits() -> None:
    (reason,) = header_reasons({"Content-Usage": "ai=n"})
    assert "legacy label" in reason.detail
    assert cu("ai=y") == UNAVAILABLE
    assert cu("bots=n", purpose=SEARCH) == RESERVED
    assert cu("train-genai=n", purpose=SEARCH) == UNAVAILABLE


@pytest.mark.parametrize(
    ("path", "mode", "expected"),
    [
        pytest.param(
            "/test", STRICT, RESERVED, id="A8-content-usage-robots-site-wide-n"
        ),
        pytest.param(
            "/test", RFC, RESERVED, id="A8-content-usage-robots-site-wide-n-rfc"
        ),
        pytest.param(
            "/never/test",
            STRICT,
            UNAVAILABLE,
            id="A8-content-usage-robots-not-crawlable-no-preference",
        ),
        pytest.param(
            "/never/test",
            RFC,
            UNAVAILABLE,
            id="A8-content-usage-robots-not-crawlable-no-preference-rfc",
        ),
        pytest.param(
            "/ai-ok/test",
            STRICT,
            PERMITTED,
            id="A8-content-usage-robots-carve-out-honoured",
        ),
        pytest.param(
            "/ai-ok/test",
            RFC,
            PERMITTED,
            id="A8-content-usage-robots-carve-out-honoured-rfc",
        ),
    ],
)
def test_a8_robots_paths(path: str, mode: str, expected: str) -> None:
    assert robots_verdict(A8, path, mode) == expected


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(STRICT, id="A9-content-usage-header-y-robots-n-combine-to-n"),
        pytest.param(RFC, id="A9-content-usage-header-y-robots-n-combine-to-n-rfc"),
    ],
)
def test_a9_header_and_robots_combine(mode: str) -> None:
    text = "User-Agent: *\nContent-Usage: train-ai=n\n"
    parsed, rules = robots_rules(text)
    combined = header_reasons(
        {"Content-Usage": "train-ai=y"}, mode=mode
    ) + rules.evaluate(BASE + "/x", True, mode=mode)
    assert verdict(combined) == RESERVED


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(STRICT, id="A10-content-usage-identical-paths-most-restrictive"),
        pytest.param(RFC, id="A10-content-usage-identical-paths-most-restrictive-rfc"),
    ],
)
def test_a10_identical_paths_most_restrictive(mode: str) -> None:
    text = (
        "User-Agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n"
    )
    assert robots_verdict(text, "/a/page", mode) == RESERVED


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(
            RFC, UNAVAILABLE, id="A11-content-usage-specific-group-shadows-star-rfc"
        ),
        pytest.param(
            STRICT,
            RESERVED,
            id="A11-content-usage-star-group-read-when-ours-silent-strict",
        ),
    ],
)
def test_a11_group_selection(mode: str, expected: str) -> None:
    assert robots_verdict(A11, "/page", mode, tokens=("MyBot",)) == expected


def test_a11_rfc9309_grouping_only_via_from_robots() -> None:
    # middlewares.readers.robots keeps "*" and "MyBot" in one group (Content-Usage does
    # not end a user-agent run there), so from_robots sees the rule as MyBot's.
    rules = ContentUsageRules.from_robots(robots.parse(A11), ("MyBot",))
    assert verdict(rules.evaluate(BASE + "/x", True, mode=RFC)) == RESERVED


def test_r12_strict_honours_reservation_from_either_grouping() -> None:
    text = "User-agent: A\nContent-Usage: train-ai=n\nUser-agent: B\nAllow: /\n"
    rules = ContentUsageRules.parse(text, ("B",))
    assert verdict(rules.evaluate(BASE + "/x", True, mode=RFC)) == UNAVAILABLE
    (reason,) = rules.evaluate(BASE + "/x", True, mode=STRICT)
    assert reason.verdict == RESERVED and "RFC 9309 grouping" in reason.detail
    assert reason.rule == "line 2: Content-Usage: train-ai=n"


def test_a11_star_reason_says_where_it_came_from() -> None:
    parsed, rules = robots_rules(A11, ("mybot",))
    (reason,) = rules.evaluate(BASE + "/x", True)
    assert (
        "* group" in reason.detail
        and reason.rule == "line 2: Content-Usage: train-ai=n"
    )


def test_our_group_decides_over_star_when_it_speaks() -> None:
    text = (
        "User-Agent: *\nContent-Usage: train-ai=n\n\nUser-Agent: MyBot\n"
        "Content-Usage: train-ai=y\n"
    )
    assert robots_verdict(text, "/x", STRICT, ("MyBot",)) == PERMITTED


def test_strict_skips_specific_rule_silent_on_purpose() -> None:
    text = "User-Agent: *\nContent-Usage: train-ai=n\nContent-Usage: /news/ search=y\n"
    assert robots_verdict(text, "/news/1", STRICT) == RESERVED
    assert robots_verdict(text, "/news/1", RFC) == UNAVAILABLE
    assert robots_verdict(text, "/news/1", RFC, purpose=SEARCH) == PERMITTED


def test_rule_parsing() -> None:
    rule = parse_rule("/a/b train-ai=n, search=y", 7)
    assert (
        rule is not None
        and rule.path == "/a/b"
        and rule.prefs.labels == {"train-ai": "n", "search": "y"}
    )
    rule = parse_rule("train-ai=n")
    assert rule is not None and rule.path == "" and rule.priority == 1
    rule = parse_rule("/only-a-path")
    assert rule is not None and rule.prefs.labels == {}
    assert Preferences.parse("Train-AI=n").error


def test_rules_in_robots_do_not_break_groups() -> None:
    text = "User-agent: A\nContent-Usage: train-ai=n\nUser-agent: B\nDisallow: /\n"
    parsed, rules = robots_rules(text, ("A",))
    assert not parsed.match(BASE + "/x", ("A",)).allowed  # R12: A and B share the group
    assert verdict(rules.evaluate(BASE + "/x", False)) == UNAVAILABLE


def test_no_robots() -> None:
    rules = ContentUsageRules.from_robots(None)
    assert verdict(rules.evaluate(BASE)) == UNAVAILABLE
    assert verdict(header_reasons(None)) == UNAVAILABLE


ROBOTS_FILES = sorted((REAL_WEB / "robots").glob("*.txt"))


@pytest.mark.parametrize("path", ROBOTS_FILES, ids=lambda p: p.name)
def test_real_robots_files(path) -> None:
    robots.parse(path.read_bytes(), limit=500 * 1024)
    for tokens in ((), ("tdmguard",), ("GPTBot",), ("Scrapy",)):
        rules = ContentUsageRules.parse(
            path.read_bytes(), tokens, "https://x/robots.txt"
        )
        for url in ("https://x/", "https://x/news/a?b=1", "https://x/%E2%82%AC"):
            for mode in (STRICT, RFC):
                # No real file carries a Content-Usage line (robots/README.md).
                assert verdict(rules.evaluate(url, True, mode=mode)) == UNAVAILABLE


@FUZZ
@given(headers=st.one_of(HEADERS, SIGNAL_HEADERS), mode=MODES, purpose=PURPOSES)
def test_fuzz_header(headers, mode, purpose) -> None:
    assert_reasons(header_reasons(headers, purpose, mode))


_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "User-agent: *",
                "User-agent: MyBot",
                "Allow: /",
                "Disallow: /x/",
                "Disallow: /",
            ]
        ),
        SIGNAL_TEXT.map(lambda v: f"Content-Usage: {v}"),
        st.text(max_size=40).map(lambda v: f"Content-Usage: {v}"),
    ),
    max_size=10,
).map("\n".join)


@FUZZ
@given(
    text=st.one_of(_LINES, BODIES),
    url=st.text(max_size=40),
    crawlable=st.booleans(),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_robots(text, url, crawlable, mode, purpose) -> None:
    parsed = robots.parse(text)
    for tokens in ((), ("MyBot",)):
        for rules in (
            ContentUsageRules.from_robots(parsed, tokens),
            ContentUsageRules.parse(text, tokens),
        ):
            assert_reasons(rules.evaluate(url, crawlable, purpose, mode))
