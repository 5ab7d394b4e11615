"""Lawful access and polite crawling, end to end through the real CLI.

Each lawful-access case is refused (before download) or dropped (after), recorded
with protocol ``lawful-access``, requested at most once, never reaches the
spider, and no request ever carries credentials.
"""

from __future__ import annotations

import json
import textwrap
import time
from email.utils import formatdate
from itertools import pairwise

import pytest
from scrapy.http import HtmlResponse, TextResponse

from tdmguard.middlewares.addon import TdmGuard
from tdmguard.middlewares.lawful import (
    DEFAULT_WALL_PATTERNS,
    LawfulAccessMiddleware,
    paywall_reasons,
    wall_patterns,
)
from tdmguard.middlewares.politeness import PolitenessMiddleware, retry_after_seconds
from tdmguard.middlewares.settings import ConfigError

from .compat import make_crawler
from .conftest import by_url, check_json, run_cli
from .test_addon import make_project, scrapy_crawl

SITE = "http://paper.example"
FREE = f"{SITE}/free"


def _ld(data: object) -> str:
    return ('<html><head><script type="application/ld+json">'
            f"{json.dumps(data)}</script></head><body>story</body></html>")


PAYWALLED = {
    "/ld-bool": _ld({"@type": "NewsArticle", "isAccessibleForFree": False}),
    "/ld-string": _ld({"@context": "https://schema.org", "@type": "NewsArticle",
                       "isAccessibleForFree": "False"}),
    "/ld-url": _ld({"@type": "Article", "isAccessibleForFree": "https://schema.org/False"}),
    "/ld-haspart": _ld({"@type": "NewsArticle", "isAccessibleForFree": True,
                        "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": False,
                                    "cssSelector": ".paywall"}}),
    "/ld-graph": _ld({"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Paper"},
        {"@type": "NewsArticle", "isAccessibleForFree": "false"}]}),
    "/ld-list": _ld([{"@type": "Organization"},
                     {"@type": "WebPage", "mainEntity": {"@type": "Article",
                                                         "isAccessibleForFree": False}}]),
    "/ld-broken": '<script type="application/ld+json">{"@type": "Article", '
                  '"isAccessibleForFree": false,, }</script>',
    "/microdata": '<html><body><article itemscope itemtype="https://schema.org/Article">'
                  '<meta itemprop="isAccessibleForFree" content="False"></article>'
                  "</body></html>",
    "/microdata-link": '<div itemscope itemtype="https://schema.org/NewsArticle">'
                       '<link itemprop="isAccessibleForFree" href="http://schema.org/False">'
                       "</div>",
    "/rdfa": '<div vocab="https://schema.org/" typeof="Article">'
             '<span property="isAccessibleForFree">false</span></div>',
}
NOT_PAYWALLED = {
    "/ld-free": _ld({"@type": "NewsArticle", "isAccessibleForFree": True}),
    # A listing page describing other (paywalled) pages is not itself paywalled.
    "/ld-listing": _ld({"@type": "ItemList", "itemListElement": [
        {"@type": "Article", "isAccessibleForFree": False}]}),
    "/text-mention": "<html><body>We explain isAccessibleForFree: false markup.</body></html>",
}


