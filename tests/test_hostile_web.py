"""Hostile servers over real sockets: no cell of signal x failure fails open.

Each case is one ``tdmguard check`` against the fixture web, where the
server resets mid-body (with Content-Length, close-delimited, chunked),
trickles, hangs after its headers, or redirects forever. The expected verdict
cites the spec line that asks for it; short timeouts keep each case fast.
"""

from __future__ import annotations

import time

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb

from .conftest import check_json

SITE = "http://hostile.example"
PAGE = f"{SITE}/articles/one"
UA = ("--user-agent", "TestBot")
FAST = ("-s", "TDMGUARD_DOCUMENT_TIMEOUT=1", "-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=0")
PAD = "#" * 300 + "\n"

#: Each failure as fixture-web options; "cut" ones keep the first 40 bytes.
FAILURES = {
    "reset, Content-Length": {"cut_at": 40},
    "reset, close-delimited": {"cut_at": 40, "length": False},
    "reset mid-chunk": {"cut_at": 40, "chunked": True, "chunk_size": 16},
    "hang after headers": {"hang": 5},
    "trickle 20 B/s": {"trickle": 20},
}

#: Each location-level document: (path, a body whose reservation comes after
#: byte 40, the reason's protocol). The part before the cut permits everything.
DOCUMENTS = {
    # RFC 9309 §2.3.1.4: unreachable "due to server or network errors" =
    # complete disallow; a cut-off robots.txt may have lost its Disallow line.
    "robots.txt": ("/robots.txt", "User-agent: *\nAllow: /articles/\n" + PAD
                   + "Disallow: /\n", "robots.txt"),
    # TDMRep §3.2 (tdmrep.json unreachable): strict mode fails closed.
    "tdmrep.json": ("/.well-known/tdmrep.json",
                    '[{"location": "/", "tdm-reservation": 0}' + " " * 300
                    + ', {"location": "/articles/", "tdm-reservation": 1}]', "tdmrep"),
    # Spawning ai.txt has no error rule: strict mode fails closed.
    "ai.txt": ("/ai.txt", "User-Agent: *\nAllow: /articles/\n" + PAD + "Disallow: /\n",
               "ai.txt"),
}


