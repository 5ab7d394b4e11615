"""The ledger: real crawls write it; evidence, verify and tamper cases."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, FixtureWeb, cli_env, run_cli

PAGE = "http://pub.example/article"


def crawl(web, db, *extra):
    proc = run_cli(["crawl", "http://pub.example/", "--user-agent", "TestBot", "--db", str(db),
                    *extra], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _publisher(web, robots):
    web.add("http://pub.example/robots.txt", robots)
    web.add("http://pub.example/", f'<html><a href="{PAGE}">a</a></html>')
    web.add(PAGE, "<html>article</html>")


@pytest.fixture(scope="module")
def two_crawls_built(tmp_path_factory):
    """Two crawls of one publisher, robots.txt changed between them: built
    once per module (and worker); returns the ledger and the request log."""
    db = tmp_path_factory.mktemp("two-crawls") / "ledger.db"
    with FixtureWeb() as web:
        _publisher(web, "User-agent: *\nAllow: /\n")
        crawl(web, db)
        web.sites["pub.example"]["/robots.txt"].body = b"User-agent: *\nDisallow: /article\n"
        crawl(web, db)
    return db, web.requested()


@pytest.fixture
def two_crawls(two_crawls_built, tmp_path):
    """This test's own copy of the two-crawl ledger (it may tamper with it)."""
    built, _ = two_crawls_built
    db = tmp_path / built.name
    for suffix in ("", "-wal", "-shm"):
        if (src := built.with_name(built.name + suffix)).exists():
            shutil.copyfile(src, db.with_name(db.name + suffix))
    return db