def _site(web):
    web.add(f"{SITE}/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(FREE, "<html><body>free</body></html>")


def _lawful(row):
    return [r for r in row["reasons"] if r["protocol"] == "lawful-access"]


def assert_no_credentials(web):
    for logged in web.log:
        assert not {"authorization", "proxy-authorization"} & {h.lower() for h in
                                                               logged.headers}, logged


# -- statuses -------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 402, 403, 407, 451])
def test_denied_statuses_are_dropped_never_retried(web, status):
    _site(web)
    url = f"{SITE}/denied"
    web.add(url, "<html>denied</html>", status=status,
            headers={"WWW-Authenticate": 'Basic realm="x"'} if status == 401 else {})
    rows = check_json(web, [url, FREE], "--user-agent", "TestBot", "-s", "RETRY_TIMES=5",
                      "-s", f"RETRY_HTTP_CODES={status},500")
    row = by_url(rows)[url]
    assert row["allowed"] is False and row["stage"] == "dropped" and row["status"] == status
    (reason,) = _lawful(row)
    assert (reason["verdict"], reason["rule"]) == ("reserved", f"HTTP {status}")
    assert "Measure 1.2(1)(a)" in reason["detail"]
    assert by_url(rows)[FREE]["allowed"] is True
    assert web.count(url) == 1  # not retried, even when RETRY_HTTP_CODES asks
    assert_no_credentials(web)


# -- paywall markup ---------------------------------------------------------------


def test_paywall_markup_is_dropped(web):
    _site(web)
    urls = {path: f"{SITE}{path}" for path in {**PAYWALLED, **NOT_PAYWALLED}}
    for path, body in {**PAYWALLED, **NOT_PAYWALLED}.items():
        web.add(urls[path], body, headers={"Content-Type": "text/html; charset=utf-8"})
    rows = by_url(check_json(web, list(urls.values()), "--user-agent", "TestBot"))
    for path in PAYWALLED:
        row = rows[urls[path]]
        assert row["allowed"] is False and row["stage"] == "dropped", (path, row)
        assert "isAccessibleForFree" in _lawful(row)[0]["rule"], path
        assert "paywalled content is not crawled" in _lawful(row)[0]["detail"]
    for path in NOT_PAYWALLED:
        assert rows[urls[path]]["allowed"] is True, path
    assert "hasPart" in _lawful(rows[urls["/ld-haspart"]])[0]["rule"]
    assert _lawful(rows[urls["/microdata"]])[0]["source"] == "microdata"
    assert _lawful(rows[urls["/rdfa"]])[0]["source"] == "RDFa"
    assert all(web.count(u) == 1 for u in urls.values())


@pytest.mark.parametrize("path", sorted(PAYWALLED))
def test_paywall_reader(path):
    response = HtmlResponse(f"{SITE}{path}", body=PAYWALLED[path].encode(), encoding="utf-8")
    reasons = paywall_reasons(response)
    assert reasons and all(r.blocks and r.protocol == "lawful-access" for r in reasons)


@pytest.mark.parametrize("path", sorted(NOT_PAYWALLED))
def test_paywall_reader_negatives(path):
    response = HtmlResponse(f"{SITE}{path}", body=NOT_PAYWALLED[path].encode(),
                            encoding="utf-8")
    assert paywall_reasons(response) == []


UTF16 = {"Content-Type": "text/html; charset=utf-16le"}


def test_paywall_reader_honours_the_declared_charset():
    # UTF-16 without a BOM: the marker is not ASCII bytes, the scan decodes first.
    body = PAYWALLED["/ld-bool"].encode("utf-16-le")
    response = HtmlResponse(f"{SITE}/utf16", body=body, headers=UTF16)
    (reason,) = paywall_reasons(response)
    assert reason.blocks and reason.source == "JSON-LD"


def test_paywall_markup_deep_in_the_body():
    body = ("<html><head><title>x</title></head><body>" + "<p>story</p>" * 20000
            + PAYWALLED["/rdfa"] + "</body></html>").encode()
    assert len(body) > 64 * 1024
    (reason,) = paywall_reasons(HtmlResponse(f"{SITE}/long", body=body, encoding="utf-8"))
    assert reason.source == "RDFa"


def test_paywall_reads_the_response_signals_scan():
    from tdmguard.middlewares.readers import htmlhead

    response = HtmlResponse(f"{SITE}/ld-bool", body=PAYWALLED["/ld-bool"].encode(),
                            headers={"Content-Type": "Text/HTML; charset=UTF-8"})
    # as responsesignals.py scans it: the header decoded and lower-cased
    ctype = response.headers[b"Content-Type"].decode("latin-1").lower()
    head = htmlhead.scan(response.body, content_type=ctype)
    assert head.free_marked and len(head.jsonld) == 1
    assert paywall_reasons(response)
    assert htmlhead.scan(response.body,
                         content_type=response.headers[b"Content-Type"]) is head


def test_utf16_paywall_is_dropped(web):
    _site(web)
    url = f"{SITE}/utf16"
    web.add(url, PAYWALLED["/microdata"].encode("utf-16-le"), headers=UTF16)
    (row,) = check_json(web, [url], "--user-agent", "TestBot")
    assert row["allowed"] is False and row["stage"] == "dropped"
    assert _lawful(row)[0]["source"] == "microdata"


def test_paywall_reader_ignores_non_html():
    body = b'{"isAccessibleForFree": false}'
    assert paywall_reasons(TextResponse("http://x.example/a.json", body=body,
                                        encoding="utf-8")) == []


# -- login, subscription and consent walls -----------------------------------------


WALLS = {
    "/members/story": f"{SITE}/account/login?return=/members/story",
    "/premium": "http://subscribe.paper.example/offer?from=premium",
    "/consent-first": "https://consent.portal.example/?continue=http://paper.example/x",
    "/sso-hop": f"{SITE}/hop",  # then on to a sign-in page
}


def test_redirects_to_walls_are_refused_before_the_wall_is_requested(web):
    _site(web)
    for path, target in WALLS.items():
        web.redirect(f"{SITE}{path}", target, status=302)
        if target.startswith("http://"):
            web.add(target, "<html>wall</html>")
    web.redirect(f"{SITE}/hop", f"{SITE}/users/sign-in", status=302)
    web.add(f"{SITE}/users/sign-in", "<html>sign in</html>")
    web.redirect(f"{SITE}/moved", f"{SITE}/new-home")  # an ordinary redirect
    web.add(f"{SITE}/new-home", "<html>new</html>")
    urls = [f"{SITE}{p}" for p in WALLS] + [f"{SITE}/moved"]
    rows = by_url(check_json(web, urls, "--user-agent", "TestBot"))
    for path in WALLS:
        row = rows[f"{SITE}{path}"]
        assert row["allowed"] is False and row["stage"] == "refused", row
        (reason,) = _lawful(row)
        assert "login, subscription or consent wall" in reason["detail"]
        assert row["redirect_urls"][0] == f"{SITE}{path}"
    assert rows[f"{SITE}/moved"]["allowed"] is True
    wall_urls = (set(WALLS.values()) - {f"{SITE}/hop"}) | {f"{SITE}/users/sign-in"}
    assert not wall_urls & set(web.requested())
    assert not [u for u in web.requested() if "subscribe.paper" in u or "consent." in u]


def test_wall_patterns_are_configurable(web):
    _site(web)
    web.redirect(f"{SITE}/a", f"{SITE}/members-only/a", status=302)
    web.add(f"{SITE}/members-only/a", "<html>x</html>")
    web.redirect(f"{SITE}/b", f"{SITE}/login", status=302)
    web.add(f"{SITE}/login", "<html>x</html>")
    rows = by_url(check_json(web, [f"{SITE}/a", f"{SITE}/b"], "--user-agent", "TestBot",
                             "-s", 'TDMGUARD_LOGIN_WALL_PATTERNS=["/members-only/"]'))
    assert rows[f"{SITE}/a"]["allowed"] is False
    assert _lawful(rows[f"{SITE}/a"])[0]["rule"] == "/members-only/"
    assert rows[f"{SITE}/b"]["allowed"] is True  # the user's list replaces the defaults


def test_wall_check_after_download_catches_redirects_the_precheck_missed():
    from scrapy import Request

    from tdmguard.middlewares.lawful import LawfulAccess

    crawler = _crawler()
    check = LawfulAccess.from_crawler(crawler).check
    request = Request(f"{SITE}/login", meta={"redirect_urls": [f"{SITE}/story"]})
    response = HtmlResponse(f"{SITE}/login", body=b"<html>log in</html>", request=request)
    (reason,) = check(request, response)
    assert reason.blocks and reason.source == f"{SITE}/login"
    assert check(Request(f"{SITE}/login"), HtmlResponse(f"{SITE}/login", body=b"x")) == []


@pytest.mark.parametrize("url,wall", [
    ("http://x.example/login", True),
    ("http://x.example/de/account/Login?next=/a", True),
    ("http://x.example/users/sign_in", True),
    ("http://x.example/users/sign-in", True),
    ("http://x.example/subscribe", True),
    ("http://x.example/checkout/cart", True),
    ("https://accounts.x.example/o/oauth2/auth", True),
    ("http://consent.x.example/", True),
    ("http://x.example/gdpr-consent?x=1", True),
    ("http://x.example/blog/login-tips", False),
    ("http://x.example/news/subscriber-count", False),
    ("http://x.example/articles/2026/story.html", False),
    ("http://loginpage.example/", False),
])
def test_default_wall_patterns(url, wall):
    patterns = wall_patterns(_crawler().settings)
    assert len(patterns) == len(DEFAULT_WALL_PATTERNS)
    assert any(p.search(url) for p in patterns) is wall


# -- credentials and honest identity ------------------------------------------------


@pytest.mark.parametrize("setting,message", [
    ("HTTPAUTH_USER=user", "HTTPAUTH_USER is set"),
    ("HTTPAUTH_PASS=secret", "HTTPAUTH_PASS is set"),
    ("HTTPAUTH_DOMAIN=paper.example", "HTTPAUTH_DOMAIN is set"),
    ("http_user=user", "http_user is set"),
    ('DOWNLOADER_MIDDLEWARES={"scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": 300}',
     "HttpAuthMiddleware is enabled"),
    ("USER_AGENT=Mozilla/5.0 (Windows NT 10.0)", "does not carry the product token"),
    ("TDMGUARD_LOGIN_WALL_PATTERNS=[\"(unclosed\"]", "is not a regular expression"),
    ("TDMGUARD_POLITENESS_DELAY=soon", "TDMGUARD_POLITENESS"),
])
@pytest.mark.parametrize("command", ["check", "crawl"])
def test_credentials_and_spoofing_refuse_to_start(web, command, setting, message):
    _site(web)
    proc = run_cli([command, FREE, "--user-agent", "TestBot", "-s", setting], web)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert web.requested() == []


FOLLOW_WITH_CREDENTIALS = '''
import scrapy

class Follow(scrapy.Spider):
    name = "follow"
    {attributes}

    async def start(self):
        yield scrapy.Request("http://paper.example/free",
                             meta={{"http_user": "user", "http_pass": "secret"}})
        yield scrapy.Request("http://paper.example/other",
                             headers={{"Authorization": "Basic dXNlcjpzZWNyZXQ="}})

    def parse(self, response):
        yield {{"url": response.url}}
'''

SETTINGS = """
    BOT_NAME = "proj"
    SPIDER_MODULES = ["proj.spiders"]
    ADDONS = {"tdmguard.TdmGuard": 0}
    TDMGUARD_USER_AGENT = "ProjBot"
"""


def _project(tmp_path, attributes=""):
    project = make_project(tmp_path, SETTINGS, [])
    (project / "proj" / "spiders" / "follow.py").write_text(
        FOLLOW_WITH_CREDENTIALS.format(attributes=attributes))
    return project


def test_no_request_ever_carries_credentials(tmp_path, web):
    _site(web)
    web.add(f"{SITE}/other", "<html>other</html>")
    out = tmp_path / "items.json"
    proc = scrapy_crawl(_project(tmp_path), web, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # meta credentials are ignored (HttpAuthMiddleware is off); an explicit
    # Authorization header is refused before download
    assert [item["url"] for item in json.loads(out.read_text())] == [FREE]
    assert f"{SITE}/other" not in web.requested()
    assert_no_credentials(web)


def test_spider_with_http_user_refuses_to_start(tmp_path, web):
    _site(web)
    project = _project(tmp_path, 'http_user = "user"\n    http_pass = "secret"')
    proc = scrapy_crawl(project, web, tmp_path / "items.json")
    assert "the spider sets http_user" in proc.stderr
    assert web.requested() == []


# -- none of it reaches the spider ----------------------------------------------------


def test_nothing_refused_or_dropped_reaches_the_spider(tmp_path, web):
    _site(web)
    denied = {f"{SITE}/s{status}": status for status in (401, 402, 403, 407, 451)}
    for url, status in denied.items():
        web.add(url, "<html>no</html>", status=status)
    paywalled = {f"{SITE}{p}": body for p, body in PAYWALLED.items()}
    for url, body in paywalled.items():
        web.add(url, body, headers={"Content-Type": "text/html"})
    web.redirect(f"{SITE}/members", f"{SITE}/login?next=/members", status=302)
    web.add(f"{SITE}/login?next=/members", "<html>log in</html>")
    links = [FREE, *denied, *paywalled, f"{SITE}/members"]
    web.add(f"{SITE}/", "<html>" + "".join(f'<a href="{u}">x</a>' for u in links) + "</html>")
    items = tmp_path / "items.jsonl"
    decisions = tmp_path / "decisions.jsonl"
    proc = run_cli(["crawl", f"{SITE}/", "--user-agent", "TestBot", "--output", str(items),
                    "--decisions", str(decisions)], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = {json.loads(line)["url"] for line in items.read_text().splitlines()}
    assert seen == {f"{SITE}/", FREE}
    rows = by_url([json.loads(line) for line in decisions.read_text().splitlines()])
    for url in [*denied, *paywalled]:
        assert rows[url]["stage"] == "dropped" and _lawful(rows[url])
    assert rows[f"{SITE}/login?next=/members"]["stage"] == "refused"
    assert f"{SITE}/login?next=/members" not in web.requested()
    assert_no_credentials(web)


# -- politeness -----------------------------------------------------------------


def _times(web, url):
    return [r.at for r in web.log if r.url == url]


def _gaps(times):
    return [b - a for a, b in pairwise(times)]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(web, status):
    _site(web)
    url = f"{SITE}/busy"
    web.add(url, "busy", status=status, headers={"Retry-After": "1"})
    rows = check_json(web, [url], "--user-agent", "TestBot", "-s", "RETRY_TIMES=2",
                      "-s", "TDMGUARD_POLITENESS_BACKOFF=0.1")
    times = _times(web, url)
    assert len(times) == 3  # Scrapy's RetryMiddleware retried, after each hold
    assert min(_gaps(times)) >= 0.95, _gaps(times)
    assert rows[0]["status"] == status


def test_retry_after_http_date_and_backoff(web):
    _site(web)
    url = f"{SITE}/busy"
    retry_at = int(time.time() + 4)  # HTTP dates have a resolution of 1 s
    web.add(url, "busy", status=503, headers={"Retry-After": formatdate(retry_at,
                                                                         usegmt=True)})
    check_json(web, [url], "--user-agent", "TestBot", "-s", "RETRY_TIMES=1",
               "-s", "TDMGUARD_POLITENESS_BACKOFF=0.1")
    first, second = _times(web, url)
    assert second >= retry_at - 0.05 and second - first >= 0.1

    web.log.clear()
    web.add(url, "busy", status=429)  # no Retry-After: 0.4 s, then 0.8 s
    check_json(web, [url], "--user-agent", "TestBot", "-s", "RETRY_TIMES=2",
               "-s", "TDMGUARD_POLITENESS_BACKOFF=0.4")
    gaps = _gaps(_times(web, url))
    assert gaps[0] >= 0.38 and gaps[1] >= 0.78, gaps


def test_retry_after_beyond_the_maximum_is_not_retried(web):
    _site(web)
    url = f"{SITE}/busy"
    web.add(url, "busy", status=429, headers={"Retry-After": "86400"})
    started = time.monotonic()
    check_json(web, [url], "--user-agent", "TestBot", "-s", "RETRY_TIMES=3",
               "-s", "TDMGUARD_POLITENESS_MAX_WAIT=30")
    assert web.count(url) == 1
    assert time.monotonic() - started < 30


def test_per_origin_concurrency_and_delay(web):
    _site(web)
    urls = [f"{SITE}/p{i}" for i in range(6)]
    for url in urls:
        web.add(url, "<html>x</html>", delay=0.4)
    check_json(web, urls, "--user-agent", "TestBot", "-s", "TDMGUARD_POLITENESS_DELAY=0")
    arrivals = sorted(r.at for r in web.log if r.url in urls)
    # at most 2 in flight: no 3 arrivals within one response time
    assert all(c - a >= 0.35 for a, c in zip(arrivals, arrivals[2:], strict=False)), arrivals

    web.log.clear()
    for url in urls:
        web.sites["paper.example"][url.removeprefix(SITE)].delay = 0
    check_json(web, urls, "--user-agent", "TestBot", "-s", "TDMGUARD_POLITENESS_DELAY=0.3")
    arrivals = sorted(r.at for r in web.log if r.url in urls)
    assert min(_gaps(arrivals)) >= 0.28, _gaps(arrivals)


@pytest.mark.parametrize("value,expected", [
    ("120", 120.0), (b" 5 ", 5.0), ("0", 0.0), ("-3", 0.0), ("1.5", 1.5),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("", None), (None, None),
    ("nan", None),
])
def test_retry_after_parser(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_future_date():
    now = 1_000_000_000.0
    assert retry_after_seconds(formatdate(now + 90, usegmt=True), now=now) == 90.0


# -- units ----------------------------------------------------------------------------


def _crawler(**values):
    crawler = make_crawler(settings_dict={"ADDONS": {TdmGuard: 0},
                                         "TDMGUARD_USER_AGENT": "TestBot", **values})
    crawler._apply_settings()
    return crawler


def test_addon_wiring_and_httpauth_off():
    settings = _crawler().settings
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws["scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware"] is None
    assert mws[LawfulAccessMiddleware] == 70 and mws[PolitenessMiddleware] == 570


@pytest.mark.parametrize("values,message", [
    ({"HTTPAUTH_USER": "u", "HTTPAUTH_DOMAIN": None}, "HTTPAUTH_USER"),
    # One schema words every TDMGUARD_* error: setting, value, what is accepted.
    ({"TDMGUARD_LOGIN_WALL_PATTERNS": "[not json"},
     r"TDMGUARD_LOGIN_WALL_PATTERNS='\[not json' is not usable: expected regular"),
    ({"TDMGUARD_LOGIN_WALL_PATTERNS": 5},
     "TDMGUARD_LOGIN_WALL_PATTERNS=5 is not usable: expected regular expressions: a list"),
    ({"TDMGUARD_POLITENESS_MAX_WAIT": -1},
     "TDMGUARD_POLITENESS_MAX_WAIT=-1 is not usable: expected a number of seconds >= 0"),
])
def test_addon_refuses_bad_settings(values, message):
    with pytest.raises(ConfigError, match=message):
        _crawler(**values)


def test_switched_off_checks_are_not_enforced():
    from scrapy.exceptions import NotConfigured

    crawler = _crawler(TDMGUARD_LAWFUL_ACCESS_ENABLED=False, TDMGUARD_POLITENESS_ENABLED=False)
    with pytest.raises(NotConfigured):
        PolitenessMiddleware.from_crawler(crawler)
    crawler.spider = None
    with pytest.raises(NotConfigured):
        LawfulAccessMiddleware.from_crawler(crawler)


def test_comma_separated_patterns():
    patterns = wall_patterns(_crawler(TDMGUARD_LOGIN_WALL_PATTERNS="/a/, /b/").settings)
    assert [p.pattern for p in patterns] == ["/a/", "/b/"]


def test_docstring_mentions_every_setting():
    import tdmguard.middlewares.lawful as lawful
    import tdmguard.middlewares.politeness as politeness

    for module, names in (
            (lawful, ("TDMGUARD_LAWFUL_ACCESS_ENABLED", "TDMGUARD_LOGIN_WALL_PATTERNS")),
            (politeness, ("TDMGUARD_POLITENESS_ENABLED", "TDMGUARD_POLITENESS_CONCURRENCY",
                          "TDMGUARD_POLITENESS_DELAY", "TDMGUARD_POLITENESS_BACKOFF",
                          "TDMGUARD_POLITENESS_MAX_WAIT"))):
        for name in names:
            assert name in textwrap.dedent(module.__doc__ or ""), (module.__name__, name)
