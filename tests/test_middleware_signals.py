"""End-to-end: every rights reservation beyond robots.txt, over real HTTP.

Location-level reservations must mean the page is never requested;
response-level ones must mean the page never reaches the spider.
"""

from __future__ import annotations

import json

import pytest

from tdmguard.crawler.samplesignals import IPTC_XMP, RSL_LICENCE, jpeg_with_xmp, page

from .conftest import ROOT, by_url, check_json, run_cli

PAGE = "http://s.example/page"
OTHER = "http://s.example/other"


def _pages(web, *urls, **kw):
    for u in urls:
        web.add(u, page(u), **kw)


def _blocking(row):
    return [r for r in row["reasons"] if r["verdict"] in ("reserved", "unreadable")]


LOCATION_CASES = [
    pytest.param("/.well-known/tdmrep.json", '[{"location": "/page", "tdm-reservation": 1}]',
                 "tdmrep", id="tdmrep-file-reserved"),
    pytest.param("/.well-known/tdmrep.json", "not json", "tdmrep", id="tdmrep-file-invalid-json"),
    pytest.param("/robots.txt", "User-agent: *\nAllow: /\nContent-Usage: /page train-ai=n\n",
                 "content-usage", id="content-usage-robots"),
    pytest.param("/robots.txt", "User-agent: *\nContent-Signal: search=yes, ai-train=no\n"
                 "Disallow: /other-nothing\n", "content-signal", id="content-signal-robots"),
    pytest.param("/robots.txt", "User-agent: *\nDisallowAITraining: /page\nAllow: /\n",
                 "disallow-ai-training", id="disallow-ai-training-robots"),
    pytest.param("/ai.txt", "User-agent: *\nDisallow: /page\nAllow: /\n", "ai.txt",
                 id="ai-txt"),
    pytest.param("/robots.txt", "License: http://s.example/l.xml\nUser-agent: *\nAllow: /\n",
                 "rsl", id="rsl-licence-prohibits"),
]


@pytest.mark.parametrize(("path", "body", "protocol"), LOCATION_CASES)
def test_location_level_reservation_never_requests_the_page(web, path, body, protocol):
    web.add(f"http://s.example{path}", body)
    web.add("http://s.example/l.xml", RSL_LICENCE)
    _pages(web, PAGE)
    rows = check_json(web, [PAGE], "--user-agent", "TestBot")
    assert rows[0]["allowed"] is False, rows
    assert rows[0]["stage"] == "refused"
    assert protocol in {r["protocol"] for r in _blocking(rows[0])}
    assert PAGE not in web.requested()


def test_extra_noai_directives_are_read_as_reservations_only_when_asked(web):
    # noai convention N5: noindex says nothing about training, so a page
    # marked only noindex is fetched; an operator who reads it as an opt-out
    # (datadiligence's respect_noindex) names it in
    # TDMGUARD_NOAI_EXTRA_DIRECTIVES, in the X-Robots-Tag header and in meta.
    meta = '<html><head><meta name="robots" content="NoArchive"></head><body>x</body></html>'
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(PAGE, "<html><body>x</body></html>", headers={"X-Robots-Tag": "noindex"})
    web.add("http://s.example/meta", meta)
    urls = [PAGE, "http://s.example/meta"]
    rows = by_url(check_json(web, urls, "--user-agent", "TestBot"))
    assert all(rows[u]["allowed"] for u in urls), rows
    rows = by_url(check_json(web, urls, "--user-agent", "TestBot", "-s",
                             "TDMGUARD_NOAI_EXTRA_DIRECTIVES=noindex,noarchive"))
    for url, directive in ((PAGE, "noindex"), ("http://s.example/meta", "noarchive")):
        final = rows[url]
        assert final["allowed"] is False and final["stage"] == "dropped", final
        assert any(r["protocol"] == "noai" and r["verdict"] == "reserved"
                   and directive in r["rule"].lower() for r in final["reasons"]), final