def test_evidence_shows_each_decision_with_the_robots_version_in_force(two_crawls,
                                                                       two_crawls_built):
    proc = run_cli(["evidence", PAGE, "--db", str(two_crawls), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)
    assert ev["url"] == PAGE
    newest, oldest = ev["records"]
    assert newest["allowed"] is False and oldest["allowed"] is True
    robots_new = {s["kind"]: s for s in newest["snapshots"]}["robots.txt"]
    robots_old = {s["kind"]: s for s in oldest["snapshots"]}["robots.txt"]
    assert "Disallow: /article" in robots_new["body"]
    assert robots_old["body"] == "User-agent: *\nAllow: /\n"
    assert oldest["content_sha256"] and newest["content_sha256"] is None
    assert newest["at"] > oldest["at"]
    requested = two_crawls_built[1]
    assert PAGE in requested and requested.count(PAGE) == 1
    for key in ("kind", "url", "fetched_at", "status", "sha256", "body"):
        assert key in robots_new


def test_ledger_tables_and_dedup_of_identical_snapshots(web, tmp_path):
    db = tmp_path / "l.db"
    _publisher(web, "User-agent: *\nAllow: /\n")
    crawl(web, db)
    crawl(web, db)
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from crawls").fetchone()[0] == 2
    # robots.txt, plus the tdmrep.json and ai.txt 404s: each stored once
    kinds = [k for (k,) in conn.execute("select kind from snapshots order by kind")]
    assert kinds == ["ai.txt", "robots.txt", "tdmrep.json"]
    fetched = conn.execute("select count(*) from snapshot_fetches f join snapshots s "
                           "on s.id = f.snapshot_id where s.kind = 'robots.txt'").fetchone()
    assert fetched[0] == 2
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    row = conn.execute("select domain, allowed, stage, tokens, purpose from decisions "
                       "where url = ?", (PAGE,)).fetchone()
    assert row == ("pub.example", 1, "fetched", '["TestBot"]', "train-ai")
    crawl_row = conn.execute("select tokens, mode, settings, decisions from crawls").fetchone()
    assert json.loads(crawl_row[2])["TDMGUARD_MODE"] == "strict" and crawl_row[3] == 2


def _verify(db):
    return run_cli(["verify", "--db", str(db)])


def test_verify_intact(two_crawls):
    proc = _verify(two_crawls)
    assert proc.returncode == 0 and proc.stdout.startswith("OK: 4 decisions")


@pytest.mark.parametrize("sql,expected", [
    ("update decisions set allowed = 1 where id = 4", "decisions id 4 (seq"),
    ("update decisions set reasons = '[]' where id = 2", "decisions id 2 (seq"),
    ("delete from decisions where id = 2", "is missing before it (deleted)"),
    ("insert into decisions (crawl_id, at, url, allowed, reasons, snapshots, prev_hash, hash) "
     "select crawl_id, at, url, 1, reasons, snapshots, prev_hash, hash from decisions "
     "where id = 1", "chain broken"),
    ("delete from decisions where id = 4", "missing before it (deleted)"),
    ("update snapshots set body = cast('User-agent: *' as blob) where id = 2",
     "no longer matches its sha256"),
])
def test_verify_detects_tampering(two_crawls, sql, expected):
    conn = sqlite3.connect(two_crawls)
    conn.execute(sql)
    conn.commit()
    conn.close()
    proc = _verify(two_crawls)
    assert proc.returncode == 1, proc.stdout
    assert expected in proc.stderr


def test_bad_ledger_inputs_exit_2_and_create_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    for args in (["verify", "--db", str(missing)], ["evidence", PAGE, "--db", str(missing)],
                 ["summary", "--db", str(missing)]):
        proc = run_cli(args)
        assert proc.returncode == 2 and "no ledger" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not missing.exists()
    text = tmp_path / "text.db"
    text.write_text("hello")
    proc = run_cli(["verify", "--db", str(text)])
    assert proc.returncode == 2 and "not an SQLite file" in proc.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    proc = run_cli(["evidence", PAGE, "--db", str(other)])
    assert proc.returncode == 2 and "not a tdmguard ledger" in proc.stderr


def test_domain_evidence_and_summary(two_crawls):
    proc = run_cli(["evidence", "--domain", "pub.example", "--db", str(two_crawls),
                    "--format", "json"])
    ev = json.loads(proc.stdout)
    assert ev["decisions"] == 4 and ev["by_verdict"] == {"allowed": 3, "refused": 1}
    assert ev["by_protocol"]["robots.txt/reserved"] == 1
    proc = run_cli(["summary", "--db", str(two_crawls), "--format", "json"])
    s = json.loads(proc.stdout)
    assert s["section_2_3"]["crawler_names"] == ["TestBot"]
    assert s["section_2_3"]["top_domains"][0]["domain"] == "pub.example"
    assert s["section_3_1"]["pages_refused_by_protocol"] == {"robots.txt": 1}
    honoured = s["section_3_1"]["opt_out_protocols_honoured"]
    assert honoured[0].startswith("robots.txt (RFC 9309)") and any("TDMRep" in p for p in honoured)
    proc = run_cli(["summary", "--db", str(two_crawls), "--format", "csv"])
    assert proc.stdout.splitlines()[0] == "domain,bytes,pages"


def test_summary_leaves_out_protocols_a_crawl_switched_off(web, tmp_path):
    db = tmp_path / "l.db"
    _publisher(web, "User-agent: *\nAllow: /\n")
    crawl(web, db, "-s", "TDMGUARD_AITXT_ENABLED=False")
    s = json.loads(run_cli(["summary", "--db", str(db), "--format", "json"]).stdout)
    honoured = s["section_3_1"]["opt_out_protocols_honoured"]
    assert not any("ai.txt" in p for p in honoured)
    assert any("TDMRep" in p for p in honoured)


WRITER = """
import sys
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.vocab import Decision, Reason
ledger = Ledger(sys.argv[1])
ledger.start_crawl(started_at="2026-11-25T00:00:00Z")
for i in range(2000):
    ledger.add(Decision(url=f"http://w{sys.argv[2]}.example/{i}", allowed=True,
                        reasons=[Reason("robots.txt", "permitted")], at=f"t{i:05d}"))
    if i % 50 == 49:
        ledger.flush()
ledger.flush()
ledger.close()
"""


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path):
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(n)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    result = _verify(db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 4000 decisions")


def test_sigkill_mid_crawl_leaves_a_verifiable_ledger(web, tmp_path):
    db = tmp_path / "killed.db"
    web.add("http://pub.example/robots.txt", "User-agent: *\nAllow: /\n")
    links = "".join(f'<a href="/p/{i}">x</a>' for i in range(400))
    web.add("http://pub.example/", f"<html>{links}</html>")
    for i in range(400):
        web.add(f"http://pub.example/p/{i}", "<html>p</html>", delay=0.05)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tdmguard.crawler.cli", "crawl", "http://pub.example/",
         "--user-agent", "TestBot", "--db", str(db), "-s", "TDMGUARD_DB_FLUSH_INTERVAL=0.2",
         "-s", "TDMGUARD_DB_BATCH_SIZE=10", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
         # no 0.25 s politeness gap: 30 decisions arrive in about 1 s, not 8
         "-s", "TDMGUARD_POLITENESS_DELAY=0"],
        env=cli_env(web), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    flushed = 0
    while time.time() < deadline:
        time.sleep(0.3)
        if db.exists():
            try:
                flushed = sqlite3.connect(db).execute(
                    "select count(*) from decisions").fetchone()[0]
            except sqlite3.Error:
                flushed = 0
            if flushed >= 30:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert flushed >= 30
    result = _verify(db)
    assert result.returncode == 0, result.stderr
    count = int(result.stdout.split()[1])
    assert count >= flushed
    assert count < 401  # killed before the end


