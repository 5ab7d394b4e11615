"""Records that say exactly what happened: regression tests for evidence that
said the wrong thing (issue 10, item 3), each over a real crawl's ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_cli

AI_TXT = "User-Agent: *\nDisallow: /\n"


@pytest.fixture
def ledger(web, tmp_path: Path) -> Path:
    # Two origins serve byte-identical ai.txt files: stored once, fetched twice.
    for host in ("a.example", "b.example"):
        web.add(f"http://{host}/robots.txt", "User-agent: *\nDisallow: /private/\n")
        web.add(f"http://{host}/ai.txt", "User-Agent: *\nAllow: /\n")
        web.add(f"http://{host}/", '<html><head></head><body>'
                '<a href="/about.html">a</a><a href="/private/x">p</a>'
                '<a href="/noai.html">n</a></body></html>')
        web.add(f"http://{host}/about.html", "<html><body>about</body></html>")
        web.add(f"http://{host}/noai.html",
                '<html><head><meta name="robots" content="noai"></head></html>')
    db = tmp_path / "ledger.db"
    proc = run_cli(["crawl", "http://a.example/", "http://b.example/", "--user-agent",
                    "TestBot", "--db", str(db)], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return db


def evidence(db: Path, *args: str) -> dict:
    proc = run_cli(["evidence", *args, "--db", str(db), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_each_decision_cites_its_own_origins_document(ledger: Path) -> None:
    for host in ("a.example", "b.example"):
        ev = evidence(ledger, f"http://{host}/about.html")
        (rec,) = ev["records"]
        cited = {s["kind"]: s for s in rec["snapshots"]}
        assert cited["ai.txt"]["url"] == f"http://{host}/ai.txt"
        assert cited["robots.txt"]["url"] == f"http://{host}/robots.txt"
    # The same bytes, stored once.
    a = evidence(ledger, "http://a.example/about.html")["records"][0]["snapshots"]
    b = evidence(ledger, "http://b.example/about.html")["records"][0]["snapshots"]
    assert {s["sha256"] for s in a if s["kind"] == "ai.txt"} == \
        {s["sha256"] for s in b if s["kind"] == "ai.txt"}


@pytest.mark.parametrize("asked", [
    "http://a.example/about.html#top",
    "HTTP://A.EXAMPLE/about.html",
    "http://a.example:80/about.html",
    "http://A.example:80/about.html#section-2",
])
def test_url_lookup_variants_find_the_decision(ledger: Path, asked: str) -> None:
    ev = evidence(ledger, asked)
    assert [r["url"] for r in ev["records"]] == ["http://a.example/about.html"]
    assert ev["looked_up"][0] == "http://a.example/about.html"
    proc = run_cli(["evidence", asked, "--db", str(ledger)])
    assert "Looked up as stored by a crawl: http://a.example/about.html" in proc.stdout


def test_a_url_never_decided_still_says_so(ledger: Path) -> None:
    ev = evidence(ledger, "http://a.example/nothing-here")
    assert ev["records"] == []
    proc = run_cli(["evidence", "http://a.example/nothing-here", "--db", str(ledger)])
    assert "No decision recorded for this URL." in proc.stdout


def test_prefix_lists_every_decision_under_it(ledger: Path) -> None:
    ev = evidence(ledger, "http://b.example/", "--prefix")
    urls = {r["url"] for r in ev["records"]}
    assert urls == {"http://b.example/", "http://b.example/about.html",
                    "http://b.example/private/x", "http://b.example/noai.html"}
    assert not any(r["url"].startswith("http://a.example") for r in ev["records"])
    proc = run_cli(["evidence", "--domain", "b.example", "--prefix", "--db", str(ledger)])
    assert proc.returncode == 2 and "--prefix goes with a URL" in proc.stderr


def test_every_decision_carries_the_user_agent_sent(ledger: Path) -> None:
    ev = evidence(ledger, "http://a.example/", "--prefix")
    by_url = {r["url"]: r for r in ev["records"]}
    refused = by_url["http://a.example/private/x"]
    assert refused["stage"] == "refused"
    agents = {r["user_agent"] for r in ev["records"]}
    assert len(agents) == 1 and next(iter(agents)).startswith("TestBot/")


def test_check_output_carries_the_user_agent(web) -> None:
    web.add("http://c.example/robots.txt", "User-agent: *\nDisallow: /\n")
    proc = run_cli(["check", "http://c.example/x", "--user-agent", "TestBot",
                    "--format", "json"], web)
    (row,) = json.loads(proc.stdout)
    assert not row["allowed"] and row["user_agent"].startswith("TestBot/")


def test_summary_counts_refused_and_dropped_apart(ledger: Path) -> None:
    proc = run_cli(["summary", "--db", str(ledger), "--format", "json"])
    s = json.loads(proc.stdout)["section_3_1"]
    # /private/x on each origin never requested; /noai.html received, then dropped.
    assert s["pages_refused_by_protocol"] == {"robots.txt": 2}
    assert s["pages_dropped_by_protocol"] == {"noai": 2}
    proc = run_cli(["summary", "--db", str(ledger)])
    assert "robots.txt: 2 pages refused before download" in proc.stdout
    assert "noai: 2 pages dropped after download" in proc.stdout


def test_a_finished_crawl_with_redirects_has_no_interrupted_decision(web, tmp_path) -> None:
    # A redirect hop is decided by its follow-up (redirect_urls); nothing may be
    # left "in flight" for the close to record as interrupted.
    web.add("http://r.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://r.example/", '<a href="/old">o</a><a href="/to-private">p</a>'
            '<a href="/gone">g</a>')
    web.redirect("http://r.example/old", "http://r.example/new")
    web.add("http://r.example/new", "<html>new</html>")
    web.redirect("http://r.example/to-private", "http://r.example/private/x")
    web.redirect("http://r.example/gone", "http://r.example/new")  # a duplicate target
    db = tmp_path / "ledger.db"
    proc = run_cli(["crawl", "http://r.example/", "--user-agent", "TestBot", "--db", str(db)],
                   web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ev = evidence(db, "http://r.example/", "--prefix")
    assert not [r for r in ev["records"] if "interrupted" in (r.get("error") or "")]
    stages = {r["url"]: r["stage"] for r in ev["records"]}
    assert stages["http://r.example/new"] == "fetched"
    assert stages["http://r.example/private/x"] == "refused"
    assert "http://r.example/private/x" not in web.requested()
