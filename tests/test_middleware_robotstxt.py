"""End-to-end: real Scrapy crawls through the real CLI against the fixture web.

Every test asserts from the fixture web's request log that no disallowed page
was ever requested.
"""

from __future__ import annotations

import json
import socket

import pytest

from .conftest import by_url, check_json, run_cli

RULES = "User-agent: *\nDisallow: /private/\n"
PUBLIC, PRIVATE = "http://s.example/public", "http://s.example/private/x"


def _site(web, robots_status=200, robots_body=RULES, **kw):
    web.add("http://s.example/robots.txt", robots_body, status=robots_status, **kw)
    web.add(PUBLIC, "<html><body>public</body></html>")
    web.add(PRIVATE, "<html><body>private</body></html>")


def _verdicts(rows):
    return {r["url"]: r["allowed"] for r in rows}


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_is_unavailable_and_body_never_parsed(web, status):
    # The error page says "Disallow: /": it must not be read as rules.
    _site(web, status, "User-agent: *\nDisallow: /\n")
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: True}
    assert rows[0]["reasons"][0]["verdict"] == "unavailable"
    assert rows[0]["reasons"][0]["rule"] == f"HTTP {status}"
    assert web.count(PUBLIC) == 1 and web.count(PRIVATE) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_are_unreachable_complete_disallow(web, status):
    _site(web, status, "User-agent: *\nAllow: /\n")
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: False, PRIVATE: False}
    reason = rows[0]["reasons"][0]
    assert (reason["protocol"], reason["verdict"]) == ("robots.txt", "unreadable")
    assert "§2.3.1.4" in reason["detail"]
    assert web.requested() == ["http://s.example/robots.txt"]


def test_200_rules_followed(web):
    _site(web)
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: False}
    assert "line 2: Disallow: /private/" in by_url(rows)[PRIVATE]["reasons"][0]["rule"]
    assert PRIVATE not in web.requested()
    assert web.count("http://s.example/robots.txt") == 1


def test_timeout_is_unreachable(web):
    _site(web, delay=3)
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot", "-s", "DOWNLOAD_TIMEOUT=1")
    assert _verdicts(rows) == {PUBLIC: False}
    assert "TimeoutError" in rows[0]["reasons"][0]["rule"]
    assert PUBLIC not in web.requested()


def test_dropped_connection_is_unreachable(web):
    _site(web, drop=True)
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: False}
    assert rows[0]["reasons"][0]["verdict"] == "unreadable"
    assert PUBLIC not in web.requested()


def test_refused_connection_is_unreachable(web):
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/page"
    rows = check_json(web, [url], "--user-agent", "TestBot", no_proxy="127.0.0.1")
    assert rows[0]["allowed"] is False
    assert "ConnectionRefused" in rows[0]["reasons"][0]["rule"]


@pytest.mark.parametrize("hops", [1, 2, 3, 4, 5, 6])
def test_redirects_followed_up_to_five_across_hosts(web, hops):
    chain = ["http://s.example/robots.txt"] + [
        f"http://r{i}.example/robots.txt" for i in range(1, hops + 1)]
    for src, dst in zip(chain, chain[1:], strict=False):
        web.redirect(src, dst)
    web.add(chain[-1], RULES)
    web.add(PUBLIC, "<html>public</html>")
    web.add(PRIVATE, "<html>private</html>")
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    if hops <= 5:
        # the rules found at the end apply to the original origin
        assert _verdicts(rows) == {PUBLIC: True, PRIVATE: False}
    else:
        assert _verdicts(rows) == {PUBLIC: False, PRIVATE: False}
        assert "more than 5 consecutive redirects" in rows[0]["reasons"][0]["detail"]
    assert PRIVATE not in web.requested()


def test_six_redirects_may_be_unavailable_by_setting(web):
    chain = ["http://s.example/robots.txt"] + [f"http://r{i}.example/robots.txt" for i in range(6)]
    for src, dst in zip(chain, chain[1:], strict=False):
        web.redirect(src, dst)
    web.add(PUBLIC, "<html>public</html>")
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot",
                      "-s", "TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS=unavailable")
    assert rows[0]["allowed"] is True
    assert rows[0]["reasons"][0]["verdict"] == "unavailable"