def _awkward_decisions():
    from tdmguard.middlewares.vocab import Decision, Reason

    odd = 'q"uote\\back\nline\x00nul\x1fus \u2028ls é ✓ \ud7ff'
    for i in range(6):
        yield Decision(
            url=f"http://h{i % 2}.example/{odd}{i}", origin=f"http://h{i % 2}.example",
            allowed=bool(i % 2), at=f"2026-11-25T00:00:0{i}.000000Z",
            reasons=[Reason("robots.txt", "reserved" if i % 2 else "permitted", odd, odd, odd)],
            user_agent=f"Bot/1 {odd}", tokens=("Bot", odd), purpose="train-ai",
            stage=("fetched", "refused", "failed")[i % 3],
            status=None if i % 3 else 200 + i, content_sha256=None if i % 2 else "ab" * 32,
            content_length=(10 ** 15 + i) if i % 2 == 0 else None,
            snapshots={"robots.txt": "cd" * 32, "tdmrep.json": "0e" * 32} if i < 4 else {},
            redirect_urls=[odd, "http://x/"] if i == 3 else [],
            error=odd if i == 5 else None,
        )


def test_fast_row_hash_writes_the_reference_bytes(tmp_path):
    """Ledger.flush builds the hashed JSON by hand (speed); record_hash is the
    definition verify uses. Awkward strings, None, big ints and both snapshot
    orders must give the same hash, row by row."""
    from tdmguard.middlewares.chain import CHAINED
    from tdmguard.middlewares.ledger import Ledger, open_existing, record_hash, verify

    path = str(tmp_path / "l.db")
    ledger = Ledger(path, domain_of=lambda url: 'dom"ain\u00e9')
    ledger.start_crawl(started_at="2026-11-25T00:00:00Z")
    for d in _awkward_decisions():
        ledger.add(d)
    ledger.flush()
    ledger.close()
    db = open_existing(path)
    cols = CHAINED["decisions"]
    rows = list(db.query(f"SELECT seq, {', '.join(cols)}, prev_hash, hash FROM decisions "
                         "ORDER BY id"))
    assert len(rows) == 6
    for row in rows:
        links = [list(r) for r in db.execute(
            "SELECT kind, snapshot_id, fetch_id FROM decision_snapshots WHERE decision_id = ?",
            [row["id"]])]
        assert len(links) == len(json.loads(row["snapshots"]))
        assert record_hash(row["prev_hash"], row["seq"], "decisions", [row[c] for c in cols],
                           links) == row["hash"]
    assert rows[3]["redirect_urls"] == json.dumps(
        ['q"uote\\back\nline\x00nul\x1fus \u2028ls é ✓ \ud7ff', "http://x/"],
        ensure_ascii=False, separators=(",", ":"))
    # the awkward decisions cite documents this ledger never stored
    assert verify(db)[2].endswith("is missing")


