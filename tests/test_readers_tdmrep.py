"""TDMRep reader: protocols.md §2 vectors T1-T10, real files, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import htmlhead
from tdmguard.middlewares.readers.tdmrep import (
    Statement,
    TdmRepFile,
    header_statements,
    meta_statements,
    resolve,
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
    UNREADABLE,
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

URL = "https://ex.example"


def tdm_file(rules: object, status: int = 200) -> TdmRepFile:
    return TdmRepFile.parse(
        json.dumps(rules).encode(), status, f"{URL}/.well-known/tdmrep.json"
    )


ROOT_1 = [{"location": "/", "tdm-reservation": 1}]
T3 = [{"location": "/directory-b/images/*.jpg", "tdm-reservation": 0}]
T4 = [
    {"location": "/", "tdm-reservation": 0},
    {"location": "/private/", "tdm-reservation": 1},
]

VECTORS = [
    pytest.param(
        TdmRepFile.parse(b"", 404),
        {},
        None,
        "/any",
        STRICT,
        UNAVAILABLE,
        id="T1-tdmrep-404-unset",
    ),
    pytest.param(
        TdmRepFile.parse(b"", 404),
        {},
        None,
        "/any",
        RFC,
        UNAVAILABLE,
        id="T1-tdmrep-404-unset-rfc",
    ),
    pytest.param(
        tdm_file(ROOT_1),
        {},
        None,
        "/any/path?q=1",
        STRICT,
        RESERVED,
        id="T2-tdmrep-root-reserved",
    ),
    pytest.param(
        tdm_file(ROOT_1), {}, None, "/", RFC, RESERVED, id="T2-tdmrep-root-reserved-rfc"
    ),
    pytest.param(
        tdm_file(T3),
        {},
        None,
        "/directory-b/images/a.jpg",
        STRICT,
        PERMITTED,
        id="T3-tdmrep-pattern-jpg-not-reserved",
    ),
    pytest.param(
        tdm_file(T3),
        {},
        None,
        "/directory-b/images/a.png",
        STRICT,
        UNAVAILABLE,
        id="T3-tdmrep-pattern-png-no-match-unset",
    ),
    pytest.param(
        tdm_file(T4),
        {},
        None,
        "/private/x",
        STRICT,
        PERMITTED,
        id="T4-tdmrep-matching-first-in-sequence",
    ),
    pytest.param(
        tdm_file(T4),
        {},
        None,
        "/private/x",
        RFC,
        PERMITTED,
        id="T4-tdmrep-matching-first-in-sequence-rfc",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "1"},
        None,
        "/x",
        STRICT,
        RESERVED,
        id="T5-tdmrep-header-reserved",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "yes"},
        None,
        "/x",
        STRICT,
        UNAVAILABLE,
        id="T6-tdmrep-header-yes-protocol-error",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "true"},
        None,
        "/x",
        RFC,
        UNAVAILABLE,
        id="T6-tdmrep-header-true-protocol-error",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "2"},
        None,
        "/x",
        STRICT,
        UNAVAILABLE,
        id="T6-tdmrep-header-2-protocol-error",
    ),
    pytest.param(
        tdm_file(ROOT_1),
        {"tdm-reservation": "0"},
        None,
        "/x",
        RFC,
        PERMITTED,
        id="T7-tdmrep-header-supersedes-file-rfc",
    ),
    pytest.param(
        tdm_file(ROOT_1),
        {"tdm-reservation": "0"},
        None,
        "/x",
        STRICT,
        RESERVED,
        id="T7-tdmrep-strict-1-holds",
    ),
    pytest.param(
        tdm_file(ROOT_1),
        {"content-type": "text/html"},
        None,
        "/x",
        STRICT,
        RESERVED,
        id="T8-tdmrep-absence-does-not-reset",
    ),
    pytest.param(
        tdm_file(ROOT_1),
        {},
        None,
        "/x",
        RFC,
        RESERVED,
        id="T8-tdmrep-absence-does-not-reset-rfc",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "0"},
        '<meta name="tdm-reservation" content="1">',
        "/x",
        RFC,
        RESERVED,
        id="T9-tdmrep-meta-supersedes-header-rfc",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "0"},
        '<meta name="tdm-reservation" content="1">',
        "/x",
        STRICT,
        RESERVED,
        id="T9-tdmrep-meta-supersedes-header",
    ),
    pytest.param(
        None,
        {"tdm-reservation": "0", "tdm-policy": "https://ex.example/policy.json"},
        None,
        "/x",
        STRICT,
        PERMITTED,
        id="T10-tdmrep-0-with-policy-not-reserved",
    ),
]


@pytest.mark.parametrize(
    ("file", "headers", "html", "path", "mode", "expected"), VECTORS
)
def test_vectors(file, headers, html, path, mode, expected) -> None:
    head = htmlhead.scan(html) if html else None
    reasons = resolve(URL + path, file, headers, head, purpose=TRAIN_AI, mode=mode)
    assert len(reasons) == 1
    assert verdict(reasons) == expected, reasons


def test_t4_longest_match_reading_is_logged_and_selectable() -> None:
    file = tdm_file(T4)
    (reason,) = file.evaluate(URL + "/private/x")
    assert "longest-match reading would pick rule #2 (1)" in reason.detail
    assert verdict(file.evaluate(URL + "/private/x", matching="longest")) == RESERVED
    assert verdict(file.evaluate(URL + "/public")) == PERMITTED


def test_t10_policy_is_recorded_not_processed() -> None:
    (reason,) = resolve(
        URL, None, {"tdm-reservation": "0", "tdm-policy": "https://ex.example/p.json"}
    )
    assert "tdm-policy: https://ex.example/p.json" in reason.rule
    assert "not processed" in reason.detail


def test_file_rule_reason_names_rule_index_and_policy() -> None:
    file = tdm_file(
        [
            {"location": "/a/", "tdm-reservation": 0},
            {
                "location": "/b/",
                "tdm-reservation": 1,
                "tdm-policy": "https://p.example/x",
            },
        ]
    )
    (reason,) = file.evaluate(URL + "/b/page")
    assert reason.verdict == RESERVED
    assert reason.rule.startswith("tdmrep.json rule #2: ")
    assert reason.source == f"{URL}/.well-known/tdmrep.json"
    assert "https://p.example/x" in reason.detail


# -- file fetch results (the spec is silent on errors) ------------------------------


@pytest.mark.parametrize(
    ("body", "status", "strict", "rfc"),
    [
        pytest.param(b"", 404, UNAVAILABLE, UNAVAILABLE, id="404-not-implemented"),
        pytest.param(b"", 410, UNAVAILABLE, UNAVAILABLE, id="410-not-implemented"),
        pytest.param(b"", 403, UNAVAILABLE, UNAVAILABLE, id="403-not-implemented"),
        pytest.param(b"", 503, UNREADABLE, UNAVAILABLE, id="503-fail-closed-in-strict"),
        pytest.param(b"", 429, UNREADABLE, UNAVAILABLE, id="429-like-5xx"),
        pytest.param(b"", None, UNREADABLE, UNAVAILABLE, id="no-response"),
        pytest.param(b"[{,]", 200, UNREADABLE, UNAVAILABLE, id="invalid-json"),
        pytest.param(
            b'{"location": "/", "tdm-reservation": 1}',
            200,
            UNREADABLE,
            UNAVAILABLE,
            id="not-an-array",
        ),
        pytest.param(b"\xff\xfe[]", 200, UNREADABLE, UNAVAILABLE, id="not-utf8"),
        pytest.param(b"[" * 100000, 200, UNREADABLE, UNAVAILABLE, id="deep-nesting"),
        pytest.param(
            b"<!doctype html><title>Not found</title>",
            200,
            UNAVAILABLE,
            UNAVAILABLE,
            id="soft-404-html",
        ),
        pytest.param(
            b'\xef\xbb\xbf[{"location":"/","tdm-reservation":1}]',
            200,
            RESERVED,
            RESERVED,
            id="utf8-bom-accepted",
        ),
        pytest.param(b"[]", 200, UNAVAILABLE, UNAVAILABLE, id="empty-array"),
    ],
)
def test_file_fetch_results(
    body: bytes, status: int | None, strict: str, rfc: str
) -> None:
    file = TdmRepFile.parse(body, status, "https://ex.example/.well-known/tdmrep.json")
    assert verdict(file.evaluate(URL + "/x", mode=STRICT)) == strict
    assert verdict(file.evaluate(URL + "/x", mode=RFC)) == rfc


def test_soft_404_can_be_switched_off() -> None:
    file = TdmRepFile.parse(b"<html></html>", 200, soft_404_html=False)
    assert file.state == "error"
    assert verdict(file.evaluate(URL)) == UNREADABLE


def test_bad_entries_are_skipped_and_counted() -> None:
    rules = [
        "string",
        3,
        None,
        {"location": "/a/"},
        {"tdm-reservation": 1},
        {"location": "/b/", "tdm-reservation": "1"},
        {"location": "/c/", "tdm-reservation": True},
        {"location": "/d/", "tdm-reservation": 2},
        {"location": "", "tdm-reservation": 1},
        {"location": "/e/", "tdm-reservation": 1},
    ]
    file = tdm_file(rules)
    assert file.skipped == 9 and len(file.rules) == 1
    assert verdict(file.evaluate(URL + "/b/x")) == UNAVAILABLE
    (reason,) = file.evaluate(URL + "/e/x")
    assert reason.verdict == RESERVED and "9 invalid rule(s)" in reason.detail


def test_matching_is_case_sensitive_and_percent_normalised() -> None:
    file = tdm_file([{"location": "/Private/%7Euser/", "tdm-reservation": 1}])
    assert verdict(file.evaluate(URL + "/Private/~user/x")) == RESERVED
    assert verdict(file.evaluate(URL + "/private/~user/x")) == UNAVAILABLE
    dollar = tdm_file([{"location": "/doc.pdf$", "tdm-reservation": 1}])
    assert verdict(dollar.evaluate(URL + "/doc.pdf")) == RESERVED
    assert verdict(dollar.evaluate(URL + "/doc.pdf?x=1")) == UNAVAILABLE


def test_strict_file_error_is_not_lifted_by_header_zero() -> None:
    file = TdmRepFile.parse(b"", 500)
    assert (
        verdict(resolve(URL, file, {"tdm-reservation": "0"}, mode=STRICT)) == UNREADABLE
    )
    assert verdict(resolve(URL, file, {"tdm-reservation": "0"}, mode=RFC)) == PERMITTED
    assert (
        verdict(resolve(URL, file, {"tdm-reservation": "1"}, mode=STRICT)) == RESERVED
    )


# -- headers, meta, embedded ----------------------------------------------------------


def test_header_names_case_insensitive_and_trimmed() -> None:
    for headers in (
        {"TDM-Reservation": "  1 "},
        [(b"tdm-RESERVATION", b"1")],
        {b"Tdm-Reservation": [b"1"]},
    ):
        assert verdict(resolve(URL, None, headers)) == RESERVED


def test_several_header_lines() -> None:
    assert (
        header_statements([("tdm-reservation", "1"), ("tdm-reservation", "1")])[
            0
        ].reservation
        == 1
    )
    assert (
        header_statements([("tdm-reservation", "1"), ("tdm-reservation", "0")], RFC)[
            0
        ].reservation
        is None
    )
    assert (
        header_statements([("tdm-reservation", "0"), ("tdm-reservation", "1")], STRICT)[
            0
        ].reservation
        == 1
    )
    assert header_statements({"tdm-reservation": "1, 1"}, RFC)[0].reservation is None
    assert header_statements({"tdm-policy": "https://x"}) == []


def test_protocol_error_does_not_reset_earlier_value() -> None:
    assert (
        verdict(resolve(URL, tdm_file(ROOT_1), {"tdm-reservation": "maybe"}, mode=RFC))
        == RESERVED
    )


def test_embedded_supersedes_meta_in_rfc_mode() -> None:
    head = htmlhead.scan('<meta name="tdm-reservation" content="1">')
    epub = Statement(0, None, "OPF: <meta ...>", "EPUB OPF", "epub")
    assert verdict(resolve(URL, None, None, head, [epub], mode=RFC)) == PERMITTED
    assert verdict(resolve(URL, None, None, head, [epub], mode=STRICT)) == RESERVED


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [(TRAIN_AI, RESERVED), (AI_INPUT, RESERVED), (SEARCH, UNAVAILABLE)],
)
def test_purpose_mapping(purpose: str, expected: str) -> None:
    assert verdict(tdm_file(ROOT_1).evaluate(URL, purpose=purpose)) == expected
    assert (
        verdict(TdmRepFile.parse(b"", 503).evaluate(URL, purpose=SEARCH)) == UNAVAILABLE
    )


# -- real files ------------------------------------------------------------------------

WELL_KNOWN = sorted((REAL_WEB / "tdmrep" / "well-known").glob("*.json"))


@pytest.mark.parametrize("path", WELL_KNOWN, ids=lambda p: p.name)
@BOTH
def test_real_well_known_files_never_crash(path, mode) -> None:
    file = TdmRepFile.parse(path.read_bytes(), 200, f"https://{path.name}")
    for url_path in (
        "/",
        "/index.html",
        "/dpa-x",
        "/scope-y/z",
        "/andemafenuka/a",
        "/a%20b?c",
    ):
        assert_reasons(file.evaluate(URL + url_path, mode=mode))


@pytest.mark.parametrize(
    ("name", "path", "strict", "rfc"),
    [
        ("itcop.org", "/anything", RESERVED, RESERVED),
        ("healsdata.ai-training-opt-out", "/", RESERVED, RESERVED),
        ("xlr8harder.github.io", "/posts/1", PERMITTED, PERMITTED),
        ("regenstudio.world", "/dpa-guide", RESERVED, RESERVED),
        ("regenstudio.world", "/scope-3/x", RESERVED, RESERVED),
        ("regenstudio.world", "/articles/x", PERMITTED, PERMITTED),
        ("bookednow.co.za", "/andemafenuka/x", RESERVED, RESERVED),
        ("bookednow.co.za", "/other", UNAVAILABLE, UNAVAILABLE),
        ("stamboom.harriedegroot", "/tree", RESERVED, RESERVED),
        ("janpetrlik.com", "/", UNREADABLE, UNAVAILABLE),  # object, not array
        ("byron.cad-polito-it", "/", UNREADABLE, UNAVAILABLE),  # not TDMRep at all
    ],
)
def test_real_well_known_verdicts(name: str, path: str, strict: str, rfc: str) -> None:
    file = TdmRepFile.parse(
        (REAL_WEB / "tdmrep" / "well-known" / f"{name}.tdmrep.json").read_bytes()
    )
    assert verdict(file.evaluate(URL + path, mode=STRICT)) == strict
    assert verdict(file.evaluate(URL + path, mode=RFC)) == rfc


def test_real_html_heads() -> None:
    html = REAL_WEB / "tdmrep" / "html"
    sd = htmlhead.scan(
        (html / "sciencedirect.com.S1361841524003281.head-excerpt.html").read_bytes()
    )
    (reason,) = resolve(URL, None, None, sd)
    assert reason.verdict == RESERVED
    assert "elsevier.com/tdm/tdmrep-policy.json" in reason.detail
    assert reason.rule.startswith("line 24:")
    itcop = htmlhead.scan((html / "itcop.org.head-metadata.html").read_bytes())
    assert verdict(resolve(URL, None, None, itcop)) == RESERVED
    regen = htmlhead.scan(
        (html / "regenstudio.world.article-template.excerpt.html").read_bytes()
    )
    assert verdict(resolve(URL, None, None, regen)) == PERMITTED
    # The same site's file reserves /dpa-*: meta 0 lifts it only in rfc mode.
    file = TdmRepFile.parse(
        (
            REAL_WEB / "tdmrep" / "well-known" / "regenstudio.world.tdmrep.json"
        ).read_bytes()
    )
    assert verdict(resolve(URL + "/dpa-x", file, None, regen, mode=RFC)) == PERMITTED
    assert verdict(resolve(URL + "/dpa-x", file, None, regen, mode=STRICT)) == RESERVED


def test_real_observed_headers() -> None:
    text = (
        REAL_WEB / "tdmrep" / "headers" / "elsevier.observed-response-headers.txt"
    ).read_text()
    blocks = text.split("## 2.")
    first = [
        tuple(x.strip() for x in line.split(":", 1))
        for line in blocks[0].splitlines()
        if ":" in line and not line.startswith("#")
    ]
    second = [
        tuple(x.strip() for x in line.split(":", 1))
        for line in blocks[1].splitlines()
        if ":" in line and not line.startswith("#")
    ]
    assert verdict(resolve(URL, None, first)) == RESERVED
    (reason,) = resolve(URL, None, second)  # tdm-policy without tdm-reservation
    assert reason.verdict == UNAVAILABLE
    netlify = (REAL_WEB / "tdmrep" / "headers" / "itcop.org._headers").read_text()
    block = [
        tuple(x.strip() for x in line.split(":", 1))
        for line in netlify.split("\n\n")[0].splitlines()[1:]
    ]
    assert verdict(resolve(URL, None, block)) == RESERVED


def test_meta_statements_from_real_head() -> None:
    head = htmlhead.scan(
        (REAL_WEB / "tdmrep" / "html" / "itcop.org.head-metadata.html").read_bytes()
    )
    (statement,) = meta_statements(head)
    assert (
        statement.reservation == 1
        and statement.policy == "https://itcop.org/licence/0pn-mrt-1.0.json"
    )


# -- fuzzing ---------------------------------------------------------------------------


@FUZZ
@given(
    body=BODIES,
    status=st.one_of(st.none(), st.integers(100, 599)),
    url=st.text(max_size=60),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_file(body, status, url, mode, purpose) -> None:
    file = TdmRepFile.parse(body, status, "https://ex.example/.well-known/tdmrep.json")
    assert_reasons(file.evaluate(url, purpose, mode))
    assert_reasons(file.evaluate(url, purpose, mode, matching="longest"))


_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 3),
        st.floats(allow_nan=True),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)
_RULE = st.fixed_dictionaries(
    {
        "location": st.one_of(
            st.text(max_size=20),
            st.sampled_from(["/", "/*", "/a$", "*.jpg", "/%7e", "/a*b$"]),
        ),
        "tdm-reservation": st.one_of(st.sampled_from([0, 1]), _JSON),
    },
    optional={"tdm-policy": _JSON},
)


@FUZZ
@given(
    rules=st.lists(st.one_of(_RULE, _JSON), max_size=6),
    url=st.text(max_size=40),
    mode=MODES,
)
def test_fuzz_file_json_structures(rules, url, mode) -> None:
    file = TdmRepFile.parse(json.dumps(rules).encode(), 200)
    assert file.state == "ok"
    assert_reasons(file.evaluate("/" + url, mode=mode))


@FUZZ
@given(
    headers=st.one_of(HEADERS, SIGNAL_HEADERS),
    html=st.one_of(st.none(), st.text(max_size=300)),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_resolve(headers, html, mode, purpose) -> None:
    head = htmlhead.scan(html) if html is not None else None
    assert_reasons(
        resolve(
            "https://ex.example/x",
            tdm_file(ROOT_1),
            headers,
            head,
            purpose=purpose,
            mode=mode,
        )
    )
    assert_reasons(resolve("", None, headers, head, purpose=purpose, mode=mode))


def test_a_tdm_reservation_meta_misplaced_in_the_body_holds_in_strict_mode_only() -> None:
    head = htmlhead.scan(b'<html><head><title>t</title></head><body>'
                         b'<meta name="tdm-reservation" content="1"></body></html>')
    assert verdict(resolve("http://x.example/a", None, None, head)) == RESERVED
    assert verdict(resolve("http://x.example/a", None, None, head, mode=RFC)) == UNAVAILABLE
