"""End-to-end: a host on a blocklist is never contacted, not even for robots.txt.

Real crawls (the tdmguard CLI, or ``scrapy crawl`` in a user's project with the
add-on) against the fixture web; every test asserts from its request log that
no request reached a listed host, and that none carried credentials.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tdmguard.blocklists import load_blocklists
from tdmguard.middlewares.addon import TdmGuard
from tdmguard.middlewares.blocklist import (
    BlocklistMiddleware,
    BlocklistSpiderMiddleware,
    decoded_host,
)
from tdmguard.middlewares.blocklist_settings import (
    blocklist_paths,
    blocklists_from_settings,
    describe_blocklists,
)
from tdmguard.middlewares.settings import ConfigError

from .compat import make_crawler as get_crawler  # Scrapy 2.14 and 2.19
from .conftest import ROOT, by_url, check_json, run_cli
from .test_addon import make_project, scrapy_crawl

DATA = ROOT / "tests" / "data" / "blocklists"
COURT, WATCH, MALFORMED = DATA / "test-court.txt", DATA / "test-watch.txt", DATA / "malformed.txt"
COURT_LIST = load_blocklists([COURT], include_shipped=False)
ALL_LISTS = load_blocklists([COURT, WATCH])

#: Links to listed hosts, in the forms pages really use.
BLOCKED_LINKS = [
    "http://listed.to/a",
    "http://www.listed.to/b",
    "http://WWW.LISTED.TO./c",  # upper case and a trailing dot
    "http://deep.sub.listed.to/d",
    "http://listed.to:8080/e",
    "https://listed.to/f",
    "http://bücher.example/g",  # Unicode link, Unicode entry
    "http://xn--bcher-kva.example/h",  # punycode link, Unicode entry
    "http://BÜCHER.example/i",
    "http://münchen.example/j",  # Unicode link, punycode entry
    "http://www.xn--mnchen-3ya.example./k",
    "http://piracy.example/l",
    "http://b%C3%BCcher.example/m",  # percent-encoded UTF-8
]
LOOK_ALIKES = [
    "http://not-listed.to/",
    "http://listed.to.example.com/",
    "http://bucher.example/",
    "http://notpiracy.example/",
]


def listed(blocklists, url_or_host):
    """Whether a URL or host is listed, also with its host percent-decoded."""
    decoded = decoded_host(url_or_host if "//" in url_or_host else f"//{url_or_host}")
    return any(blocklists.match(v) for v in (url_or_host, decoded) if v)


def assert_no_blocked_host_contacted(web, blocklists=ALL_LISTS):
    for logged in web.log:
        assert not listed(blocklists, logged.url), logged.url
        assert not listed(blocklists, logged.headers.get("Host", "")), logged.headers
        assert "Authorization" not in logged.headers, logged.url


def _serve_everything(web):
    """Every listed host answers, so any request to one would show in the log."""
    for url in BLOCKED_LINKS + LOOK_ALIKES:
        if url.startswith("http://"):
            web.add(url, f"<html>{url}</html>")
    for host in ("listed.to", "www.listed.to", "xn--bcher-kva.example", "piracy.example",
                 "xn--mnchen-3ya.example", "advisory.example"):
        web.add(f"http://{host}/robots.txt", "User-agent: *\nAllow: /\n")
        web.add(f"http://{host}/", "<html>listed</html>")


def _blocklist_reason(row):
    return [r for r in row["reasons"] if r["protocol"] == "blocklist"]


def test_listed_hosts_are_refused_without_any_request(web):
    _serve_everything(web)
    direct = ["http://listed.to/", "http://www.listed.to/x", "http://deep.sub.listed.to/",
              "http://listed.to:8080/", "http://xn--bcher-kva.example/",
              "http://xn--mnchen-3ya.example/p", "http://piracy.example/"]
    rows = check_json(web, direct + LOOK_ALIKES, "--user-agent", "TestBot",
                      "--blocklist", str(COURT))
    found = by_url(rows)
    for url in direct:
        row = found[url]
        assert row["allowed"] is False and row["stage"] == "refused", row
        (reason,) = _blocklist_reason(row)
        assert reason["verdict"] == "reserved"
        assert reason["source"] == "test-court"
        assert reason["rule"] in {"listed.to", "xn--bcher-kva.example",
                                  "xn--mnchen-3ya.example", "piracy.example"}
        assert "edition 2026-01-01" in reason["detail"]
        assert "Test Court of Appeal" in reason["detail"]
    for url in LOOK_ALIKES:
        assert found[url]["allowed"] is True, found[url]
        assert url in web.requested()
    assert_no_blocked_host_contacted(web)  # not even for robots.txt


def test_links_to_listed_hosts_are_dropped_and_recorded(tmp_path, web):
    _serve_everything(web)
    hub = "http://hub.example/"
    web.add(hub, "<html><body>" + "".join(
        f'<a href="{u}">{u}</a>' for u in BLOCKED_LINKS + LOOK_ALIKES) + "</body></html>")
    db = tmp_path / "ledger.db"
    project = make_project(tmp_path, f"""
        BOT_NAME = "proj"
        SPIDER_MODULES = ["proj.spiders"]
        ADDONS = {{"tdmguard.TdmGuard": 0}}
        TDMGUARD_USER_AGENT = "ProjBot"
        TDMGUARD_BLOCKLISTS = [{str(COURT)!r}]
        TDMGUARD_DB = {str(db)!r}
    """, [hub])
    out = tmp_path / "items.json"
    proc = scrapy_crawl(project, web, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = {item["url"] for item in json.loads(out.read_text())}
    assert seen == {hub, *LOOK_ALIKES}
    assert_no_blocked_host_contacted(web)

    with sqlite3.connect(db) as conn:
        rows = conn.execute("select url, allowed, stage, reasons from decisions").fetchall()
        (lists,) = conn.execute("select blocklists from crawls").fetchone()
    refused = {url: json.loads(reasons) for url, allowed, stage, reasons in rows
               if stage == "refused"}
    # One decision per dropped link (the same host spelled differently is one URL
    # once Scrapy has normalised it), each naming the list, edition and entry.
    assert len(refused) == len(BLOCKED_LINKS)
    for url, reasons in refused.items():
        assert listed(COURT_LIST, url), url
        assert [r["protocol"] for r in reasons] == ["blocklist"]
        assert reasons[0]["source"] == "test-court"
    described = {row["name"]: row for row in json.loads(lists)}
    assert described["test-court"]["edition"] == "2026-01-01"
    assert described["test-court"]["entries"] >= 4
    assert described["be-antwerp-court-of-appeal-2011"]["kind"] == "authoritative"


def test_crawl_cli_refuses_seeds_and_drops_links(tmp_path, web):
    _serve_everything(web)
    hub = "http://hub.example/"
    web.add(hub, '<html><a href="http://listed.to/a">a</a><a href="/ok">ok</a></html>')
    web.add("http://hub.example/ok", "<html>ok</html>")
    decisions = tmp_path / "d.jsonl"
    proc = run_cli(["crawl", hub, "http://listed.to/", "--user-agent", "TestBot",
                    "--blocklist", str(COURT), "--decisions", str(decisions)], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = by_url([json.loads(line) for line in decisions.read_text().splitlines()])
    assert rows["http://listed.to/"]["stage"] == "refused"
    assert _blocklist_reason(rows["http://listed.to/a"])[0]["rule"] == "listed.to"
    assert rows["http://hub.example/ok"]["allowed"] is True
    assert_no_blocked_host_contacted(web)


def test_redirect_to_a_listed_host_is_refused(web):
    _serve_everything(web)
    web.add("http://ok.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.redirect("http://ok.example/go", "http://www.listed.to/")
    web.redirect("http://ok.example/go-idn", "http://BÜCHER.example./x", status=302)
    rows = check_json(web, ["http://ok.example/go", "http://ok.example/go-idn"],
                      "--user-agent", "TestBot", "--blocklist", str(COURT))
    for row in rows:
        assert row["allowed"] is False and row["stage"] == "refused"
        assert _blocklist_reason(row)[0]["source"] == "test-court"
        assert row["final_url"] != row["url"]
    assert_no_blocked_host_contacted(web)


def test_robots_redirected_to_a_listed_host_fails_closed(web):
    _serve_everything(web)
    web.redirect("http://s.example/robots.txt", "http://listed.to/robots.txt")
    web.add("http://s.example/page", "<html>page</html>")
    rows = check_json(web, ["http://s.example/page"], "--user-agent", "TestBot",
                      "--blocklist", str(COURT))
    assert rows[0]["allowed"] is False
    assert rows[0]["reasons"][0]["protocol"] == "robots.txt"
    assert rows[0]["reasons"][0]["verdict"] == "unreadable"
    assert "blocklisted host" in rows[0]["reasons"][0]["detail"]
    assert web.requested() == ["http://s.example/robots.txt"]


def test_advisory_lists_block_by_default_and_can_only_warn(web):
    _serve_everything(web)
    url = "http://advisory.example/"
    rows = check_json(web, [url], "--user-agent", "TestBot", "--blocklist", str(WATCH))
    (reason,) = _blocklist_reason(rows[0])
    assert rows[0]["allowed"] is False
    assert (reason["source"], reason["verdict"]) == ("test-watch", "reserved")
    assert "advisory list" in reason["detail"]
    assert web.requested() == []

    proc = run_cli(["check", url, "--user-agent", "TestBot", "--blocklist", str(WATCH),
                    "--format", "json", "-s", "TDMGUARD_BLOCKLIST_ADVISORY=warn"], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(proc.stdout)[0]
    (reason,) = _blocklist_reason(row)
    assert row["allowed"] is True and row["stage"] == "fetched"
    assert reason["verdict"] == "unavailable" and "only warn" in reason["detail"]
    assert "advisory list test-watch" in proc.stderr  # a WARNING, once per host
    assert url in web.requested()


def test_shipped_lists_apply_unless_switched_off(web):
    url = "http://www.thepiratebay.org/"
    web.add(url, "<html>x</html>")
    rows = check_json(web, [url], "--user-agent", "TestBot")
    (reason,) = _blocklist_reason(rows[0])
    assert (reason["source"], reason["rule"]) == ("be-antwerp-court-of-appeal-2011",
                                                  "thepiratebay.org")
    assert web.requested() == []
    rows = check_json(web, [url], "--user-agent", "TestBot",
                      "-s", "TDMGUARD_BLOCKLIST_SHIPPED=False")
    assert rows[0]["allowed"] is True and url in web.requested()


@pytest.mark.parametrize("args", [
    ["--blocklist", "no/such/list.txt"],
    ["-s", "TDMGUARD_BLOCKLISTS=no/such/list.txt"],
    ["-s", "TDMGUARD_BLOCKLIST_ADVISORY=ignore"],
])
@pytest.mark.parametrize("command", ["check", "crawl"])
def test_bad_list_configuration_is_one_line_exit_2(web, command, args):
    web.add("http://s.example/", "<html>x</html>")
    proc = run_cli([command, "http://s.example/", "--user-agent", "TestBot", *args], web)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "TDMGUARD_BLOCKLIST" in proc.stderr
    assert web.requested() == []


def test_malformed_line_is_a_warning_naming_file_and_line(web):
    web.add("http://good.example/", "<html>x</html>")
    proc = run_cli(["check", "http://good.example/", "http://s.example/", "--user-agent",
                    "TestBot", "--blocklist", str(MALFORMED), "--format", "json"], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "malformed.txt:6: whitespace inside an entry" in proc.stderr
    assert "malformed.txt:7: a bare public suffix" in proc.stderr
    rows = by_url(json.loads(proc.stdout))
    assert _blocklist_reason(rows["http://good.example/"])[0]["source"] == "malformed"
    assert "http://good.example/" not in web.requested()


def test_missing_list_in_a_project_stops_the_crawl_before_any_request(tmp_path, web):
    web.add("http://pub.example/", "<html>x</html>")
    project = make_project(tmp_path, """
        BOT_NAME = "proj"
        SPIDER_MODULES = ["proj.spiders"]
        ADDONS = {"tdmguard.TdmGuard": 0}
        TDMGUARD_USER_AGENT = "ProjBot"
        TDMGUARD_BLOCKLISTS = ["no/such/list.txt"]
    """, ["http://pub.example/"])
    proc = scrapy_crawl(project, web, tmp_path / "out.json")
    assert "blocklist file not found: no/such/list.txt" in proc.stderr
    assert web.requested() == []


# -- units ----------------------------------------------------------------------


def _crawler(**values):
    crawler = get_crawler(settings_dict={"ADDONS": {TdmGuard: 0},
                                         "TDMGUARD_USER_AGENT": "TestBot", **values})
    crawler._apply_settings()
    return crawler


def test_addon_installs_both_middlewares_before_robots():
    settings = _crawler().settings
    assert settings.getdict("DOWNLOADER_MIDDLEWARES")[BlocklistMiddleware] == 60
    assert settings.getdict("SPIDER_MIDDLEWARES")[BlocklistSpiderMiddleware] == 60


def test_settings_forms_and_shared_load():
    crawler = _crawler(TDMGUARD_BLOCKLISTS=f"{COURT}, {WATCH}")
    assert blocklist_paths(crawler.settings) == [str(COURT), str(WATCH)]
    first = blocklists_from_settings(crawler.settings)
    assert blocklists_from_settings(_crawler(TDMGUARD_BLOCKLISTS=[str(COURT), str(WATCH)])
                                    .settings) is first  # loaded once per process
    rows = describe_blocklists(_crawler(TDMGUARD_BLOCKLISTS=[str(WATCH)],
                                        TDMGUARD_BLOCKLIST_ADVISORY="warn").settings)
    assert {r["name"]: r["enforcement"] for r in rows}["test-watch"] == "warn"
    assert describe_blocklists(_crawler(TDMGUARD_BLOCKLIST_ENABLED=False).settings) == []
    with pytest.raises(ConfigError, match="TDMGUARD_BLOCKLISTS"):
        _crawler(TDMGUARD_BLOCKLISTS={"a": 1})


def test_middleware_stats_and_aux_requests():
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    from tdmguard.middlewares.exceptions import Refused

    crawler = _crawler(TDMGUARD_BLOCKLISTS=[str(COURT)], TDMGUARD_BLOCKLIST_SHIPPED=False)
    mw = BlocklistMiddleware.from_crawler(crawler)
    with pytest.raises(Refused) as caught:
        mw.process_request(Request("http://a.b.listed.to/x"))
    assert caught.value.reasons[0].rule == "listed.to"
    with pytest.raises(IgnoreRequest) as caught:
        mw.process_request(Request("http://listed.to/robots.txt",
                                   meta={"tdmguard_aux": "robots.txt"}))
    assert not isinstance(caught.value, Refused)
    assert mw.process_request(Request("http://not-listed.to/")) is None
    stats = crawler.stats.get_stats()
    assert stats["tdmguard/blocklist/blocked/test-court"] == 1
    assert stats["tdmguard/blocklist/aux_blocked/test-court"] == 1


def test_demo_sample_web_never_contacts_its_blocklisted_sites(tmp_path):
    from tdmguard.crawler.sampleweb import build_sample_web

    decisions = tmp_path / "d.jsonl"
    with build_sample_web() as web:
        proc = run_cli(["crawl", "http://paper.example/", "http://thepiratebay.org/",
                        "http://1337x.to/", "--user-agent", "DemoBot",
                        "--decisions", str(decisions)], web)
        assert proc.returncode == 0, proc.stderr[-3000:]
        shipped = load_blocklists()
        assert not [r.url for r in web.log if shipped.match(r.url)]
        assert "http://paper.example/news/free-story" in web.requested()
    rows = by_url([json.loads(line) for line in decisions.read_text().splitlines()])
    for url, source in [("http://thepiratebay.org/", "be-antwerp-court-of-appeal-2011"),
                        ("http://thepiratebay.org/torrent/1", "be-antwerp-court-of-appeal-2011"),
                        ("http://1337x.to/movie/1", "eu-counterfeit-piracy-watch-list")]:
        assert _blocklist_reason(rows[url])[0]["source"] == source, url
    protocols = {reason["protocol"] for row in rows.values() for reason in row["reasons"]
                 if reason["verdict"] in ("reserved", "unreadable")}
    assert protocols == {"blocklist", "lawful-access"}
    assert rows["http://paper.example/news/free-story"]["allowed"] is True