def test_a_ledger_from_before_the_url_index_change_upgrades_and_still_verifies(tmp_path):
    """Ledgers written before migration 003 had an (url, at) index: opening
    one swaps it for the url index, and its chain and evidence are untouched."""
    import sqlite_utils

    from tdmguard.middlewares.ledger import MIGRATIONS, Ledger, open_existing, verify
    from tdmguard.middlewares.vocab import Decision, Reason

    path = str(tmp_path / "old.db")
    old = sqlite_utils.Database(path)
    MIGRATIONS.apply(old, stop_before="003_url_index")
    assert "idx_decisions_url_at" in {i.name for i in old["decisions"].indexes}
    old.close()
    for _ in range(2):  # once to migrate, once to see nothing changes again
        ledger = Ledger(path)
        ledger.start_crawl(started_at="2026-11-25T00:00:00Z")
        ledger.add(Decision(url="http://a.example/x", allowed=True, at="2026-11-25T00:00:01Z",
                            reasons=[Reason("robots.txt", "permitted")]))
        ledger.flush()
        ledger.close()
    db = open_existing(path)
    names = {i.name for i in db["decisions"].indexes}
    assert "idx_decisions_url" in names and "idx_decisions_url_at" not in names
    assert verify(db) == (True, 2, "")
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM decisions WHERE url = ? ORDER BY at DESC",
        ["http://a.example/x"]).fetchall())
    assert "idx_decisions_url" in plan


def test_a_flush_that_cannot_write_keeps_its_rows_for_the_next_one(tmp_path):
    """Another writer holding the file past the busy timeout: the flush is
    logged and counted, nothing is lost, and the next flush writes it all."""
    from tdmguard.middlewares.ledger import open_existing, verify
    from tdmguard.middlewares.provenance import ProvenanceLog
    from tdmguard.middlewares.vocab import Decision, Reason

    from .compat import make_crawler as get_crawler  # Scrapy 2.14 and 2.19

    path = tmp_path / "busy.db"
    crawler = get_crawler(settings_dict={"TDMGUARD_DB": str(path),
                                         "TDMGUARD_USER_AGENT": "TestBot"})
    log = ProvenanceLog.from_crawler(crawler)
    log.spider_opened()
    log._timer.stop()  # flushed by hand below
    log.ledger.conn.execute("PRAGMA busy_timeout=100")
    for i in range(3):
        log.decision(Decision(url=f"http://a.example/{i}", allowed=True, at=f"t{i}",
                              reasons=[Reason("robots.txt", "permitted")]))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    log.flush()  # must not raise
    assert crawler.stats.get_value("tdmguard/ledger/errors") == 1
    assert log.ledger.pending() == 3
    other.execute("ROLLBACK")
    other.close()
    log.flush()
    assert crawler.stats.get_value("tdmguard/ledger/decisions") == 3
    log.spider_closed()
    assert verify(open_existing(str(path))) == (True, 3, "")


def test_a_close_that_cannot_write_says_how_many_rows_were_not_written(tmp_path, caplog):
    from tdmguard.middlewares.provenance import ProvenanceLog
    from tdmguard.middlewares.vocab import Decision, Reason

    from .compat import make_crawler as get_crawler  # Scrapy 2.14 and 2.19

    path = tmp_path / "busy.db"
    crawler = get_crawler(settings_dict={"TDMGUARD_DB": str(path),
                                         "TDMGUARD_USER_AGENT": "TestBot"})
    log = ProvenanceLog.from_crawler(crawler)
    log.spider_opened()
    log.ledger.conn.execute("PRAGMA busy_timeout=100")
    log.decision(Decision(url="http://a.example/", allowed=True, at="t",
                          reasons=[Reason("robots.txt", "permitted")]))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    log.spider_closed()  # must not raise
    other.execute("ROLLBACK")
    other.close()
    assert log.ledger is None
    assert crawler.stats.get_value("tdmguard/ledger/errors") == 1
    assert "1 rows of this crawl were not written" in caplog.text


def test_summary_names_each_rsl_route_only_when_its_switches_were_on():
    from tdmguard.policy.training_summary import honoured_protocols

    names = honoured_protocols([{"TDMGUARD_RESPONSE_SIGNALS_ENABLED": False}])
    assert any(n.startswith("RSL 1.0") and "named by robots.txt" in n for n in names)
    assert not any("named by a page" in n for n in names)
    names = honoured_protocols([{}, {"TDMGUARD_RSL_ENABLED": False}])
    assert not any(n.startswith("RSL") for n in names)
    assert any("named by a page" in n for n in honoured_protocols([{}]))
