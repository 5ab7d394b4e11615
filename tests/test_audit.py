"""``tdmguard audit`` on the fixture web: inputs in every format, many origins,
malformed rows, a blocklisted host, --history from WARC captures, --fetch-pages,
and resuming after an interruption. Three CLI runs shared by the assertions."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tdmguard.crawler.audit_history import History, flag
from tdmguard.crawler.audit_inputs import iso_time
from tdmguard.crawler.fixtureweb import FixtureWeb

from .conftest import run_cli

UA = ("--user-agent", "AuditBot", "-s", "TDMGUARD_POLITENESS_DELAY=0")
MANY = [f"http://site{i}.example" for i in range(12)]


def add_web(web: FixtureWeb) -> None:
    web.add("http://allow.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://allow.example:8080/robots.txt", "User-agent: *\nDisallow: /\n")
    web.add("http://deny.example/robots.txt", "User-agent: AuditBot\nDisallow: /\n")
    web.add("http://down.example/robots.txt", "busy", status=503)
    web.add("http://tdm.example/.well-known/tdmrep.json",
            json.dumps([{"location": "/*", "tdm-reservation": 1}]),
            headers={"Content-Type": "application/json"})
    web.add("http://blocked.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://hist-a.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://hist-b.example/robots.txt", "User-agent: *\nDisallow: /news/\n")
    for origin in MANY:
        web.add(f"{origin}/robots.txt", "User-agent: *\nDisallow: /no/\n")


def warc(path: Path, captures: list[tuple[str, str, int, str]]) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, date, status, body in captures:
            http = StatusAndHeaders(f"{status} X", [("Content-Type", "text/plain")],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body.encode()), length=len(body.encode()),
                http_headers=http, warc_headers_dict={"WARC-Date": date}))


def main_run(tmp: Path) -> dict[str, Any]:
    """Stdin (text), CSV (fetch_time), JSON Lines and Parquet (FineWeb's date),
    a headerless blocklist, two WARC files of robots.txt captures, a ledger."""
    text = "\n".join([
        "# a comment, not a row", "http://allow.example/a", "http://allow.example/private/b",
        "not a url", "http://allow.example:8080/x", "", "http://deny.example/y",
        "http://down.example/z", "http://tdm.example/t", "http://blocked.example/never",
        "http://www.blocked.example/never-either",
        *[f"{o}/{p}" for o in MANY for p in ("ok", "no/x")]]) + "\n"
    (tmp / "hosts.txt").write_text("blocked.example\n")  # no header: the operator's own
    (tmp / "cc.csv").write_text(
        "url,url_host_registered_domain,fetch_time\n"
        "http://hist-a.example/p,hist-a.example,2024-06-01T00:00:00Z\n"
        "http://hist-a.example/q,hist-a.example,20230101000000\n"
        "http://hist-a.example/r,hist-a.example,2025-06-01T00:00:00Z\n"
        "http://hist-b.example/news/1,hist-b.example,2024-06-01T00:00:00Z\n"
        "http://hist-b.example/other,hist-b.example,2024-06-01T00:00:00Z\n"
        "http://hist-b.example/late,hist-b.example,not a time\n"
        "short\n")
    (tmp / "rows.jsonl").write_text(
        '{"url": "http://allow.example/j1"}\n[1, 2]\n{"link": "http://x.example/"}\n'
        '{"url": "http://hist-b.example/news/2", "date": "2024-07-01"}\n')
    pq.write_table(pa.table({"url": ["http://allow.example/p1", None, "ftp://x/"],
                             "date": ["2024-02-01T00:00:00Z", None, None],
                             "text": ["…", "…", "…"]}), tmp / "fineweb.parquet")
    warc(tmp / "a.warc.gz", [
        ("http://hist-a.example/robots.txt", "2024-01-01T00:00:00Z", 200,
         "User-agent: *\nDisallow: /\n"),
        ("http://hist-a.example/robots.txt", "2025-01-01T00:00:00Z", 200,
         "User-agent: *\nAllow: /\n")])
    warc(tmp / "b.warc.gz", [
        ("http://hist-b.example/robots.txt", "2024-01-01T00:00:00Z", 200,
         "User-agent: *\nAllow: /\n"),
        ("http://unrelated.example/robots.txt", "2024-01-01T00:00:00Z", 200, "x")])
    db = tmp / "audit.db"
    with FixtureWeb() as web:
        add_web(web)
        proc = run_cli(["audit", "-", str(tmp / "cc.csv"), str(tmp / "rows.jsonl"),
                        str(tmp / "fineweb.parquet"), "--blocklist", str(tmp / "hosts.txt"),
                        "--history", str(tmp / "a.warc.gz"), "--history",
                        str(tmp / "b.warc.gz"), "--db", str(db), *UA], web, input=text)
        requested = web.requested()
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    return {"proc": proc, "rows": rows, "requested": requested, "db": db, "tmp": tmp,
            "by_url": {r["url"]: r for r in rows}}


def check_one_verdict_per_row_in_input_order(main_run: dict[str, Any]) -> None:
    proc, rows = main_run["proc"], main_run["rows"]
    assert proc.returncode == 1, proc.stderr  # some rows were skipped
    tmp = main_run["tmp"]
    order = list(dict.fromkeys(r["input"] for r in rows))
    assert order == ["-", str(tmp / "cc.csv"), str(tmp / "rows.jsonl"),
                     str(tmp / "fineweb.parquet")]
    for name in order:
        numbers = [r["row"] for r in rows if r["input"] == name]
        assert numbers == sorted(numbers)
    assert [r["url"] for r in rows if r["input"] == "-"][:3] == [
        "http://allow.example/a", "http://allow.example/private/b",
        "http://allow.example:8080/x"]
    assert [r["row"] for r in rows if r["input"] == "-"][:3] == [2, 3, 5]
    assert len(rows) == 8 + 2 * len(MANY) + 5 + 2 + 1
    by = main_run["by_url"]
    assert by["http://allow.example/a"]["verdict"] == "allowed"
    assert by["http://allow.example/a"]["complete"] is False  # no page, response rules pending
    assert by["http://allow.example/private/b"]["protocols"] == ["robots.txt"]
    assert by["http://allow.example:8080/x"]["verdict"] == "reserved"  # its own origin
    assert by["http://deny.example/y"]["protocols"] == ["robots.txt"]
    assert by["http://down.example/z"]["verdict"] == "unreachable"
    assert by["http://tdm.example/t"]["protocols"] == ["tdmrep"]
    assert by["http://tdm.example/t"]["snapshots"]["tdmrep.json"]
    for o in MANY:
        assert by[f"{o}/ok"]["allowed"] and not by[f"{o}/no/x"]["allowed"]


def check_malformed_rows_are_named_and_skipped(main_run: dict[str, Any]) -> None:
    err = main_run["proc"].stderr
    tmp = main_run["tmp"]
    assert "- row 4: not a usable URL: 'not a url'" in err
    assert f"{tmp / 'cc.csv'} row 7: unreadable time 'not a time'" in err
    assert f"{tmp / 'cc.csv'} row 8: not a usable URL: 'short'" in err
    assert f"{tmp / 'rows.jsonl'} row 2: not a JSON object" in err
    assert f"{tmp / 'rows.jsonl'} row 3: no value in column 'url'" in err
    assert f"{tmp / 'fineweb.parquet'} row 2: no value in column 'url'" in err
    assert f"{tmp / 'fineweb.parquet'} row 3: not a usable URL: 'ftp://x/'" in err
    summary = [line for line in err.splitlines() if line.startswith("audit: ") and "rows," in line]
    assert summary and "7 skipped" in summary[-1] and "1 unreachable" in summary[-1]


def check_rights_documents_once_per_origin_and_no_page(main_run: dict[str, Any]) -> None:
    requested = main_run["requested"]
    for origin in ["http://allow.example", "http://tdm.example", *MANY]:
        assert requested.count(f"{origin}/robots.txt") == 1
        assert requested.count(f"{origin}/ai.txt") == 1
        assert requested.count(f"{origin}/.well-known/tdmrep.json") == 1
    assert all(u.endswith(("/robots.txt", "/ai.txt", "/tdmrep.json")) for u in requested)
    # robots.txt unreachable: nothing more is asked of that origin.
    assert [u for u in requested if "down.example" in u] == ["http://down.example/robots.txt"]


def test_documents_of_an_origin_refusing_everything_wait_for_a_row_that_needs_them(
        tmp_path: Path) -> None:
    with FixtureWeb() as web:
        for host in ("no.example", "no2.example"):
            web.add(f"http://{host}/robots.txt", "User-agent: *\nDisallow: /\n")
        web.add("http://no.example/.well-known/tdmrep.json",
                json.dumps([{"location": "/*", "tdm-reservation": 1}]),
                headers={"Content-Type": "application/json"})
        text = "http://no.example/a\nhttp://no2.example/b\nhttp://no.example/robots.txt\n"
        proc = run_cli(["audit", "-", *UA], web, input=text)
        requested = web.requested()
    assert proc.returncode == 0, proc.stderr
    rows = {r["url"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["http://no.example/a"]["protocols"] == ["robots.txt"]
    assert rows["http://no2.example/b"]["protocols"] == ["robots.txt"]
    assert [u for u in requested if "no2.example" in u] == ["http://no2.example/robots.txt"]
    # /robots.txt itself passes robots.txt (RFC 9309 §2.2.2), so its origin's
    # other documents are read for it after all, once, and TDMRep reserves it.
    assert rows["http://no.example/robots.txt"]["protocols"] == ["tdmrep"]
    assert requested.count("http://no.example/.well-known/tdmrep.json") == 1
    assert requested.count("http://no.example/ai.txt") == 1


def check_blocklisted_host_is_never_contacted(main_run: dict[str, Any]) -> None:
    assert not [u for u in main_run["requested"] if "blocked.example" in u]
    row = main_run["by_url"]["http://www.blocked.example/never-either"]
    assert row["protocols"] == ["blocklist"] and row["complete"] is True
    assert row["reasons"][0]["source"] == "hosts"
    # The headerless list loaded with one warning, not a stop.
    assert "carries no provenance" in main_run["proc"].stderr


def check_history_flags(main_run: dict[str, Any]) -> None:
    by = main_run["by_url"]
    assert by["http://hist-a.example/p"]["history_flag"] == "reserved at collection"
    assert by["http://hist-a.example/p"]["allowed"] is True
    assert by["http://hist-a.example/p"]["captured_at"] == "2024-01-01T00:00:00Z"
    assert by["http://hist-a.example/q"]["history_flag"] == "no capture"  # before any
    assert by["http://hist-a.example/r"]["history_flag"] == "not reserved"  # 2025 capture
    assert by["http://hist-b.example/news/1"]["history_flag"] == "reserved since collection"
    assert by["http://hist-b.example/news/1"]["allowed_at_collection"] is True
    assert by["http://hist-b.example/news/2"]["history_flag"] == "reserved since collection"
    assert by["http://hist-b.example/other"]["history_flag"] == "not reserved"
    assert by["http://allow.example/p1"]["history_flag"] == "no capture"
    assert by["http://allow.example/a"]["fetch_time"] is None


def check_ledger_holds_verdicts_documents_and_captures(main_run: dict[str, Any]) -> None:
    con = sqlite3.connect(main_run["db"])
    audits = con.execute("SELECT rows, origins, finished_at, summary FROM audits").fetchall()
    assert len(audits) == 1 and audits[0][2] is not None
    assert json.loads(audits[0][3])["skipped"] == 7
    n = con.execute("SELECT count(*) FROM audit_rows WHERE verdict != 'skipped'").fetchone()[0]
    assert n == len(main_run["rows"])
    decisions = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    assert decisions == len(main_run["rows"])
    kinds = dict(con.execute("SELECT kind, count(*) FROM snapshot_fetches GROUP BY kind"))
    assert kinds["archived-robots.txt"] == 3  # unrelated.example's capture left out
    assert "robots.txt" in kinds and "tdmrep.json" in kinds
    con.close()
    proc = run_cli(["verify", "--db", str(main_run["db"])])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def pages_runs(tmp: Path) -> dict[str, Any]:
    """--fetch-pages stopped part way (Scrapy's CLOSESPIDER_PAGECOUNT), then resumed."""
    urls = [f"http://pages.example/p/{i}" for i in range(40)]
    urls += ["http://pages.example/noai", "http://pages.example/private/x",
             "http://pages.example/members", "http://pages.example/old"]
    (tmp / "urls.txt").write_text("\n".join(urls) + "\n")
    db = tmp / "pages.db"
    with FixtureWeb() as web:
        web.add("http://pages.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
        for u in urls:
            web.add(u, "<html><body>page</body></html>")
        web.add("http://pages.example/noai", "<html>x</html>", headers={
            "X-Robots-Tag": "noai", "Content-Type": "text/html"})
        # a row that redirects to a login wall is decided by the wall, not the 302
        web.redirect("http://pages.example/members", "http://pages.example/login?next=/members",
                     status=302)
        web.redirect("http://pages.example/old", "http://pages.example/new", status=301)
        web.add("http://pages.example/new", "<html><body>moved</body></html>")
        args = ["audit", str(tmp / "urls.txt"), "--fetch-pages", "--db", str(db), *UA]
        first = run_cli([*args, "-s", "CLOSESPIDER_PAGECOUNT=8",
                         "-s", "CONCURRENT_REQUESTS=2"], web)
        decided = sqlite3.connect(db).execute("SELECT url FROM audit_rows").fetchall()
        second = run_cli([*args, "--format", "csv"], web)
        third = run_cli([*args, "--format", "parquet", "-o", str(tmp / "out.parquet")], web)
        requested = web.requested()
    return {"first": first, "second": second, "third": third, "urls": urls,
            "decided": [u for (u,) in decided], "requested": requested, "tmp": tmp}


def check_interrupted_audit_resumes_without_fetching_again(pages_runs: dict[str, Any]) -> None:
    first, second = pages_runs["first"], pages_runs["second"]
    assert first.returncode == 130, first.stderr
    assert "run the same command again" in first.stderr
    assert 0 < len(pages_runs["decided"]) < len(pages_runs["urls"])
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stderr
    for url in pages_runs["urls"]:
        if "/private/" not in url:
            assert pages_runs["requested"].count(url) == 1, url  # fetched once, in all
    assert pages_runs["requested"].count("http://pages.example/robots.txt") == 2


def check_fetch_pages_decides_fully(pages_runs: dict[str, Any]) -> None:
    import csv

    rows = list(csv.DictReader(io.StringIO(pages_runs["second"].stdout)))
    assert [r["url"] for r in rows] == pages_runs["urls"]
    by = {r["url"]: r for r in rows}
    assert all(r["complete"] == "true" for r in rows)
    assert by["http://pages.example/p/3"]["stage"] == "fetched"
    assert by["http://pages.example/p/3"]["status"] == "200"
    assert by["http://pages.example/noai"]["stage"] == "dropped"
    assert json.loads(by["http://pages.example/noai"]["protocols"]) == ["noai"]
    assert by["http://pages.example/private/x"]["stage"] == "refused"
    members = by["http://pages.example/members"]
    assert members["verdict"] == "reserved", members
    assert json.loads(members["protocols"]) == ["lawful-access"]
    assert "http://pages.example/login?next=/members" not in pages_runs["requested"]
    assert by["http://pages.example/old"]["verdict"] == "allowed"  # followed to /new
    assert by["http://pages.example/old"]["status"] == "200"
    assert "/private/x" not in " ".join(pages_runs["requested"])
    table = pq.read_table(pages_runs["tmp"] / "out.parquet")
    assert table.column("url").to_pylist() == pages_runs["urls"]
    assert pages_runs["third"].returncode == 0


def test_audit_of_mixed_inputs(tmp_path: Path) -> None:
    # One CLI run serves every check (the run is the expensive part).
    run = main_run(tmp_path)
    check_one_verdict_per_row_in_input_order(run)
    check_malformed_rows_are_named_and_skipped(run)
    check_rights_documents_once_per_origin_and_no_page(run)
    check_blocklisted_host_is_never_contacted(run)
    check_history_flags(run)
    check_ledger_holds_verdicts_documents_and_captures(run)


def test_audit_fetch_pages_interrupted_and_resumed(tmp_path: Path) -> None:
    runs = pages_runs(tmp_path)
    check_interrupted_audit_resumes_without_fetching_again(runs)
    check_fetch_pages_decides_fully(runs)


def test_bad_usage_is_one_line(tmp_path: Path) -> None:
    proc = run_cli(["audit", str(tmp_path / "missing.txt"), "--user-agent", "AuditBot"])
    assert proc.returncode == 2 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_times_and_captures() -> None:
    assert iso_time("2024-02-01") == "2024-02-01T00:00:00Z"
    assert iso_time("20240201123000") == "2024-02-01T12:30:00Z"
    assert iso_time("2024-02-01T12:30:00+02:00") == "2024-02-01T10:30:00Z"
    assert iso_time("yesterday") is None
    history = History()
    assert history.in_force("http://a.example", "2024-01-01T00:00:00Z") is None
    assert flag(None, True) == "no capture"
    assert flag(False, True) == "reserved at collection"
    assert flag(True, False) == "reserved since collection"
    assert flag(True, True) == "not reserved"