def test_500_kib_floor_honoured(web):
    padding = "".join(f"# padding line {i:07d} {'x' * 60}\n" for i in range(6050))
    assert 490 * 1024 < len(padding) < 499 * 1024
    _site(web, 200, "User-agent: *\n" + padding + "Disallow: /private/\n")
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: False}
    assert PRIVATE not in web.requested()


def test_bom_crlf_and_odd_content_type(web):
    body = b"\xef\xbb\xbfUser-agent: *\r\nDisallow: /private/\r\n"
    _site(web, 200, body, headers={"Content-Type": "application/octet-stream"})
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: False}
    assert PRIVATE not in web.requested()


def test_html_page_served_as_robots_yields_no_rules(web):
    html = "<!DOCTYPE html><html><body><pre>User-agent: *\nDisallow: /\n</pre></body></html>"
    _site(web, 200, html, headers={"Content-Type": "text/html"})
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: True}
    assert "HTML page" in rows[0]["reasons"][0]["detail"]


def test_several_tokens_and_specific_group_replaces_star(web):
    web.add("http://s.example/robots.txt",
            "User-agent: *\nDisallow: /star/\n\nUser-agent: barbot\nDisallow: /bar/\n")
    urls = ["http://s.example/star/1", "http://s.example/bar/1"]
    for u in urls:
        web.add(u, "<html>x</html>")
    rows = check_json(web, urls, "--user-agent", "FooBot,BarBot")
    assert _verdicts(rows) == {urls[0]: True, urls[1]: False}
    assert "http://s.example/bar/1" not in web.requested()
    ua = web.requests_to("s.example")[0].headers["User-Agent"]
    assert ua.startswith("FooBot/")


AI_ROBOTS = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"


def test_strict_mode_reads_ai_crawler_groups_as_reservations(web):
    _site(web, 200, AI_ROBOTS)
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot")
    assert rows[0]["allowed"] is False
    reason = rows[0]["reasons"][0]
    assert "GPTBot" in reason["rule"] and "strict mode" in reason["detail"]
    assert PUBLIC not in web.requested()


def test_rfc_mode_follows_only_our_group_or_star(web):
    _site(web, 200, AI_ROBOTS)
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot", "--mode", "rfc")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: False}
    assert PRIVATE not in web.requested()


def test_group_naming_our_token_governs_alone_even_in_strict(web):
    _site(web, 200, AI_ROBOTS + "\nUser-agent: TestBot\nAllow: /\n")
    rows = check_json(web, [PUBLIC, PRIVATE], "--user-agent", "TestBot")
    assert _verdicts(rows) == {PUBLIC: True, PRIVATE: True}


def test_search_purpose_is_not_blocked_by_ai_crawler_groups(web):
    _site(web, 200, AI_ROBOTS)
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot", "--purpose", "search")
    assert rows[0]["allowed"] is True


def test_origins_differing_only_by_port_are_separate(web):
    web.add("http://p.example/robots.txt", "User-agent: *\nDisallow: /a\n")
    web.add("http://p.example:8080/robots.txt", "User-agent: *\nDisallow: /b\n")
    urls = ["http://p.example/a", "http://p.example/b",
            "http://p.example:8080/a", "http://p.example:8080/b"]
    for u in urls:
        web.add(u, "<html>x</html>")
    rows = check_json(web, urls, "--user-agent", "TestBot")
    assert _verdicts(rows) == {urls[0]: False, urls[1]: True, urls[2]: True, urls[3]: False}
    assert web.count("http://p.example/robots.txt") == 1
    assert web.count("http://p.example:8080/robots.txt") == 1
    assert urls[0] not in web.requested() and urls[3] not in web.requested()


