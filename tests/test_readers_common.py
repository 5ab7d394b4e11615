"""Shared reader helpers: header access, the purpose table, the verdict order.

Also holds the helpers and hypothesis strategies the other
``test_readers_*`` files import.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tdmguard.middlewares.readers import INTERNAL_ERROR, PROTOCOLS, strongest
from tdmguard.middlewares.readers._common import TABLE, covers, header_values, labels
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
    Reason,
)

from .conftest import REAL_WEB, ROOT  # noqa: F401  (REAL_WEB: re-exported to the reader tests)

DATA = Path(__file__).resolve().parent / "data" / "readers"
BOTH = pytest.mark.parametrize("mode", [STRICT, RFC])

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_scalar = st.one_of(st.text(max_size=80), st.binary(max_size=80))
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), st.none(), st.integers())
_names = st.sampled_from(
    [
        "tdm-reservation",
        "TDM-Reservation",
        b"tdm-policy",
        "Content-Usage",
        b"content-signal",
        "X-Robots-Tag",
        b"X-Robots-Tag",
        "robots-tag",
        "Link",
        b"link",
        "Content-Type",
    ]
)
_name = st.one_of(_names, _scalar)
#: Header collections in every shape a caller might pass.
HEADERS = st.one_of(
    st.none(),
    st.dictionaries(_name, _value, max_size=6),
    st.lists(st.tuples(_name, _scalar), max_size=6),
    st.lists(
        st.one_of(st.tuples(_name, _scalar), _scalar, st.tuples(_scalar)), max_size=4
    ),
)
#: Header values built from the signal vocabulary, to reach deep code paths.
_WORDS = st.sampled_from(
    [
        "1",
        "0",
        " 1 ",
        "yes",
        "no",
        "NO",
        "y",
        "n",
        "train-ai",
        "search",
        "ai-train",
        "ai-input",
        "use",
        "reference",
        "noai",
        "noimageai",
        "noml",
        "noindex",
        "DisallowAITraining",
        "mybot",
        "*",
        "=",
        ",",
        ";",
        ":",
        '"',
        "?1",
        "ai",
        "bots",
        "<https://x.example/l.xml>",
        'rel="license"',
        'type="application/rsl+xml"',
        " ",
        "\t",
        "(",
        ")",
        "Train-AI",
        "%",
        "/",
        "/a/",
        "$",
    ]
)
SIGNAL_TEXT = st.lists(_WORDS, max_size=12).map("".join)
SIGNAL_HEADERS = st.dictionaries(
    _names, st.one_of(SIGNAL_TEXT, st.lists(SIGNAL_TEXT, max_size=3)), max_size=5
)
BODIES = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000).map(lambda s: s.encode("utf-8", "surrogatepass")),
)
MODES = st.sampled_from([STRICT, RFC, "bogus"])
PURPOSES = st.sampled_from([TRAIN_AI, SEARCH, AI_INPUT, "train-ai-nongen", "other"])


def assert_reasons(reasons: object) -> list[Reason]:
    """A reader answer: a non-empty list of Reason, our protocols, no safety net."""
    assert isinstance(reasons, list) and reasons
    for reason in reasons:
        assert isinstance(reason, Reason)
        assert reason.protocol in PROTOCOLS, reason
        assert not reason.detail.startswith(INTERNAL_ERROR), reason
        assert isinstance(reason.rule, str) and isinstance(reason.source, str)
    return reasons  # type: ignore[return-value]


def verdict(reasons: list[Reason]) -> str:
    return strongest(assert_reasons(reasons))


# -- tests of the shared module ------------------------------------------------------


def test_header_values_shapes() -> None:
    expected = [("tdm-reservation", "1")]
    assert header_values({"TDM-Reservation": " 1 "}, "tdm-reservation") == [
        ("TDM-Reservation", "1")
    ]
    assert header_values([(b"tdm-reservation", b"1")], "TDM-RESERVATION") == expected
    assert header_values({b"Tdm-Reservation": [b"1", b"0"]}, "tdm-reservation") == [
        ("Tdm-Reservation", "1"),
        ("Tdm-Reservation", "0"),
    ]
    assert header_values(None, "x") == []
    assert header_values("not headers", "x") == []
    assert header_values([("a",), 3, None], "a") == []


def test_header_values_latin1_is_lossless() -> None:
    assert header_values({"X": b"caf\xe9"}, "x") == [("X", "café")]


def test_scrapy_like_headers_object() -> None:
    class Headers(dict):  # the shape of scrapy.http.Headers: bytes keys, list values
        pass

    headers = Headers({b"X-Robots-Tag": [b"noai", b"mybot: noimageai"]})
    assert [v for _, v in header_values(headers, "x-robots-tag")] == [
        "noai",
        "mybot: noimageai",
    ]


def test_strongest_order() -> None:
    def r(v: str) -> Reason:
        return Reason("tdmrep", v)

    assert strongest([]) == UNAVAILABLE
    assert strongest([r(PERMITTED), r(UNAVAILABLE)]) == PERMITTED
    assert strongest([r(PERMITTED), r(UNREADABLE)]) == UNREADABLE
    assert strongest([r(UNREADABLE), r(RESERVED), r(PERMITTED)]) == RESERVED


def test_purpose_table_is_data() -> None:
    raw = json.loads((ROOT / "middlewares" / "data" / "purposes.json").read_text())
    assert raw == TABLE
    assert set(TABLE["purposes"]) >= {TRAIN_AI, SEARCH, AI_INPUT}
    for code, entry in TABLE["iptc"].items():
        if not code.startswith("_"):
            assert set(entry) == {"reserves", "permits"}, code


@pytest.mark.parametrize(
    ("protocol", "label", "purpose", "mode", "expected"),
    [
        ("content-signal", "ai-train", TRAIN_AI, STRICT, True),
        ("content-signal", "ai-train", SEARCH, STRICT, False),
        ("noai", "noai", SEARCH, STRICT, False),
        ("noai", "noai", AI_INPUT, RFC, True),
        ("tdmrep", "tdm-reservation", SEARCH, STRICT, False),
        ("tdmrep", "tdm-reservation", AI_INPUT, STRICT, True),
        ("content-usage-legacy", "bots", TRAIN_AI, RFC, False),
        ("content-usage-legacy", "bots", TRAIN_AI, STRICT, True),
        ("content-usage", "train-ai", "train-ai-nongen", RFC, False),
        ("content-usage", "train-ai", "train-ai-nongen", "unknown-mode", True),
    ],
)
def test_covers(
    protocol: str, label: str, purpose: str, mode: str, expected: bool
) -> None:
    assert covers(protocol, label, purpose, mode) is expected


def test_every_purpose_list_uses_known_purposes() -> None:
    known = set(TABLE["purposes"])
    for protocol in (
        "tdmrep",
        "content-usage",
        "content-usage-legacy",
        "content-signal",
        "noai",
        "disallow-ai-training",
        "policy-tokens",
        "rsl",
        "ai.txt",
        "c2pa",
    ):
        for label, modes in labels(protocol).items():
            for mode, purposes in modes.items():
                assert purposes <= known, (protocol, label, mode)