def _site(web: FixtureWeb) -> None:
    web.add(f"{SITE}/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(PAGE, "<html><head><title>one</title></head><body>hello</body></html>")


def _one(web: FixtureWeb, *opts: str) -> dict:
    started = time.monotonic()
    [row] = check_json(web, [PAGE], *UA, *FAST, *opts)
    assert time.monotonic() - started < 30  # bounded, whatever the server does
    return row


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("signal", DOCUMENTS)
def test_a_broken_rights_document_refuses_the_page_before_it_is_requested(
        web: FixtureWeb, signal: str, failure: str) -> None:
    path, body, protocol = DOCUMENTS[signal]
    _site(web)
    web.add(f"{SITE}{path}", body, **FAILURES[failure])
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == "refused", row
    blocking = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
    assert [r["protocol"] for r in blocking] == [protocol], row["reasons"]
    if failure.startswith("reset"):
        text = blocking[0]["detail"] + blocking[0]["rule"]
        # The reason says what happened: cut off (or, chunked, lost mid-chunk).
        assert "cut off" in text or "DataLoss" in text, blocking[0]
    assert PAGE not in web.requested()  # refused before the download


def test_a_close_delimited_robots_txt_is_unreachable_even_when_it_looks_whole(
        web: FixtureWeb) -> None:
    # RFC 9112 §8: complete "unless an error was indicated by the underlying
    # connection"; Twisted reports a clean close and a reset alike (Scrapy's
    # "partial" flag), so a close-delimited robots.txt cannot be trusted whole.
    _site(web)
    web.add(f"{SITE}/robots.txt", "User-agent: *\nAllow: /\n", length=False)
    row = _one(web)
    assert row["allowed"] is False
    [reason] = row["reasons"]
    assert reason["protocol"] == "robots.txt" and reason["verdict"] == "unreadable"
    assert "cut off after 23 bytes" in reason["detail"]
    assert "RFC 9309 §2.3.1.4" in reason["detail"]
    assert PAGE not in web.requested()


def test_a_cut_off_rsl_licence_named_by_robots_txt_refuses(web: FixtureWeb) -> None:
    # RSL 1.0: a licence must be retrieved and complied with before access.
    _site(web)
    web.add(f"{SITE}/robots.txt", f"User-agent: *\nAllow: /\nLicense: {SITE}/license.xml\n")
    web.add(f"{SITE}/license.xml",
            '<rsl xmlns="https://rslstandard.org/rsl"><content url="/">'
            + " " * 300 + '<license><prohibits type="usage">ai-train</prohibits>'
            '</license></content></rsl>', headers={"Content-Type": "application/rsl+xml"},
            cut_at=40, length=False)
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == "refused"
    [reason] = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
    assert reason["protocol"] == "rsl" and "cut off" in reason["detail"]
    assert PAGE not in web.requested()


NOAI_PAGE = ("<html><head><title>t</title>" + "<!-- " + "x" * 300 + " -->"
             '<meta name="robots" content="noai"></head><body>hi</body></html>')


@pytest.mark.parametrize(("failure", "stage"), [
    # RFC 9112 §8: the noai meta tag may have been cut off with the body.
    ({"cut_at": 100, "length": False}, "dropped"),
    ({"length": False}, "dropped"),  # clean close: Twisted cannot tell (see above)
    # RFC 9112 §6.3: fewer bytes than Content-Length / an unfinished chunk
    # is an incomplete message: a failed download, never allowed.
    ({"cut_at": 100}, "failed"),
    ({"cut_at": 100, "chunked": True}, "failed"),
    ({"hang": 5}, "failed"),
    ({"trickle": 50}, "failed"),
])
def test_a_page_cut_off_or_stalled_is_never_allowed(web: FixtureWeb, failure: dict,
                                                    stage: str) -> None:
    _site(web)
    web.add(PAGE, NOAI_PAGE, **failure)
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == stage, row
    if stage == "dropped":
        [reason] = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
        assert reason["protocol"] == "http" and "cut off" in reason["detail"]
        assert "RFC 9112 §8" in reason["detail"]
    else:
        assert row["error"]


def test_a_head_longer_than_the_scan_is_unreadable(web: FixtureWeb) -> None:
    # The reservation sits after 64 KiB of other meta tags: the scan stops
    # before it, so the page fails closed with its own reason.
    _site(web)
    metas = "".join(f'<meta name="x-{i}" content="{"v" * 40}">\n' for i in range(1500))
    web.add(PAGE, f'<html><head>{metas}<meta name="robots" content="noai"></head>'
                  "<body>hi</body></html>")
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == "dropped"
    [reason] = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
    assert reason["protocol"] == "html-head"
    assert "65536" in reason["rule"] and "line" in reason["rule"]


def test_a_short_head_is_not_flagged(web: FixtureWeb) -> None:
    _site(web)
    row = _one(web)
    assert row["allowed"] is True and row["stage"] == "fetched"


def test_a_redirect_loop_has_a_decision(web: FixtureWeb) -> None:
    # RFC 9110 §15.4: a client "SHOULD detect and intervene in cyclical redirections".
    _site(web)
    web.redirect(PAGE, f"{SITE}/b")
    web.redirect(f"{SITE}/b", PAGE)
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == "failed"
    [reason] = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
    assert reason["protocol"] == "http" and "loop" in reason["detail"]
    assert web.count(PAGE) == 1


def test_a_hundred_hop_chain_has_a_decision(web: FixtureWeb) -> None:
    _site(web)
    for i in range(100):
        web.redirect(f"{SITE}/hop/{i}" if i else PAGE, f"{SITE}/hop/{i + 1}")
    row = _one(web, "-s", "REDIRECT_MAX_TIMES=5")
    assert row["allowed"] is False and row["stage"] == "failed"
    [reason] = [r for r in row["reasons"] if r["verdict"] == "unreadable"]
    assert "more than 5" in reason["detail"]
    assert f"{SITE}/hop/7" not in web.requested()


# -- servers that do not speak HTTP, or speak it wrongly --------------------------------

DISALLOW = b"User-agent: *\nDisallow: /\n"
#: Whole answers sent raw, then the connection closed. Each carries a robots.txt
#: that disallows everything, so reading it in part (or not framing it as RFC
#: 9112 says) could only widen access: all must end unreachable or reserved.
RAW = {
    # Not HTTP at all (a TLS or SSH port proxied by mistake).
    "not-http": (b"SSH-2.0-OpenSSH_9.6\r\n", "ParseError"),
    # RFC 9112 §6.3 (5): differing Content-Length values are invalid framing,
    # "an unrecoverable error"; reading the first 5 bytes would give "User-".
    "conflicting-length": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5"
                           b"\r\nContent-Length: 26\r\n\r\n" + DISALLOW, "conflicting"),
    "length-list": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5, 26"
                    b"\r\n\r\n" + DISALLOW, "conflicting"),
    "negative-length": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: -1"
                        b"\r\n\r\n" + DISALLOW, "non-decimal"),
    # RFC 9112 §7.1: a chunk size that is not hex: the body cannot be framed.
    "bad-chunk-size": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: "
                       b"chunked\r\n\r\n5\r\nUser-\r\nzz\r\n" + DISALLOW + b"\r\n0\r\n\r\n",
                       "Chunk-size"),
    # HTTP/0.9 (a body with no status line): not an HTTP/1.x answer.
    "http-0.9": (DISALLOW, "status code"),
    # RFC 9112 §6.1: a transfer coding the recipient does not understand
    # (gzip as a transfer coding): the message cannot be framed.
    "transfer-coding-gzip": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding:"
                             b" gzip, chunked\r\n\r\n1a\r\n" + DISALLOW + b"\r\n0\r\n\r\n",
                             "gzip"),
    # A status outside every class RFC 9110 §15 defines: not a success.
    "status-999": (b"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", "HTTP 999"),
}


