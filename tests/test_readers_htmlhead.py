"""The head scanner: what it finds, where it stops, garbage it survives."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers.htmlhead import HEAD_LIMIT, Head, scan
from .test_readers_common import BODIES, FUZZ, REAL_WEB


def test_meta_and_link_attributes() -> None:
    head = scan(
        b"<!doctype html><html><head>\n"
        b"<META Name='TDM-Reservation' content=' 1 '>\n"
        b'<meta property=og:title content="A &amp; B">\n'
        b'<meta http-equiv="X-Robots-Tag" content="noai"/>\n'
        b'<link rel="License Alternate" type="application/rsl+xml; '
        b'charset=utf-8" href=" /license.xml ">\n'
        b"</head><body><meta name=robots content=noai></body>"
    )
    assert head.complete and not head.truncated
    assert [(m.key, m.content, m.attr, m.line) for m in head.metas] == [
        ("tdm-reservation", "1", "name", 2),
        ("og:title", "A & B", "property", 3),
        ("x-robots-tag", "noai", "http-equiv", 4),
    ]
    (link,) = head.rsl_links()
    assert (
        link.rel == ("license", "alternate")
        and link.href == "/license.xml"
        and link.line == 5
    )
    assert head.meta("ROBOTS") == []  # the body's meta is not read


def test_skips_comments_scripts_and_styles() -> None:
    head = scan(
        "<head><!-- <meta name=robots content=noai> -->"
        "<script>document.write('<meta name=robots content=noai></head>"
        "<body>')</script>"
        "<style>/* <meta name=robots content=noai> */</style>"
        "<title><meta name=robots content=noai></title>"
        "<meta name=robots content=noimageai></head>"
    )
    assert [m.content for m in head.meta("robots")] == ["noimageai"]


def test_inline_rsl_script_is_kept() -> None:
    head = scan(
        '<head><script type="application/rsl+xml">'
        '<rsl xmlns="https://rslstandard.org/rsl"/></script></head>'
    )
    (script,) = head.scripts
    assert script.text == '<rsl xmlns="https://rslstandard.org/rsl"/>'


def test_limit_and_truncation() -> None:
    body = (
        b"<head>"
        + b" " * (HEAD_LIMIT + 10)
        + b'<meta name="tdm-reservation" content="1">'
    )
    head = scan(body)
    assert head.truncated and head.meta("tdm-reservation") == []
    assert scan(body, limit=len(body)).meta("tdm-reservation")


def test_garbage_never_raises() -> None:
    for body in (
        None,
        b"",
        "<",
        "<meta",
        '<meta name="x',
        "<meta name='robots' content='noai",
        "<!--",
        "<script>",
        b"\xff\xfe<\x00m\x00",
        "<meta =x ==y name=robots content=noai>",
        "<<<>>>",
        "<meta/name/=/>",
    ):
        assert isinstance(scan(body), Head)
    assert scan("<meta name='robots' content='noai").meta("robots")[0].content == "noai"
    assert (
        scan("<meta =x ==y name=robots content=noai>").meta("robots")[0].content
        == "noai"
    )


def test_linear_time_on_hostile_input() -> None:
    for body in (
        '<meta a="' * 20000,
        "<" * 60000,
        "<meta " * 10000,
        "<!--" * 15000,
        "<script>" * 8000,
    ):
        start = time.perf_counter()
        scan(body)
        assert time.perf_counter() - start < 1.0


def test_real_heads() -> None:
    html = REAL_WEB / "tdmrep" / "html"
    sd = scan(
        (html / "sciencedirect.com.S1361841524003281.head-excerpt.html").read_bytes()
    )
    assert sd.meta("robots")[0].content == "INDEX,FOLLOW,NOARCHIVE,NOCACHE,NOODP,NOYDIR"
    assert (
        sd.meta("tdm-policy")[0].content
        == "https://www.elsevier.com/tdm/tdmrep-policy.json"
    )
    assert sd.meta("og:description")[0].content.startswith("Resting-state functional")
    itcop = scan((html / "itcop.org.head-metadata.html").read_bytes())
    assert itcop.rsl_links() == []  # rel=license without the RSL type
    assert [link.rel for link in itcop.links] == [
        ("license",),
        ("terms-of-machine-reuse",),
    ]


@FUZZ
@given(
    body=st.one_of(
        BODIES, st.text(alphabet="<>/=\"' -!metalinkscriptheadbodyname", max_size=400)
    )
)
def test_fuzz(body) -> None:
    head = scan(body)
    assert isinstance(head, Head)
    for meta in head.metas:
        assert meta.key == meta.key.lower()


def test_real_heads_through_every_response_reader() -> None:
    from tdmguard.middlewares.readers import aitraining, noai, rsl, tdmrep
    from tdmguard.middlewares.vocab import RFC, STRICT
    from .test_readers_common import assert_reasons

    for path in sorted((REAL_WEB / "tdmrep" / "html").glob("*.html")):
        head = scan(path.read_bytes())
        for mode in (STRICT, RFC):
            assert_reasons(tdmrep.resolve("https://x/", None, None, head, mode=mode))
            assert_reasons(
                noai.noai_reasons(None, head, ("tdmguard",), "text/html", mode=mode)
            )
            assert_reasons(
                aitraining.directive_reasons(None, head, ("tdmguard",), mode=mode)
            )
        assert rsl.discover(head=head, base_url="https://x/") == []
