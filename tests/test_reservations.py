"""Rightsholder reservations: an upheld complaint's URL or domain is never requested.

The reader alone (inline JSON Lines, garbage included), then the real CLI
against the fixture web: one ``check`` and one ``crawl`` with a reservations
file, one ``check`` with a malformed file and one with a missing file. Each
asserts from the fixture web's log that no reserved URL was ever requested.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.middlewares.adapters import ReservationLists
from tdmguard.middlewares.readers.reservations import (
    PROTOCOL,
    ReservationFile,
    Reservations,
)

from .conftest import by_url, check_json, run_cli


def line(pattern: str, kind: str, ref: str, withdrawn: str | None = None) -> str:
    return json.dumps({"pattern": pattern, "kind": kind, "complaint": ref,
                       "added": "2026-12-01T10:00:00Z", "withdrawn": withdrawn})


LINES = [
    line("http://gallery.example/photos/", "url-prefix", "TDMC-2026-000101"),
    line("archive.example", "domain", "TDMC-2026-000102"),
    line("http://open.example/was-reserved", "url-prefix", "TDMC-2026-000103"),
    line("http://open.example/was-reserved", "url-prefix", "TDMC-2026-000103",
         withdrawn="2026-12-02T10:00:00Z"),
]
RESERVED = {
    "http://gallery.example/photos/1.html": "TDMC-2026-000101",
    "http://gallery.example/photos/sub/2.html?size=big": "TDMC-2026-000101",
    "http://archive.example/": "TDMC-2026-000102",
    "http://www.archive.example/old.html": "TDMC-2026-000102",
}
ALLOWED = [
    "http://gallery.example/about.html",
    "http://open.example/was-reserved",
    "http://notarchive.example/",
]


def parse(*lines: str | bytes) -> Reservations:
    body = b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines)
    return Reservations([ReservationFile.parse(body, "r.jsonl")])


def refs(reasons: list[Any]) -> list[str]:
    return [r["detail"] if isinstance(r, dict) else r.detail for r in reasons]


# -- the reader ---------------------------------------------------------------------


def test_prefixes_domains_and_withdrawals():
    found = parse(*LINES)
    assert len(found) == 2
    for url, ref in RESERVED.items():
        reasons = found.evaluate(url)
        assert [r.verdict for r in reasons] == ["reserved"], url
        assert reasons[0].protocol == PROTOCOL
        assert ref in reasons[0].detail and reasons[0].source == "r.jsonl"
    for url in ALLOWED:
        assert found.evaluate(url) == [], url


@pytest.mark.parametrize("url", [
    "https://gallery.example/photos/x",  # http and https are one site
    "http://GALLERY.example./photos/x",  # case, trailing dot
    "http://gallery.example:8080/photos/x",  # a pattern without a port: any port
    "http://gallery.example/photos/%78",  # compared percent-decoded
    "http://deep.www.archive.example/",
    "http://xn--bcher-kva.example/a",
])
def test_same_site_spelled_differently(url):
    found = parse(*LINES, line("bücher.example", "domain", "TDMC-2026-000104"))
    assert found.evaluate(url), url


def test_a_withdrawal_lifts_only_its_own_complaint_and_can_be_undone():
    a = line("x.example", "domain", "TDMC-1")
    b = line("x.example", "domain", "TDMC-2")
    gone = line("x.example", "domain", "TDMC-1", withdrawn="2026-12-03T00:00:00Z")
    assert refs(parse(a, b, gone).evaluate("http://x.example/")) == \
        refs(parse(b).evaluate("http://x.example/"))
    assert parse(a, gone).evaluate("http://x.example/") == []
    assert parse(a, gone, a).evaluate("http://x.example/")  # reserved again


@pytest.mark.parametrize("bad", [
    b"{not json",
    b"[1, 2]",
    b'{"pattern": "x.example", "kind": "host", "complaint": "C", "added": "2026-01-01"}',
    b'{"pattern": "x.example", "kind": "domain", "added": "2026-01-01"}',
    b'{"pattern": "x.example", "kind": "domain", "complaint": "C", "added": "yesterday"}',
    b'{"pattern": "ftp://x.example/", "kind": "url-prefix", "complaint": "C", '
    b'"added": "2026-01-01"}',
    b'{"pattern": "x.example/path", "kind": "domain", "complaint": "C", '
    b'"added": "2026-01-01"}',
    b'{"pattern": "x.example", "kind": "domain", "complaint": "C", "added": "2026-01-01", '
    b'"withdrawn": 1}',
    b"\xff\xfe binary \x00",
])
def test_any_malformed_line_fails_closed_for_every_url(bad):
    found = parse(LINES[0], bad)
    for url in ["http://anything.example/", *RESERVED]:
        reasons = found.evaluate(url)
        assert [r.verdict for r in reasons] == ["unreadable"]
        assert "r.jsonl" in reasons[0].detail and "every request" in reasons[0].detail
    assert "line 2" in found.evaluate("http://a.example/")[0].detail or bad[0] == 0xFF


def test_lists_reread_when_changed_and_a_missing_file_fails_closed(tmp_path):
    path = tmp_path / "r.jsonl"
    lists = ReservationLists([str(path)], recheck=0)
    assert lists.get().evaluate("http://archive.example/")[0].verdict == "unreadable"
    path.write_text(LINES[1] + "\n", encoding="utf-8")
    assert lists.get().evaluate("http://archive.example/")[0].verdict == "reserved"
    path.write_text("", encoding="utf-8")
    assert lists.get().evaluate("http://archive.example/") == []
    assert lists.documents()[0][0] == f"reservations:{path.resolve().as_uri()}"


# -- an unusable list, over the fixture web -------------------------------------------------


def test_a_malformed_list_refuses_everything_before_any_request(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(LINES[0] + "\n{oops\n", encoding="utf-8")
    urls = [*RESERVED, *ALLOWED]
    with FixtureWeb() as web:
        for url in urls:
            web.add(url, "<html>page</html>")
        rows = by_url(check_json(web, urls, "--user-agent", "TestBot",
                                 "-s", f"TDMGUARD_RESERVATIONS={bad}"))
        assert web.requested() == []
    assert set(rows) == set(urls)
    for row in rows.values():
        assert row["allowed"] is False, row
        (reason,) = [r for r in row["reasons"] if r["protocol"] == PROTOCOL]
        assert reason["verdict"] == "unreadable" and "line 2" in reason["detail"]
        assert "every request" in reason["detail"]


# -- the feedback loop: an upheld complaint changes every later crawl --------------------------


RESERVED_BY_UPHOLD = ["http://shop.example/books/1", "http://mirror.example/",
                      "http://www.mirror.example/a"]
FREE = ["http://shop.example/about"]


def uphold(tmp_path: Path) -> tuple[str, Path, Path]:
    """A complaint received, acknowledged, reviewed, then upheld with the real
    CLI's ``--reserve``: its reference, the toml and the reservations list."""
    from tdmguard.policy.complaints.intake import validate
    from tdmguard.policy.complaints.register import Register

    lists = tmp_path / "reservations.jsonl"
    toml = tmp_path / "tdmguard.toml"
    toml.write_text(f'[complaints]\ncontact_email = "copyright@example.org"\n'
                    f'register = "{tmp_path / "c.db"}"\noutbox = "{tmp_path / "outbox"}"\n'
                    f'reservations = "{lists}"\n', encoding="utf-8")
    sub, errors = validate({
        "complainant_name": "Ada Author", "complainant_email": "ada@example.org",
        "capacity": "rightsholder", "rightsholder": "Ada Author",
        "work_description": "The Novel", "urls": "http://shop.example/books/1",
        "domains": "mirror.example", "commitment": "1.3", "good_faith": True,
        "description": "Crawled although robots.txt reserved it for AI training."})
    assert sub is not None, errors
    with Register(str(tmp_path / "c.db")) as register:
        ref = register.submit(sub, channel="web")
        for action in ("acknowledge", "review"):
            register.transition(ref, action, by="test")
    upheld = run_cli(["complaints", "uphold", ref, "--config", str(toml), "--by", "test",
                      "--why", "robots.txt reserved it", "--no-email",
                      "--reserve", "url-prefix", "http://shop.example/books/",
                      "--reserve", "domain", "mirror.example"])
    assert upheld.returncode == 0, upheld.stderr[-2000:]
    return ref, toml, lists