def test_a_robots_txt_server_that_breaks_http_framing_is_unreachable(web: FixtureWeb) -> None:
    # RFC 9309 §2.3.1.4: unreachable "due to server or network errors" means
    # complete disallow; each reason names the framing error, not a repr.
    pages = {}
    for name, (raw, _why) in RAW.items():
        host = f"http://{name}.hostile.example"
        web.add(f"{host}/robots.txt", raw=raw)
        web.add(f"{host}/page", "<html><body>x</body></html>")
        pages[name] = f"{host}/page"
    started = time.monotonic()
    rows = {row["url"]: row for row in check_json(web, list(pages.values()), *UA, *FAST)}
    assert time.monotonic() - started < 30
    for name, (_raw, why) in RAW.items():
        row = rows[pages[name]]
        assert row["allowed"] is False and row["stage"] == "refused", (name, row)
        [reason] = [r for r in row["reasons"] if r["protocol"] == "robots.txt"]
        assert reason["verdict"] == "unreadable", (name, reason)
        assert why in reason["detail"] and "twisted.python.failure" not in reason["detail"], (
            name, reason)
        assert pages[name] not in web.requested()


def test_a_page_whose_answer_is_not_http_is_a_failed_decision(web: FixtureWeb) -> None:
    _site(web)
    web.add(PAGE, raw=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 60\r\n\r\n"
            + b"<html><head><meta name=robots content=noai></head></html>")
    row = _one(web)
    assert row["allowed"] is False and row["stage"] == "failed", row
    assert "conflicting Content-Length" in row["error"], row