def test_tdmrep_5xx_fails_closed_in_strict_and_is_unset_in_rfc(web):
    web.add("http://s.example/.well-known/tdmrep.json", "oops", status=503)
    _pages(web, PAGE)
    rows = check_json(web, [PAGE], "--user-agent", "TestBot")
    assert rows[0]["allowed"] is False
    assert _blocking(rows[0])[0]["verdict"] == "unreadable"
    assert PAGE not in web.requested()
    rows = check_json(web, [PAGE], "--user-agent", "TestBot", "--mode", "rfc")
    assert rows[0]["allowed"] is True
    assert PAGE in web.requested()


def test_content_usage_carve_out_is_honoured(web):
    web.add("http://s.example/robots.txt", "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n"
            "Content-Usage: /ai-ok/ train-ai=y\n")
    ok = "http://s.example/ai-ok/x"
    _pages(web, PAGE, ok)
    rows = by_url(check_json(web, [PAGE, ok], "--user-agent", "TestBot"))
    assert rows[PAGE]["allowed"] is False and rows[ok]["allowed"] is True
    assert PAGE not in web.requested() and ok in web.requested()


def test_search_purpose_not_blocked_by_training_only_reservations(web):
    web.add("http://s.example/robots.txt",
            "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n")
    _pages(web, PAGE)
    rows = check_json(web, [PAGE], "--user-agent", "TestBot", "--purpose", "search")
    assert rows[0]["allowed"] is True


RESPONSE_CASES = [
    pytest.param({"headers": {"tdm-reservation": "1", "Content-Type": "text/html"}}, None,
                 "tdmrep", id="tdmrep-header"),
    pytest.param({}, '<meta name="tdm-reservation" content="1">', "tdmrep", id="tdmrep-meta"),
    pytest.param({"headers": {"Content-Usage": "train-ai=n", "Content-Type": "text/html"}},
                 None, "content-usage", id="content-usage-header"),
    pytest.param({"headers": {"X-Robots-Tag": "noai", "Content-Type": "text/html"}}, None,
                 "noai", id="noai-x-robots-tag"),
    pytest.param({"headers": {"X-Robots-Tag": "testbot: noai", "Content-Type": "text/html"}},
                 None, "noai", id="noai-x-robots-tag-our-token"),
    pytest.param({}, '<meta name="robots" content="noai">', "noai", id="noai-meta-robots"),
    pytest.param({}, '<meta name="TestBot" content="noai">', "noai", id="noai-meta-our-token"),
]