HUB = "http://shop.example/"


def serve_uphold_web(web: FixtureWeb) -> None:
    links = ["/books/1", "/books/2?x=1", "/about"]
    web.add(HUB, "<html>" + "".join(f'<a href="{u}">{u}</a>' for u in links) + "</html>")
    for url in [*RESERVED_BY_UPHOLD, *FREE, "http://shop.example/books/2?x=1"]:
        web.add(url, "<html>page</html>")


def assert_refused_for(ref: str, rows: dict[str, Any], urls: list[str]) -> None:
    for url in urls:
        assert rows[url]["allowed"] is False, rows[url]
        assert any(r["protocol"] == PROTOCOL and ref in r["detail"]
                   for r in rows[url]["reasons"]), rows[url]


def never_requested(web: FixtureWeb) -> None:
    requested = web.requested()
    assert not any(u.startswith(("http://shop.example/books", "http://mirror.example",
                                 "http://www.mirror.example")) for u in requested), requested


def test_an_upheld_complaint_is_refused_by_crawl_and_check_until_withdrawn(tmp_path):
    ref, toml, lists = uphold(tmp_path)
    setting = ("-s", f"TDMGUARD_RESERVATIONS={lists}")
    reserved = RESERVED_BY_UPHOLD
    db, decisions = tmp_path / "ledger.db", tmp_path / "d.jsonl"
    with FixtureWeb() as web:
        serve_uphold_web(web)
        # A crawl: the reserved seed refused, links to reserved URLs dropped.
        crawl = run_cli(["crawl", HUB, "http://mirror.example/", "--user-agent", "TestBot",
                         "--db", str(db), "--decisions", str(decisions), *setting], web)
        assert crawl.returncode == 0, crawl.stderr[-2000:]
        rows = by_url([json.loads(x) for x in decisions.read_text().splitlines()])
        assert_refused_for(ref, rows, ["http://mirror.example/", "http://shop.example/books/1",
                                       "http://shop.example/books/2?x=1"])
        assert rows[FREE[0]]["allowed"] is True
        # check, URL by URL.
        rows = by_url(check_json(web, reserved + FREE, "--user-agent", "TestBot", *setting))
        assert_refused_for(ref, rows, reserved)
        assert rows[FREE[0]]["allowed"] is True
        assert FREE[0] in web.requested()
        never_requested(web)

        # Withdrawing the URL prefix (a recorded transition) lifts it, and only it.
        lifted = run_cli(["complaints", "withdraw-reservation", ref,
                          "http://shop.example/books/", "--config", str(toml), "--by", "test"])
        assert lifted.returncode == 0, lifted.stderr[-2000:]
        rows = by_url(check_json(web, reserved[:2], "--user-agent", "TestBot", *setting))
        assert rows[reserved[0]]["allowed"] is True
        assert_refused_for(ref, rows, [reserved[1]])

    # The ledger cites the list's version in each refusal.
    with sqlite3.connect(db) as conn:
        ((kind, uri, body),) = conn.execute(
            "select kind, url, body from snapshots where kind like 'reservations:%'").fetchall()
        cited = {url for (url,) in conn.execute(
            "select d.url from decision_snapshots l join decisions d on d.id = l.decision_id "
            "where l.kind like 'reservations:%'")}
    text = body if isinstance(body, str) else body.decode()
    assert kind == f"reservations:{uri}" and ref in text
    assert cited == {"http://mirror.example/", "http://shop.example/books/1",
                     "http://shop.example/books/2?x=1"}


def test_an_upheld_complaint_is_refused_by_audit_without_a_request(tmp_path):
    ref, _toml, lists = uphold(tmp_path)
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(RESERVED_BY_UPHOLD + FREE) + "\n", encoding="utf-8")
    with FixtureWeb() as web:
        serve_uphold_web(web)
        audit = run_cli(["audit", str(urls), "--user-agent", "TestBot", "-q",
                         "-s", f"TDMGUARD_RESERVATIONS={lists}"], web)
        assert audit.returncode == 0, audit.stderr[-2000:]
        verdicts = by_url([json.loads(x) for x in audit.stdout.splitlines()])
        assert_refused_for(ref, verdicts, RESERVED_BY_UPHOLD)
        assert verdicts[FREE[0]]["allowed"] is True
        never_requested(web)