def test_many_start_urls_to_fresh_origin_wait_for_one_robots_fetch(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nDisallow: /\n", delay=0.5)
    urls = [f"http://s.example/page{i}" for i in range(8)]
    for u in urls:
        web.add(u, "<html>x</html>")
    rows = check_json(web, urls, "--user-agent", "TestBot")
    assert not any(r["allowed"] for r in rows)
    assert web.requested() == ["http://s.example/robots.txt"]


def test_links_found_together_on_one_page_wait_for_fresh_origin(web):
    web.add("http://hub.example/robots.txt", "User-agent: *\nAllow: /\n")
    links = [f"http://hub.example/x/{i}" for i in range(8)]
    web.add("http://hub.example/",
            "<html><body>" + "".join(f'<a href="{u}">{u}</a>' for u in links) + "</body></html>")
    # hub.example's robots.txt is re-fetched with a 0 s cache: every link request
    # arrives together and must wait for the single fresh fetch.
    web.sites["hub.example"]["/robots.txt"].body = b"User-agent: *\nDisallow: /x/\n"
    proc = run_cli(["crawl", "http://hub.example/", "--user-agent", "TestBot",
                    "--decisions", "/dev/stdout"], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not any(u in web.requested() for u in links)
    assert web.count("http://hub.example/robots.txt") == 1


def test_cache_expires_and_robots_is_refetched(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nDisallow: /never/\n")
    web.add("http://s.example/", '<html><a href="/slow">slow</a></html>')
    web.add("http://s.example/slow", '<html><a href="/after">after</a></html>', delay=1.5)
    web.add("http://s.example/after", "<html>after</html>")
    proc = run_cli(["crawl", "http://s.example/", "--user-agent", "TestBot",
                    "-s", "TDMGUARD_ROBOTSTXT_CACHE_TTL=1"], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert web.count("http://s.example/robots.txt") == 2
    assert web.count("http://s.example/after") == 1


def test_crawl_delay_spaces_requests(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nCrawl-delay: 1\n")
    urls = [f"http://s.example/p{i}" for i in range(3)]
    for u in urls:
        web.add(u, "<html>x</html>")
    check_json(web, urls, "--user-agent", "TestBot")
    times = sorted(r.at for r in web.log if r.url in urls)
    assert len(times) == 3
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.95, gaps


def test_bad_token_and_bad_url_exit_2_with_one_line(web):
    proc = run_cli(["check", "http://s.example/", "--user-agent", "Bot2"], web)
    assert proc.returncode == 2
    assert "product token" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["check", "not a url", "--user-agent", "TestBot"], web)
    assert proc.returncode == 2 and "not a usable URL" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli(["check", "http://s.example/", "--user-agent", "TestBot",
                    "-s", "TDMGUARD_MODE=loose"], web)
    assert proc.returncode == 2 and "TDMGUARD_MODE" in proc.stderr
    assert web.requested() == []


def test_check_jsonl_and_table_formats(web):
    _site(web)
    proc = run_cli(["check", PUBLIC, PRIVATE, "--user-agent", "TestBot", "--format", "jsonl"],
                   web)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [x["url"] for x in lines] == [PUBLIC, PRIVATE]
    proc = run_cli(["check", PRIVATE, "--user-agent", "TestBot"], web)
    assert proc.stdout.startswith("REFUSED") and "Disallow: /private/" in proc.stdout


def test_setting_scrapy_cannot_use_is_one_line_exit_2(web):
    proc = run_cli(["check", PUBLIC, "--user-agent", "TestBot", "-s", "RETRY_HTTP_CODES=[403]"],
                   web)
    assert proc.returncode == 2
    assert "could not start" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert web.requested() == []


def test_check_reports_urls_scrapy_canonicalises(web):
    web.add("http://example.com/", "<html>x</html>")
    rows = check_json(web, ["http://Example.COM/"], "--user-agent", "TestBot")
    assert rows[0]["url"] == "http://Example.COM/"
    assert rows[0]["allowed"] is True and rows[0]["stage"] == "fetched"


def test_5xx_page_is_recorded_as_failed_not_fetched(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(PUBLIC, "down", status=503)
    rows = check_json(web, [PUBLIC], "--user-agent", "TestBot", "-s", "RETRY_ENABLED=False")
    assert rows[0]["stage"] == "failed" and rows[0]["error"] == "HTTP 503"
    assert rows[0]["content_sha256"] is None
