"""WARC output: `tdmguard crawl --warc` and the add-on's TDMGUARD_WARC.

One crawl of a small fixture web, shared by every assertion (one test, so
that pytest-xdist does not run the crawl once per worker): the file passes
the real `warcio check`, each page record names a decision the ledger holds,
the rights documents are records of their own, and `evidence` points at them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.middlewares.addon import TdmGuard
from tdmguard.middlewares.settings import ConfigError
from tdmguard.middlewares.warc import WarcExport, http_headers

from .compat import make_crawler as get_crawler  # Scrapy 2.14 and 2.19
from .conftest import run_cli

PAGES = {
    "/": '<a href="/a">a</a> <a href="/b">b</a> <a href="/private/x">x</a> '
         '<a href="/reserved/r">r</a> <a href="/noai">n</a>',
    "/a": "<p>a</p>",
    "/b": "<p>b \u00e9</p>",
    "/private/x": "<p>x</p>",
    "/reserved/r": "<p>r</p>",
    "/noai": '<meta name="robots" content="noai"><p>n</p>',
}


def crawl(tmp: Path) -> dict[str, Any]:
    web = FixtureWeb()
    web.add("http://news.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://news.example/.well-known/tdmrep.json",
            '[{"location": "/reserved/*", "tdm-reservation": 1}]',
            headers={"Content-Type": "application/json"})
    for path, body in PAGES.items():
        web.add(f"http://news.example{path}", body)
    db, warc = tmp / "ledger.db", tmp / "crawl.warc.gz"
    with web:
        proc = run_cli(["crawl", "http://news.example/", "--user-agent", "TestBot",
                        "--db", str(db), "--warc", str(warc), "--format", "json"], web)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # Replayed as `audit --history` (robots.txt at collection time), once
        # today's robots.txt reserves everything.
        web.add("http://news.example/robots.txt", "User-agent: *\nDisallow: /\n")
        rows = sqlite3.connect(db).execute("SELECT url, at, reasons FROM decisions").fetchall()
        (tmp / "in.csv").write_text("url,fetch_time\n" + "".join(f"{u},{at}\n"
                                                                  for u, at, _ in rows))
        audit = run_cli(["audit", str(tmp / "in.csv"), "--user-agent", "TestBot", "--quiet",
                         "--history", str(warc), "-s", "TDMGUARD_POLITENESS_DELAY=0"], web)
        assert audit.returncode == 0, audit.stderr[-3000:]
    with open(warc, "rb") as fh:
        records = [(r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return {"db": db, "warc": warc, "records": records, "conn": conn,
            "decisions": json.loads(proc.stdout), "stderr": proc.stderr,
            "crawl_reasons": {u: json.loads(r) for u, _, r in rows},
            "audit": [json.loads(line) for line in audit.stdout.splitlines()]}


def test_a_crawl_writes_a_valid_warc_the_ledger_and_evidence_point_into(tmp_path) -> None:
    crawled = crawl(tmp_path)
    the_file_passes_warcio_check(crawled)
    a_warcinfo_record_comes_first(crawled)
    every_page_the_spider_got_is_a_record_with_its_decision_id(crawled)
    rights_documents_are_records_cited_by_the_pages(crawled)
    evidence_points_at_the_record(crawled)
    replayed_as_history_it_gives_the_crawls_robots_verdicts(crawled)
    crawled["conn"].close()


def replayed_as_history_it_gives_the_crawls_robots_verdicts(crawled) -> None:
    assert len(crawled["audit"]) == len(crawled["crawl_reasons"]) == 6
    for row in crawled["audit"]:
        by_robots = any(r["protocol"] == "robots.txt" and r["verdict"] == "reserved"
                        for r in crawled["crawl_reasons"][row["url"]])
        assert row["allowed_at_collection"] is not by_robots, row
        assert row["history_flag"] == ("reserved at collection" if by_robots
                                       else "reserved since collection")


def the_file_passes_warcio_check(crawled) -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", "-v",
                           str(crawled["warc"])], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout and "fail" not in proc.stdout


def a_warcinfo_record_comes_first(crawled) -> None:
    kind, headers, body = crawled["records"][0]
    assert kind == "warcinfo" and headers["WARC-Filename"] == "crawl.warc.gz"
    assert b"software: tdmguard/" in body and b"tdmguard-tokens: TestBot" in body
    assert f"tdmguard-ledger: {crawled['db']}".encode() in body


def every_page_the_spider_got_is_a_record_with_its_decision_id(crawled) -> None:
    pages = [(h, b) for k, h, b in crawled["records"]
             if k == "response" and "WARC-TDMGuard-Decision-Id" in h]
    conn = crawled["conn"]
    fetched = {r["url"] for r in conn.execute(
        "SELECT url FROM decisions WHERE allowed = 1 AND stage = 'fetched'")}
    assert {h["WARC-Target-URI"] for h, _ in pages} == fetched == {
        "http://news.example/", "http://news.example/a", "http://news.example/b"}
    for headers, body in pages:
        row = conn.execute("SELECT * FROM decisions WHERE id = ?",
                           (int(headers["WARC-TDMGuard-Decision-Id"]),)).fetchone()
        assert row["url"] == headers["WARC-Target-URI"] and row["allowed"] == 1
        assert row["content_sha256"] == hashlib.sha256(body).hexdigest()
        assert headers["WARC-Date"] == row["at"]
    # refused (never requested) and dropped (received, never passed on): no record
    uris = {h.get("WARC-Target-URI") for _, h, _ in crawled["records"]}
    assert not uris & {"http://news.example/private/x", "http://news.example/reserved/r",
                       "http://news.example/noai"}
    assert "crawl: 6/6 done, 3 refused, in " in crawled["stderr"]


def rights_documents_are_records_cited_by_the_pages(crawled) -> None:
    docs = {h["WARC-Target-URI"]: (h, b) for k, h, b in crawled["records"]
            if k == "response" and "WARC-TDMGuard-Document-Kind" in h}
    robots, robots_body = docs["http://news.example/robots.txt"]
    assert robots_body == b"User-agent: *\nDisallow: /private/\n"
    assert robots["WARC-TDMGuard-Document-Kind"] == "robots.txt"
    tdmrep, _ = docs["http://news.example/.well-known/tdmrep.json"]
    assert tdmrep["WARC-TDMGuard-Document-Kind"] == "tdmrep.json"
    assert "http://news.example/ai.txt" in docs  # a 404 is a capture too
    shas = {r["sha256"] for r in crawled["conn"].execute("SELECT sha256 FROM snapshots")}
    assert {h["WARC-TDMGuard-Snapshot"] for h, _ in docs.values()} == shas
    bodies = {hashlib.sha256(b).hexdigest() for _, b in docs.values()}
    assert {h["WARC-Payload-Digest"] for h, _ in docs.values()} == {f"sha256:{b}"
                                                                  for b in bodies}
    for _, h, _ in crawled["records"]:
        if "WARC-TDMGuard-Decision-Id" in h:
            cited = h["WARC-TDMGuard-Rights-Documents"].split(",")
            assert len(cited) == 3 and set(cited) <= bodies


def evidence_points_at_the_record(crawled) -> None:
    proc = run_cli(["evidence", "http://news.example/a", "--db", str(crawled["db"]),
                    "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)["records"][0]
    warc = rec["warc"]
    assert warc["filename"] == str(crawled["warc"])
    with open(warc["filename"], "rb") as fh:
        fh.seek(warc["offset"])
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Record-ID") == warc["record_id"]
        assert record.rec_headers.get_header("WARC-TDMGuard-Decision-Id") == str(rec["id"])
    robots = next(s for s in rec["snapshots"] if s["kind"] == "robots.txt")
    assert robots["warc"]["filename"] == str(crawled["warc"])
    text = run_cli(["evidence", "http://news.example/a", "--db", str(crawled["db"])]).stdout
    assert f"WARC record {warc['record_id']} in {crawled['warc']} at offset " \
           f"{warc['offset']}" in text


def test_warc_needs_a_ledger(tmp_path) -> None:
    proc = run_cli(["crawl", "http://news.example/", "--user-agent", "TestBot",
                    "--warc", str(tmp_path / "x.warc.gz")])
    assert proc.returncode == 2 and "--warc needs --db" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.warc.gz").exists()


def test_the_addon_installs_the_writer_only_when_asked(tmp_path) -> None:
    base = {"ADDONS": {TdmGuard: 0}, "TDMGUARD_USER_AGENT": "TestBot",
            "TDMGUARD_BLOCKLIST_SHIPPED": False}
    crawler = get_crawler(settings_dict=base)
    assert WarcExport not in crawler.settings.getdict("EXTENSIONS")
    crawler = get_crawler(settings_dict={**base, "TDMGUARD_DB": str(tmp_path / "l.db"),
                                         "TDMGUARD_WARC": str(tmp_path / "c.warc.gz")})
    assert crawler.settings.getdict("EXTENSIONS")[WarcExport] == 520
    with pytest.raises(ConfigError, match="TDMGUARD_WARC needs TDMGUARD_DB"):
        get_crawler(settings_dict={**base, "TDMGUARD_WARC": str(tmp_path / "c.warc.gz")})
    # never appended to something that is not a WARC file (here: the ledger itself)
    with pytest.raises(ConfigError, match="exists and is not a WARC file"):
        get_crawler(settings_dict={**base, "TDMGUARD_DB": str(tmp_path / "l.db"),
                                   "TDMGUARD_WARC": str(tmp_path / "l.db")})


def test_stored_headers_describe_the_stored_body() -> None:
    assert http_headers([("Content-Type", "text/html"), ("content-encoding", "gzip"),
                         ("Content-Length", "120")], 400) == [
        ("Content-Type", "text/html"), ("X-Crawler-Content-Encoding", "gzip"),
        ("X-Crawler-Content-Length", "120"), ("Content-Length", "400")]


def test_a_record_that_fails_halfway_is_cut_off(tmp_path) -> None:
    from warcio.warcwriter import WARCWriter

    from tdmguard.middlewares.warc import _Capture, _GzipMembers, _WriterThread

    thread = _WriterThread(str(tmp_path / "x.warc.gz"))

    def capture(n: int) -> _Capture:
        return _Capture(f"http://a.example/{n}", "2026-12-06T09:00:00.000001Z", 200,
                        "HTTP/1.1", [("Content-Type", "text/plain")], b"body %d" % n,
                        {"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-00000000000{n}>"},
                        {"n": n})

    with open(thread.path, "ab") as fh:
        out = _GzipMembers(fh)
        writer = WARCWriter(out, gzip=False, warc_version="1.1")
        thread._write(writer, fh, out, capture(1))
        offset = fh.tell()
        out.write(b"WARC/1.1\r\nWARC-Type: resp")  # then the disk fills up, say
        out.out.write(b"\x00garbage")
        thread._drop_partial(fh, out, offset)
        thread._write(writer, fh, out, capture(2))
    written, _ = thread.take()
    assert [(link["n"], off) for link, off, _, _ in written] == [(1, 0), (2, offset)]
    proc = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check",
                           thread.path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(thread.path, "rb") as fh:
        assert [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)] == [
            "http://a.example/1", "http://a.example/2"]
