"""The head scanner: what it finds, where it stops, garbage it survives."""

from __future__ import annotations

import time

import pytest
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


# -- the declared charset -------------------------------------------------------

UTF16_PAGE = (
    "<!doctype html><html><head><title>Seite</title>\n"
    '<meta name="tdm-reservation" content="1">\n'
    '<meta name="robots" content="noai, noimageai">\n'
    "</head><body>Grüße</body></html>"
)


def test_http_charset_utf16le_without_bom() -> None:
    body = UTF16_PAGE.encode("utf-16-le")
    assert not body.startswith((b"\xff\xfe", b"\xfe\xff"))
    head = scan(body, content_type="text/html; charset=UTF-16LE")
    assert head.meta("tdm-reservation")[0].content == "1"
    assert head.meta("robots")[0].content == "noai, noimageai"
    assert head.complete and head.meta("robots")[0].line == 3
    # the header as Scrapy hands it over (bytes), any case and spacing
    assert scan(body, content_type=b'Text/HTML;  Charset="utf-16le"').meta("tdm-reservation")
    # read as UTF-8 (no declaration), the same bytes hold no meta at all
    assert scan(body).metas == []
    assert scan(body, content_type="text/html").metas == []


def test_bom_wins_over_the_header() -> None:
    body = b"\xef\xbb\xbf" + '<meta name="robots" content="noai é">'.encode()
    head = scan(body, content_type="text/html; charset=utf-16le")
    assert head.meta("robots")[0].content == "noai é"
    body16 = "\ufeff<meta name=robots content=noai>".encode("utf-16-be")
    assert scan(body16, content_type="text/html; charset=utf-8").meta("robots")


@pytest.mark.parametrize("declaration", [
    '<meta charset="windows-1252">',
    "<meta charset=iso-8859-1>",
    '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
])
def test_meta_charset_declaration(declaration) -> None:
    body = (f"<head>{declaration}"
            '<meta name="tdm-policy" content="https://x/politique-réservée.json">'
            "</head>").encode("cp1252")
    assert scan(body).meta("tdm-policy")[0].content == "https://x/politique-réservée.json"
    # the HTTP header's charset wins over the document's own declaration
    assert "\ufffd" in scan(body, content_type="text/html; charset=utf-8"
                            ).meta("tdm-policy")[0].content


def test_undeclared_is_utf8_as_before() -> None:
    body = '<meta name="tdm-policy" content="https://x/ü">'.encode()
    assert scan(body).meta("tdm-policy")[0].content == "https://x/ü"
    assert scan(body, content_type="text/html").meta("tdm-policy")[0].content == "https://x/ü"


def test_utf16_page_end_to_end(web) -> None:
    from .conftest import check_json

    url, plain = "http://charset.example/utf16", "http://charset.example/utf16-as-utf8"
    web.add("http://charset.example/robots.txt", "User-agent: *\nAllow: /\n")
    body = UTF16_PAGE.encode("utf-16-le")
    web.add(url, body, headers={"Content-Type": "text/html; charset=utf-16le"})
    web.add(plain, body, headers={"Content-Type": "text/html; charset=utf-8"})
    rows = {r["url"]: r for r in check_json(web, [url, plain], "--user-agent", "TestBot")}
    assert rows[url]["allowed"] is False
    assert {"tdmrep", "noai"} <= {r["protocol"] for r in rows[url]["reasons"]
                                   if r["verdict"] == "reserved"}
    # the control: the same bytes declared as UTF-8 carry no readable meta
    assert rows[plain]["allowed"] is True


# -- the paywall markup, read by the same scan -------------------------------------


def test_paywall_markup_anywhere_in_the_document() -> None:
    body = (
        "<html><head><title>t</title>"
        '<script type="application/ld+json">{"isAccessibleForFree": false}</script>'
        "</head><body>" + "<p>filler</p>" * 20000 +
        '<script type="application/ld+json; charset=utf-8">{"a": 1}</script>'
        '<script>var s = "<span itemprop=isAccessibleForFree>false</span>";</script>'
        "<!-- <meta itemprop=isAccessibleForFree content=false> -->"
        "<p>isAccessibleForFree: false, in text</p>"
        '<div\nitemscope><meta itemprop="isAccessibleForFree" content="False"></div>'
        '<span property="schema:isAccessibleForFree"> <b>fal</b>se </span>'
        '<link itemprop="isAccessibleForFree" href="http://schema.org/False">'
        "</body></html>"
    ).encode()
    assert len(body) > HEAD_LIMIT
    head = scan(body)
    assert head.free_marked and head.complete and not head.truncated
    assert [s.text for s in head.jsonld] == ['{"isAccessibleForFree": false}', '{"a": 1}']
    assert [(p.kind, p.name, p.value) for p in head.free_props] == [
        ("microdata", "isAccessibleForFree", "False"),
        ("RDFa", "schema:isAccessibleForFree", "fal se"),
        ("microdata", "isAccessibleForFree", "http://schema.org/False"),
    ]
    assert head.free_props[0].line == 2
    assert head.metas == []  # still only the head's metas


def test_paywall_markup_without_head_or_body_tags() -> None:
    head = scan('<div vocab="https://schema.org/" typeof="Article">'
                '<span property="isAccessibleForFree">false</span></div>')
    assert [(p.kind, p.value) for p in head.free_props] == [("RDFa", "false")]
    head = scan('<head><meta itemprop="isAccessibleForFree" content="false"></head>')
    assert head.meta("isaccessibleforfree") and head.free_props[0].value == "false"


def test_no_marker_no_paywall_scan() -> None:
    body = b'<head></head><body><script type="application/ld+json">{}</script></body>'
    head = scan(body)
    assert not head.free_marked and head.jsonld == [] and head.free_props == []


def test_one_scan_per_body() -> None:
    body = b"<head><meta name=robots content=noai></head>"
    first = scan(body, content_type=b"text/html; charset=utf-8")
    assert scan(body, content_type="TEXT/HTML; charset=UTF-8") is first
    assert scan(body) is not first and scan(bytes(body)) is not first


def test_paywall_scan_is_linear_on_hostile_input() -> None:
    # The paywall part reads the whole document: about 150 KB each here.
    for body in (
        '<div itemprop="isAccessibleForFree" ' * 4000,
        "isAccessibleForFree<" * 8000,
        "<span property=isAccessibleForFree>" * 4000,
        "<script type=application/ld+json>isAccessibleForFree" * 3000,
        "<p " + "isAccessibleForFree " * 8000,
        "<a isAccessibleForFree=1>" * 6000,
    ):
        start = time.perf_counter()
        scan(body)
        assert time.perf_counter() - start < 1.0