@pytest.mark.parametrize(("kw", "head", "protocol"), RESPONSE_CASES)
def test_response_level_reservation_never_reaches_the_spider(web, tmp_path, kw, head, protocol):
    web.add("http://s.example/", page("home", [PAGE, OTHER]))
    web.add(PAGE, page("reserved", head=head or ""), **kw)
    web.add(OTHER, page("other"))
    out = tmp_path / "items.jsonl"
    proc = run_cli(["crawl", "http://s.example/", "--user-agent", "TestBot", "--output",
                    str(out), "--decisions", str(tmp_path / "d.jsonl")], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    items = {json.loads(line)["url"] for line in out.read_text().splitlines()}
    assert items == {"http://s.example/", OTHER}
    lines = (tmp_path / "d.jsonl").read_text().splitlines()
    decisions = {d["url"]: d for d in map(json.loads, lines)}
    assert decisions[PAGE]["stage"] == "dropped"
    assert protocol in {r["protocol"] for r in _blocking(decisions[PAGE])}


def test_other_token_scope_does_not_reserve(web):
    web.add(PAGE, page("p"), headers={"X-Robots-Tag": "otherbot: noai",
                                     "Content-Type": "text/html"})
    rows = check_json(web, [PAGE], "--user-agent", "TestBot")
    assert rows[0]["allowed"] is True


def test_tdmrep_header_zero_lifts_file_reservation_only_in_rfc_mode(web):
    web.add("http://s.example/.well-known/tdmrep.json", '[{"location": "/", "tdm-reservation": 1}]')
    web.add(PAGE, page("p"), headers={"tdm-reservation": "0", "Content-Type": "text/html"})
    strict = check_json(web, [PAGE], "--user-agent", "TestBot")
    assert strict[0]["allowed"] is False and PAGE not in web.requested()
    rfc = check_json(web, [PAGE], "--user-agent", "TestBot", "--mode", "rfc")
    assert rfc[0]["allowed"] is True


def _corrupt_c2pa() -> bytes:
    """The do-not-train PNG with its manifest's signature damaged."""
    data = (ROOT / "crawler/data/sampleweb/c2pa-do-not-train.png").read_bytes()
    half = len(data) // 2
    return data[:half] + b"\x00" * 50 + data[half + 50:]


@pytest.mark.parametrize(("body", "ctype", "protocol"), [
    pytest.param(jpeg_with_xmp(IPTC_XMP), "image/jpeg", "iptc", id="iptc-datamining"),
    pytest.param((ROOT / "crawler/data/sampleweb/c2pa-do-not-train.png").read_bytes(),
                 "image/png", "c2pa", id="c2pa-do-not-train"),
    pytest.param(_corrupt_c2pa(), "image/png", "c2pa",
                 id="unreadable-manifest-never-silently-allowed"),
])
def test_embedded_asset_metadata(web, body, ctype, protocol):
    url = "http://s.example/asset"
    web.add(url, body, headers={"Content-Type": ctype})
    rows = check_json(web, [url], "--user-agent", "TestBot")
    row = rows[0]
    assert row["allowed"] is False and row["stage"] == "dropped"
    assert protocol in {r["protocol"] for r in _blocking(row)}


def test_location_documents_are_snapshots_in_the_ledger(web, tmp_path):
    web.add("http://s.example/.well-known/tdmrep.json",
            '[{"location": "/page", "tdm-reservation": 1}]')
    _pages(web, PAGE)
    db = tmp_path / "l.db"
    proc = run_cli(["crawl", PAGE, "--user-agent", "TestBot", "--db", str(db)], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ev = json.loads(run_cli(["evidence", PAGE, "--db", str(db), "--format", "json"]).stdout)
    kinds = {s["kind"]: s for s in ev["records"][0]["snapshots"]}
    assert {"robots.txt", "tdmrep.json", "ai.txt"} <= set(kinds)
    assert '"tdm-reservation": 1' in kinds["tdmrep.json"]["body"]
    assert run_cli(["verify", "--db", str(db)]).returncode == 0


# -- RSL licences a page names itself (Link header, <link>, inline <script>) ------

LICENCE = "http://lic.example/license.xml"
FREE_LICENCE = RSL_LICENCE.replace(
    b'<prohibits type="usage">ai-train</prohibits>',
    b'<permits type="usage">ai-train</permits><payment type="free"/>')
LINK = {"Link": f'<{LICENCE}>; rel="license"; type="application/rsl+xml"',
        "Content-Type": "text/html"}

RSL_PAGE_CASES = [
    pytest.param({"headers": LINK}, "", id="link-header"),
    pytest.param({}, '<link rel="license" type="application/rsl+xml" href="/lic/l.xml">',
                 id="html-link-relative"),
    pytest.param({}, '<script type="application/rsl+xml">'
                 + RSL_LICENCE.decode().split("?>", 1)[1] + "</script>", id="inline-script"),
]


@pytest.mark.parametrize(("kw", "head"), RSL_PAGE_CASES)
def test_rsl_licence_named_by_the_page_drops_it_for_training_not_for_search(web, kw, head):
    web.add(LICENCE, RSL_LICENCE)
    web.add("http://s.example/lic/l.xml", RSL_LICENCE)
    web.add(PAGE, page("p", head=head), **kw)
    row = check_json(web, [PAGE], "--user-agent", "TestBot")[0]
    assert row["allowed"] is False and row["stage"] == "dropped", row
    assert [r["protocol"] for r in _blocking(row)] == ["rsl"]
    assert "ai-train" in _blocking(row)[0]["rule"] + _blocking(row)[0]["detail"]
    search = check_json(web, [PAGE], "--user-agent", "TestBot", "--purpose", "search")[0]
    assert search["allowed"] is True, search


def test_rsl_link_licence_fetched_once_cited_in_the_ledger_and_honoured_in_a_crawl(
        web, tmp_path):
    pages = [f"http://s.example/p{i}" for i in range(6)]
    web.add("http://s.example/", page("home", pages + [OTHER]))
    for u in pages:
        web.add(u, page(u), headers=LINK)
    web.add(OTHER, page("other"))
    web.add(LICENCE, RSL_LICENCE)
    out, db = tmp_path / "items.jsonl", tmp_path / "l.db"
    proc = run_cli(["crawl", "http://s.example/", "--user-agent", "TestBot", "--output",
                    str(out), "--db", str(db)], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    items = {json.loads(line)["url"] for line in out.read_text().splitlines()}
    assert items == {"http://s.example/", OTHER}
    assert web.count(LICENCE) == 1  # six pages name it, while each waited for the first
    ev = json.loads(run_cli(["evidence", pages[3], "--db", str(db), "--format", "json"]).stdout)
    record = ev["records"][0]
    assert record["allowed"] is False
    licence = [s for s in record["snapshots"] if s["url"] == LICENCE]
    assert licence and licence[0]["kind"] == "rsl" and "ai-train" in licence[0]["body"]
    assert run_cli(["verify", "--db", str(db)]).returncode == 0


@pytest.mark.parametrize(("status", "body", "allowed", "verdict"), [
    pytest.param(200, FREE_LICENCE, True, None, id="free-licence-permits"),
    pytest.param(404, b"gone", False, "unreadable", id="licence-404-fails-closed"),
    pytest.param(500, b"oops", False, "unreadable", id="licence-500-fails-closed"),
    pytest.param(200, b"<rsl><content", False, "unreadable", id="licence-broken-xml"),
])
def test_rsl_link_licence_outcomes(web, status, body, allowed, verdict):
    web.add(LICENCE, body, status=status)
    web.add(PAGE, page("p"), headers=LINK)
    row = check_json(web, [PAGE], "--user-agent", "TestBot")[0]
    assert row["allowed"] is allowed, row
    if verdict:
        assert {(r["protocol"], r["verdict"]) for r in _blocking(row)} == {("rsl", verdict)}


def test_licence_already_named_by_robots_is_not_fetched_again(web):
    web.add("http://s.example/robots.txt", f"License: {LICENCE}\nUser-agent: *\nAllow: /\n")
    web.add(LICENCE, FREE_LICENCE)
    web.add(PAGE, page("p"), headers=LINK)
    row = check_json(web, [PAGE], "--user-agent", "TestBot")[0]
    assert row["allowed"] is True, row
    assert web.count(LICENCE) == 1


def test_html_under_another_label_is_read_and_other_markup_is_not() -> None:
    from tdmguard.middlewares.responsesignals import looks_like_html

    assert looks_like_html(b'<?xml version="1.0"?><html xmlns="x"><head>', "application/xml")
    assert looks_like_html(b"<!DOCTYPE html><title>t</title>", "text/plain")
    assert looks_like_html("<html><head>".encode("utf-16"), "application/octet-stream")
    assert looks_like_html(b"\xef\xbb\xbf<meta name=robots content=noai>", "")
    assert not looks_like_html(b'<?xml version="1.0"?><rss><channel>', "application/rss+xml")
    assert not looks_like_html(b"<svg xmlns='http://www.w3.org/2000/svg'>", "image/svg+xml")
    assert not looks_like_html(b'{"html": "<html>"}'[:6], "application/json")


def test_a_large_feed_is_not_dropped_as_a_head_too_long(web):
    # Only an HTML document has a <head> to end; a 200 KB RSS feed with none
    # is not "a head longer than the scan".
    feed = b'<?xml version="1.0"?><rss><channel>' + b"<item><title>x</title></item>" * 7000
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://s.example/feed", feed + b"</channel></rss>",
            headers={"Content-Type": "application/rss+xml"})
    [row] = check_json(web, ["http://s.example/feed"], "--user-agent", "TestBot")
    assert row["allowed"] is True and row["stage"] == "fetched", row
