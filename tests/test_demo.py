"""``tdmguard demo`` tells the whole story on the sample web: crawl, audit
with archived robots.txt captures, report, policy, disclosure, verify."""

from __future__ import annotations

import json
import sqlite3

from .conftest import run_cli


def test_the_demo_runs_every_step_and_says_where_each_output_went(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli(["demo", "--output-dir", str(out)], timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in ("crawl", "audit", "report", "policy render", "policy disclosure", "verify"):
        assert f"$ tdmguard {step} " in proc.stdout, step
    assert "hash chain intact" in proc.stdout
    assert "Next, try:" in proc.stdout
    # the audit: one verdict per usable row, today and at collection
    rows = {r["url"]: r for r in map(json.loads, (out / "audit.jsonl").read_text().splitlines())}
    assert len(rows) == 11  # 13 rows, 2 malformed (reported, skipped)
    assert "row 13: not a usable URL" in proc.stderr
    assert rows["http://open.example/essay"]["history_flag"] == "reserved at collection"
    assert rows["http://open.example/essay"]["verdict"] == "allowed"
    story = rows["http://guardian.example/world/2026/nov/25/story"]
    assert (story["verdict"], story["history_flag"]) == ("reserved", "reserved since collection")
    for url, protocol in [("http://thepiratebay.org/torrent/1", "blocklist"),
                          ("http://paper.example/news/premium-story", "lawful-access"),
                          ("http://paper.example/members/insider", "lawful-access")]:
        assert rows[url]["verdict"] == "reserved" and protocol in rows[url]["protocols"], url
    # the blocklisted host was never contacted, by the crawl or the audit
    db = sqlite3.connect(out / "ledger.db")
    assert db.execute("select count(*) from snapshots where url like '%thepiratebay%'"
                      ).fetchone()[0] == 0
    assert db.execute("select count(*) from audit_rows").fetchone()[0] == 13
    # the report, the policy and the disclosure, from the same configuration
    assert "<svg" in (out / "report.html").read_text()
    policy = (out / "policy.md").read_text()
    assert "DemoBot" in policy and "TDMRep" in policy
    assert (out / "disclosure" / "feed.atom").read_text().count("<entry>") == 1
    assert (out / "crawl.warc.gz").stat().st_size > 0
