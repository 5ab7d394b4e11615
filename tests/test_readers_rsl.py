"""RSL reader: protocols.md §7 vectors L1-L7, discovery, real robots, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import htmlhead, robots
from tdmguard.middlewares.readers.rsl import (
    RslDocument,
    discover,
    evaluate_all,
    inline_documents,
    parse_link_header,
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
    DATA,
    FUZZ,
    HEADERS,
    MODES,
    PURPOSES,
    REAL_WEB,
    SIGNAL_HEADERS,
    assert_reasons,
    verdict,
)

LICENSE_URL = "https://ex.example/license.xml"
PAGE = "https://ex.example/articles/1"


def licence(body: str, status: int = 200, url: str = LICENSE_URL) -> RslDocument:
    return RslDocument.parse(body.encode(), status, url)


def rsl(*licenses: str, content: str = 'url="/"') -> str:
    inner = "".join(f"<license>{lic}</license>" for lic in licenses)
    return (
        '<rsl xmlns="https://rslstandard.org/rsl">'
        f"<content {content}>{inner}</content></rsl>"
    )


L1_ROBOTS = "License: https://ex.example/license.xml\n\nUser-agent: *\nAllow: /\n"

VECTORS = [
    pytest.param(
        rsl('<prohibits type="usage">ai-train</prohibits>'),
        STRICT,
        RESERVED,
        id="L1-rsl-prohibits-ai-train",
    ),
    pytest.param(
        rsl('<prohibits type="usage">ai-train</prohibits>'),
        RFC,
        RESERVED,
        id="L1-rsl-prohibits-ai-train-rfc",
    ),
    pytest.param(
        rsl('<prohibits type="usage">ai-all</prohibits>'),
        STRICT,
        RESERVED,
        id="L2-rsl-prohibits-ai-all",
    ),
    pytest.param(
        rsl('<prohibits type="usage">ai-all</prohibits>'),
        RFC,
        RESERVED,
        id="L2-rsl-prohibits-ai-all-rfc",
    ),
    pytest.param(
        rsl('<permits type="usage">ai-train</permits><payment type="free"/>'),
        STRICT,
        PERMITTED,
        id="L3-rsl-permits-ai-train-free",
    ),
    pytest.param(
        rsl('<permits type="usage">ai-train</permits><payment type="free"/>'),
        RFC,
        PERMITTED,
        id="L3-rsl-permits-ai-train-free-rfc",
    ),
    pytest.param(
        rsl(
            '<permits type="usage">ai-train</permits><payment type="training">'
            '<amount currency="USD">5</amount></payment>'
        ),
        STRICT,
        RESERVED,
        id="L4-rsl-paid-training-licence-needed",
    ),
    pytest.param(
        rsl(
            '<permits type="usage">ai-train</permits><payment type="training">'
            '<amount currency="USD">5</amount></payment>'
        ),
        RFC,
        RESERVED,
        id="L4-rsl-paid-training-licence-needed-rfc",
    ),
    pytest.param(
        rsl(
            '<permits type="usage">all</permits><payment type="free"/>',
            content='url="/" server="https://ls.example"',
        ),
        STRICT,
        RESERVED,
        id="L5-rsl-server-must-obtain-licence",
    ),
    pytest.param(
        rsl(
            '<permits type="usage">all</permits><payment type="free"/>',
            content='url="/" server="https://ls.example"',
        ),
        RFC,
        RESERVED,
        id="L5-rsl-server-must-obtain-licence-rfc",
    ),
]


@pytest.mark.parametrize(("body", "mode", "expected"), VECTORS)
def test_vectors(body: str, mode: str, expected: str) -> None:
    robots_txt = robots.parse(L1_ROBOTS)
    (ref,) = discover(robots=robots_txt, base_url="https://ex.example/robots.txt")
    assert (
        ref.url == LICENSE_URL
        and ref.rule == "line 1: license: https://ex.example/license.xml"
    )
    doc = licence(body, url=ref.url)
    reasons = evaluate_all([doc], PAGE, TRAIN_AI, mode)
    assert verdict(reasons) == expected


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param("", 404, id="L6-rsl-licence-404-fails-closed"),
        pytest.param("", 503, id="L6-rsl-licence-503-fails-closed"),
        pytest.param("", None, id="L6-rsl-licence-no-response"),
        pytest.param(
            "<rsl xmlns='https://rslstandard.org/rsl'><content url='/'>",
            200,
            id="L6-rsl-licence-invalid-xml",
        ),
        pytest.param(
            "<html><body>Not found</body></html>", 200, id="L6-rsl-licence-not-rsl"
        ),
        pytest.param(
            '<!DOCTYPE r [<!ENTITY a "aaaa">]><rsl>&a;</rsl>',
            200,
            id="L6-rsl-licence-dtd-refused",
        ),
    ],
)
@BOTH
def test_l6_unreadable_licence_fails_closed(
    body: str, status: int | None, mode: str
) -> None:
    assert (
        verdict(evaluate_all([licence(body, status)], PAGE, TRAIN_AI, mode))
        == UNREADABLE
    )


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(STRICT, id="L7-rsl-no-licence-declared"),
        pytest.param(RFC, id="L7-rsl-no-licence-declared-rfc"),
    ],
)
def test_l7_no_licence_declared(mode: str) -> None:
    parsed = robots.parse("User-agent: *\nAllow: /\n")
    assert (
        discover(
            robots=parsed,
            headers={
                "Link": '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
            },
        )
        == []
    )
    assert verdict(evaluate_all([], PAGE, TRAIN_AI, mode)) == UNAVAILABLE


def test_l1_fixture_file_for_each_purpose() -> None:
    doc = RslDocument.parse(
        (DATA / "rsl-prohibits-ai-train.xml").read_bytes(), 200, LICENSE_URL
    )
    assert verdict(doc.evaluate(PAGE, TRAIN_AI)) == RESERVED
    assert verdict(doc.evaluate(PAGE, SEARCH)) == RESERVED  # pay per crawl, not held
    assert verdict(doc.evaluate(PAGE, SEARCH, held=[LICENSE_URL])) == PERMITTED
    assert (
        verdict(doc.evaluate(PAGE, AI_INPUT, held=[LICENSE_URL])) == RESERVED
    )  # not in permits


def test_held_licences_lift_payment_and_server() -> None:
    doc = licence(
        rsl('<permits type="usage">ai-train</permits><payment type="training"/>')
    )
    assert verdict(doc.evaluate(PAGE, held={LICENSE_URL})) == PERMITTED
    server = licence(
        rsl(
            '<permits type="usage">all</permits>',
            content='url="/" server="https://ls.example"',
        )
    )
    assert verdict(server.evaluate(PAGE, held={"https://ls.example"})) == PERMITTED


@pytest.mark.parametrize(
    ("path", "purpose", "expected"),
    [
        ("/articles/1", TRAIN_AI, RESERVED),  # "/" with a licence server
        ("/open/dataset", TRAIN_AI, PERMITTED),  # the free carve-out holds
        ("/research/paper", TRAIN_AI, RESERVED),  # paid, licence server
        ("/news/today", SEARCH, PERMITTED),  # full-URL content, every user class
        ("/news/today", TRAIN_AI, RESERVED),  # permits lists search only
    ],
)
@BOTH
def test_most_specific_content_decides(
    path: str, purpose: str, expected: str, mode: str
) -> None:
    doc = RslDocument.parse((DATA / "rsl-sections.xml").read_bytes(), 200, LICENSE_URL)
    assert verdict(doc.evaluate("https://ex.example" + path, purpose, mode)) == expected


def test_full_url_content_checks_the_host() -> None:
    doc = RslDocument.parse((DATA / "rsl-sections.xml").read_bytes(), 200, LICENSE_URL)
    (reason,) = doc.evaluate("https://other.example/news/today", SEARCH)
    assert "content #1" in reason.rule  # falls back to the "/" content


@pytest.mark.parametrize(
    ("user", "strict", "rfc"),
    [
        (None, RESERVED, PERMITTED),
        ("commercial", RESERVED, RESERVED),
        ("education", PERMITTED, PERMITTED),
    ],
)
def test_user_conditions(user: str | None, strict: str, rfc: str) -> None:
    doc = licence(
        rsl(
            '<permits type="usage">ai-train</permits>'
            '<permits type="user">education non-commercial</permits>'
        )
    )
    assert verdict(doc.evaluate(PAGE, TRAIN_AI, STRICT, user=user)) == strict
    assert verdict(doc.evaluate(PAGE, TRAIN_AI, RFC, user=user)) == rfc


def test_alternative_licences() -> None:
    both = licence(
        rsl(
            '<prohibits type="usage">ai-train</prohibits>',
            '<permits type="usage">ai-train</permits>',
        )
    )
    assert verdict(both.evaluate(PAGE, mode=RFC)) == PERMITTED
    assert verdict(both.evaluate(PAGE, mode=STRICT)) == RESERVED
    paid_or_free = licence(
        rsl(
            '<permits type="usage">search</permits><payment type="crawl"/>',
            '<permits type="usage">ai-train</permits><payment type="free"/>',
        )
    )
    assert verdict(paid_or_free.evaluate(PAGE)) == PERMITTED


def test_no_matching_content_and_no_licence_terms() -> None:
    assert (
        verdict(licence(rsl(content='url="/private/"')).evaluate(PAGE)) == UNAVAILABLE
    )
    assert verdict(licence(rsl(content='url="/"')).evaluate(PAGE)) == UNAVAILABLE


def test_discovery_from_link_headers_and_html() -> None:
    headers = [
        (
            "Link",
            '<https://ex.example/a.xml>; rel="license"; '
            'type="application/rsl+xml", <https://x/next>; rel=next',
        ),
        ("link", '</b.xml>; rel="license alternate"; type="application/rsl+xml"'),
        ("Link", '<https://ex.example/c.xml>; rel=license; type="text/html"'),
        ("Link", "<broken"),
    ]
    head = htmlhead.scan(
        '<link rel="license" type="application/rsl+xml" href="/c/license.rsl">'
    )
    refs = discover(headers=headers, head=head, base_url="https://ex.example/page")
    assert [r.url for r in refs] == [
        "https://ex.example/a.xml",
        "https://ex.example/b.xml",
        "https://ex.example/c/license.rsl",
    ]
    assert [r.source for r in refs] == [
        "Link header",
        "Link header",
        'link rel="license"',
    ]


def test_parse_link_header() -> None:
    assert parse_link_header('<a>; rel="x\\"y"; type=t, <b>;rel=z') == [
        ("a", {"rel": 'x"y', "type": "t"}),
        ("b", {"rel": "z"}),
    ]
    assert parse_link_header('<a>; rel="unterminated') == [
        ("a", {"rel": '"unterminated'})
    ]
    assert parse_link_header("no links here") == []


def test_inline_licence_in_head() -> None:
    head = htmlhead.scan(
        '<head><script type="application/rsl+xml">'
        + rsl('<prohibits type="usage">all</prohibits>')
        + "</script></head>"
    )
    (doc,) = inline_documents(head, PAGE)
    assert verdict(doc.evaluate(PAGE)) == RESERVED


def test_rss_feed_with_rsl_module() -> None:
    feed = (
        '<rss version="2.0" xmlns:rsl="https://rslstandard.org/rsl"><channel><item>'
        '<rsl:content url="/articles/*"><rsl:license>'
        '<rsl:prohibits type="usage">ai-train</rsl:prohibits>'
        "</rsl:license></rsl:content></item></channel></rss>"
    )
    assert verdict(licence(feed).evaluate(PAGE)) == RESERVED


ROBOTS_FILES = sorted((REAL_WEB / "robots").glob("*.txt"))


@pytest.mark.parametrize("path", ROBOTS_FILES, ids=lambda p: p.name)
def test_real_robots_discovery(path) -> None:
    refs = discover(
        robots=robots.parse(path.read_bytes()), base_url="https://x/robots.txt"
    )
    assert refs == []  # no real file in the collection declares an RSL licence


@FUZZ
@given(
    body=st.one_of(BODIES, st.text(max_size=600)),
    status=st.one_of(st.none(), st.integers(100, 599)),
    url=st.text(max_size=40),
    mode=MODES,
    purpose=PURPOSES,
    user=st.one_of(st.none(), st.text(max_size=10)),
)
def test_fuzz_document(body, status, url, mode, purpose, user) -> None:
    doc = RslDocument.parse(body, status, LICENSE_URL)
    assert_reasons(
        doc.evaluate(url, purpose, mode, held=[LICENSE_URL], user=user, geo=user)
    )


_TOKENS = st.lists(
    st.sampled_from(
        [
            "all",
            "ai-all",
            "ai-train",
            "ai-input",
            "ai-index",
            "search",
            "x",
            "commercial",
            "DE",
        ]
    ),
    max_size=3,
).map(" ".join)
_LICENSE = st.tuples(
    st.sampled_from(["permits", "prohibits"]),
    st.sampled_from(["usage", "user", "geo", ""]),
    _TOKENS,
).map(lambda t: f'<{t[0]} type="{t[1]}">{t[2]}</{t[0]}>')
_PAYMENT = st.sampled_from(
    ["", '<payment type="free"/>', '<payment type="crawl"/>', "<payment/>"]
)


@FUZZ
@given(
    parts=st.lists(st.tuples(st.lists(_LICENSE, max_size=3), _PAYMENT), max_size=3),
    url=st.sampled_from(
        [
            'url="/"',
            'url="/a*$"',
            'url="https://ex.example/*"',
            'url=""',
            'url="/" server="s"',
        ]
    ),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_structures(parts, url, mode, purpose) -> None:
    doc = licence(rsl(*["".join(lic) + pay for lic, pay in parts], content=url))
    assert doc.state == "ok"
    assert_reasons(doc.evaluate(PAGE, purpose, mode))


@FUZZ
@given(
    headers=st.one_of(HEADERS, SIGNAL_HEADERS),
    html=st.one_of(st.none(), st.text(max_size=200)),
    base=st.text(max_size=30),
)
def test_fuzz_discover(headers, html, base) -> None:
    head = htmlhead.scan(html) if html is not None else None
    refs = discover(robots.parse(html or ""), headers, head, base)
    assert isinstance(refs, list)
