"""One chain over every record (issue 10, items 2-4): tamper cases for each
table, checkpoints and their keys, the README's plain-Python recipe on a real
crawl, per-fetch URLs, text bodies, old ledgers upgrading, extra tables."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from tdmguard.middlewares.checkpoint_keys import generate_key, load_key
from tdmguard.middlewares.ledger import Ledger, checkpoint, open_existing, verify
from tdmguard.middlewares.migrations import MIGRATIONS
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import Decision, Reason

from .conftest import ROOT, cli_env, run_cli

ROBOTS = b"User-agent: *\nDisallow: /private\n"
T = "2026-12-01T00:00:0{}.000000Z"


def write_crawl(path, n=4, reason="finished"):
    """A crawl of two origins serving the same robots.txt: records crawls 1,
    snapshots 1, fetches 1-2, decisions, crawl_finishes 1 (in that order)."""
    ledger = Ledger(str(path), domain_of=lambda url: url.split("/")[2])
    ledger.start_crawl(started_at=T.format(0), user_agent="TestBot/1", tokens=["TestBot"],
                       settings={"TDMGUARD_ROBOTSTXT_ENABLED": True})
    sha = None
    for host in ("a.example", "b.example"):
        snap = Snapshot("robots.txt", f"http://{host}/robots.txt", f"http://{host}", T.format(1),
                        200, {"content-type": ["text/plain"]}, ROBOTS)
        sha = snap.sha256
        ledger.add_snapshot(snap)
    for i in range(n):
        host = ("a.example", "b.example")[i % 2]
        ledger.add(Decision(url=f"http://{host}/p{i}", origin=f"http://{host}", allowed=True,
                            reasons=[Reason("robots.txt", "permitted")], at=T.format(2),
                            user_agent="TestBot/1", snapshots={"robots.txt": sha}))
    ledger.flush()
    ledger.finish_crawl(T.format(3), reason)
    ledger.close()
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_crawl(tmp_path_factory.mktemp("pristine") / "l.db")


@pytest.fixture
def ledger_copy(pristine, tmp_path):
    path = tmp_path / "l.db"
    shutil.copy(pristine, path)
    return path


def check(path, **kw):
    db = open_existing(str(path))
    try:
        return verify(db, **kw)
    finally:
        db.close()


def tamper(path, *sql):
    conn = sqlite3.connect(path)
    for s in sql:
        conn.execute(s)
    conn.commit()
    conn.close()


def test_a_written_ledger_verifies_and_links_each_fetch(pristine):
    assert check(pristine) == (True, 4, "")
    conn = sqlite3.connect(pristine)
    seqs = [r for t in ("crawls", "snapshots", "snapshot_fetches", "decisions",
                        "crawl_finishes") for r in conn.execute(f"select seq from {t}")]
    assert sorted(s for (s,) in seqs) == list(range(1, 10))
    # one document, two fetches, each with its own URL and origin
    assert conn.execute("select count(*) from snapshots").fetchone()[0] == 1
    assert conn.execute("select url, origin from snapshot_fetches order by id").fetchall() == [
        ("http://a.example/robots.txt", "http://a.example"),
        ("http://b.example/robots.txt", "http://b.example")]
    cited = conn.execute(
        "select d.origin, f.origin from decisions d join decision_snapshots l "
        "on l.decision_id = d.id join snapshot_fetches f on f.id = l.fetch_id").fetchall()
    assert len(cited) == 4 and all(a == b for a, b in cited)
    assert conn.execute("select typeof(body), body from snapshots").fetchone() == (
        "text", ROBOTS.decode())
    assert conn.execute("select finished_at, decisions, finish_reason from crawls").fetchone() \
        == (T.format(3), 4, "finished")
    fks = {(r[2], r[3]) for r in conn.execute("pragma foreign_key_list(decision_snapshots)")}
    assert {("decisions", "decision_id"), ("snapshots", "snapshot_id")} <= fks
    conn.execute("pragma foreign_keys = on")
    assert conn.execute("pragma foreign_key_check").fetchall() == []


EDITS = {
    "crawls": ("update crawls set settings = '{\"TDMGUARD_ROBOTSTXT_ENABLED\":false}'",
               "crawls id 1 (seq 1): fields edited"),
    "snapshots": ("update snapshots set url = 'http://evil.example/robots.txt'",
                  "snapshots id 1 (seq 2): fields edited"),
    "snapshot_fetches": ("update snapshot_fetches set url = 'http://a.example/ai.txt' "
                         "where id = 2", "snapshot_fetches id 2 (seq 4): fields edited"),
    "decisions": ("update decisions set allowed = 0 where id = 3",
                  "decisions id 3 (seq 7): fields"),
}
COPY = {  # a copy of an existing row, chain columns included
    "crawls": "insert into crawls (started_at, settings, seq, prev_hash, hash) select "
              "started_at, settings, seq, prev_hash, hash from crawls where id = 1",
    "snapshots": "insert into snapshots (sha256, kind, status, body, seq, prev_hash, hash) "
                 "select 'x' || sha256, kind, status, body, seq, prev_hash, hash from snapshots",
    "snapshot_fetches": "insert into snapshot_fetches (snapshot_id, url, seq, prev_hash, hash) "
                        "select snapshot_id, url, seq, prev_hash, hash from snapshot_fetches "
                        "where id = 1",
    "decisions": "insert into decisions (crawl_id, at, url, allowed, seq, prev_hash, hash) "
                 "select crawl_id, at, url, 1, seq, prev_hash, hash from decisions where id = 2",
}
FIRST_ID_SEQ = {"crawls": 1, "snapshots": 2, "snapshot_fetches": 3, "decisions": 5}


@pytest.mark.parametrize("table", sorted(EDITS))
def test_editing_any_table_is_detected(ledger_copy, table):
    sql, expected = EDITS[table]
    tamper(ledger_copy, sql)
    ok, _n, problem = check(ledger_copy)
    assert not ok and expected in problem, problem


@pytest.mark.parametrize("table", sorted(EDITS))
def test_inserting_into_any_table_is_detected(ledger_copy, table):
    tamper(ledger_copy, COPY[table])
    ok, _n, problem = check(ledger_copy)
    assert not ok and problem.startswith(f"{table} id ") and \
        ("out of chain order" in problem or "no longer matches" in problem), problem
    tamper(ledger_copy, f"update {table} set seq = null where id = (select max(id) from {table})")
    ok, _n, problem = check(ledger_copy)
    assert not ok and problem.startswith(f"{table} id ") and (
        "outside the chain" in problem or "chain broken" in problem
        or "no longer matches" in problem), problem


@pytest.mark.parametrize("table", sorted(EDITS))
def test_deleting_from_any_table_is_detected(ledger_copy, table):
    tamper(ledger_copy, f"delete from {table} where id = 1")
    ok, _n, problem = check(ledger_copy)
    seq = FIRST_ID_SEQ[table]
    assert not ok and f"record {seq} is missing before it (deleted)" in problem, problem


def test_links_and_crawl_finish_fields_are_covered(ledger_copy):
    tamper(ledger_copy, "update decision_snapshots set fetch_id = 2 where decision_id = 1")
    ok, _n, problem = check(ledger_copy)
    assert not ok and problem.startswith("decisions id 1 (seq 5)"), problem
    tamper(ledger_copy, "update decision_snapshots set fetch_id = 1 where decision_id = 1",
           "update crawls set decisions = 40")
    ok, _n, problem = check(ledger_copy)
    assert not ok and "crawls id 1: finished_at/decisions/finish_reason differ" in problem
    tamper(ledger_copy, "update crawls set decisions = 4", "delete from crawl_finishes")
    ok, _n, problem = check(ledger_copy)
    assert not ok and "deleted from the end" in problem


def test_the_cli_names_the_first_bad_record_and_exits_1(ledger_copy):
    tamper(ledger_copy, EDITS["snapshot_fetches"][0])
    proc = run_cli(["verify", "--db", str(ledger_copy)])
    assert proc.returncode == 1 and "snapshot_fetches id 2 (seq 4)" in proc.stderr


def rechain(path):
    """What a forger with write access does: recompute every hash after an
    edit, with plain json + hashlib (the README recipe), and fix chain_head."""
    conn = sqlite3.connect(path)
    prev, records = "0" * 64, []
    for table in CHAINED_TABLES:
        cols = CHAINED_COLS[table]
        for row in conn.execute(f"select seq, {', '.join(cols)} from {table}"):
            records.append((row[0], table, list(row[1:])))
    seq = 0
    for seq, table, values in sorted(records):
        payload = [prev, seq, table, values]
        if table == "decisions":
            payload.append(sorted([list(r) for r in conn.execute(
                "select kind, snapshot_id, fetch_id from decision_snapshots "
                "where decision_id = ?", (values[0],))]))
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        conn.execute(f"update {table} set prev_hash = ?, hash = ? where id = ?",
                     (prev, digest, values[0]))
        prev = digest
    n = conn.execute("select count(*) from decisions").fetchone()[0]
    conn.execute("update chain_head set hash = ?, seq = ?, count = ?", (prev, seq, n))
    conn.commit()
    conn.close()


from tdmguard.middlewares.chain import CHAINED as CHAINED_COLS  # noqa: E402

CHAINED_TABLES = tuple(CHAINED_COLS)


def test_checkpoints_catch_a_truncated_tail_and_a_rewritten_chain(ledger_copy, tmp_path):
    db = open_existing(str(ledger_copy))
    early = checkpoint(db)
    db.close()
    assert early["seq"] == 9 and early["decisions"] == 4
    write_crawl(ledger_copy)  # a second crawl: seq 10..17
    db = open_existing(str(ledger_copy))
    late = checkpoint(db)
    db.close()
    assert check(ledger_copy, checkpoint=early) == (True, 8, "")
    # truncate the tail back to the early checkpoint and rewrite the head
    tamper(ledger_copy, *(f"delete from {t} where seq > 9" for t in CHAINED_TABLES),
           "delete from decision_snapshots where decision_id > 4",
           f"update chain_head set hash = '{early['head_hash']}', seq = 9, count = 4")
    assert check(ledger_copy) == (True, 4, "")  # consistent on its own...
    ok, _n, problem = check(ledger_copy, checkpoint=late)
    assert not ok and "ends at seq 9 but the checkpoint covers seq 17" in problem
    # edit an early record and recompute every hash after it
    tamper(ledger_copy, "update decisions set allowed = 0 where id = 2")
    rechain(ledger_copy)
    assert check(ledger_copy) == (True, 4, "")
    ok, _n, problem = check(ledger_copy, checkpoint=early)
    assert not ok and "differs from the checkpoint's head hash" in problem, problem


def test_signed_checkpoints_and_keys(pristine, tmp_path):
    key_a = generate_key(str(tmp_path / "a.pem"))
    generate_key(str(tmp_path / "b.pem"))
    pub_a = load_key(str(tmp_path / "a.pub.pem"), private=False)
    pub_b = load_key(str(tmp_path / "b.pub.pem"), private=False)
    db = open_existing(str(pristine))
    cp = checkpoint(db, key_a)
    db.close()
    assert cp["signature"]["alg"] == "Ed25519"
    assert check(pristine, checkpoint=cp, public_key=pub_a) == (True, 4, "")
    ok, _n, problem = check(pristine, checkpoint=cp, public_key=pub_b)
    assert not ok and "signed with key" in problem and "not the given key" in problem
    forged = {**cp, "seq": 3}
    ok, _n, problem = check(pristine, checkpoint=forged, public_key=pub_a)
    assert not ok and "does not match its contents" in problem
    unsigned = {k: v for k, v in cp.items() if k != "signature"}
    ok, _n, problem = check(pristine, checkpoint=unsigned, public_key=pub_a)
    assert not ok and "not signed" in problem
    with pytest.raises(Exception, match="not overwriting"):
        generate_key(str(tmp_path / "a.pem"))


def test_checkpoint_and_verify_checkpoint_on_the_command_line(ledger_copy, tmp_path):
    key, cp = tmp_path / "ops.pem", tmp_path / "cp.json"
    proc = run_cli(["checkpoint", "--db", str(ledger_copy), "--key", str(key), "--new-key",
                    "-o", str(cp)])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(cp.read_text())["seq"] == 9
    assert (tmp_path / "ops.pub.pem").exists()
    proc = run_cli(["verify", "--db", str(ledger_copy), "--checkpoint", str(cp),
                    "--key", str(tmp_path / "ops.pub.pem")])
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(["checkpoint", "--db", str(ledger_copy), "--key", str(tmp_path / "x.pem"),
                    "--new-key"])
    other = tmp_path / "x.pub.pem"
    proc = run_cli(["verify", "--db", str(ledger_copy), "--checkpoint", str(cp),
                    "--key", str(other)])
    assert proc.returncode == 1 and "not the given key" in proc.stderr
    for args, message in (
            (["--checkpoint", str(tmp_path / "none.json")], "cannot read the checkpoint"),
            (["--checkpoint", str(cp), "--key", str(cp)], "is not an Ed25519 key")):
        proc = run_cli(["verify", "--db", str(ledger_copy), *args])
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["checkpoint", "--db", str(ledger_copy), "--key", str(tmp_path / "no.pem")])
    assert proc.returncode == 2 and "cannot read the key" in proc.stderr


def test_an_old_ledger_upgrades_keeps_its_hashes_and_verifies(tmp_path):
    """tests/data/ledger-v1.db was written by the ledger before migration 004
    (decisions-only chain, one row per document with the first URL seen)."""
    path = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "data" / "ledger-v1.db", path)
    before = sqlite3.connect(path).execute("select id, hash from decisions").fetchall()
    write_crawl(path, n=2)  # opening it applies 004; then a new crawl appends
    conn = sqlite3.connect(path)
    assert conn.execute("select id, hash from decisions where id <= 6").fetchall() == before
    # every migration the code declares was applied, 004 among them
    db = sqlite_utils.Database(conn)
    assert MIGRATIONS.pending(db) == []
    assert "004_one_chain" in [m.name for m in MIGRATIONS.applied(db)]
    # the UTF-8 robots.txt became text, the binary ai.txt stayed a blob
    kinds = dict(conn.execute("select kind, typeof(body) from snapshots where id <= 4"))
    assert kinds == {"robots.txt": "text", "ai.txt": "blob"}
    assert conn.execute("select count(*) from decision_snapshots").fetchone()[0] == 12 + 2
    conn.close()
    assert check(path) == (True, 8, "")
    tamper(path, "update decisions set allowed = 1 where id = 5")
    ok, _n, problem = check(path)
    assert not ok and "decisions id 5: fields edited" in problem
    tamper(path, "update decisions set allowed = 0 where id = 5",
           "update crawls set settings = '{}' where id = 1")
    ok, _n, problem = check(path)
    assert not ok and "crawls id 1 (seq 1): fields edited" in problem


def test_extra_tables_views_and_fts_are_tolerated(ledger_copy):
    tamper(ledger_copy, "create view refusals as select * from decisions where allowed = 0",
           "create table my_notes (x)")
    proc = subprocess.run([sys.executable, "-m", "sqlite_utils", "enable-fts", str(ledger_copy),
                           "snapshots", "body", "--create-triggers"],
                          capture_output=True, text=True, env=cli_env(None))
    assert proc.returncode == 0, proc.stderr
    write_crawl(ledger_copy)
    assert check(ledger_copy) == (True, 8, "")
    conn = sqlite3.connect(ledger_copy)
    assert conn.execute("select count(*) from snapshots_fts where snapshots_fts match "
                        "'private'").fetchone()[0] == 1


RECIPE_CHECK = r'''
import hashlib, json, sqlite3, sys
# The README recipe, nothing from tdmguard.
COLUMNS = json.loads(sys.argv[2])
conn = sqlite3.connect(sys.argv[1])
records = []
for table, cols in COLUMNS.items():
    for row in conn.execute(f"select seq, prev_hash, hash, {', '.join(cols)} from {table}"):
        records.append((row[0], table, row[1], row[2], list(row[3:])))
records.sort()
prev = "0" * 64
for i, (seq, table, stored_prev, stored, values) in enumerate(records, 1):
    assert seq == i and stored_prev == prev, (table, seq)
    payload = [prev, seq, table, values]
    if table == "decisions":
        payload.append(sorted([list(r) for r in conn.execute(
            "select kind, snapshot_id, fetch_id from decision_snapshots where decision_id = ?",
            (values[0],))]))
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == stored, (table, seq)
    prev = stored
for kind, status, error, body, sha in conn.execute(
        "select kind, status, error, body, sha256 from snapshots"):
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    head = f"{kind}\n{status if status is not None else 'None'}\n{error or ''}\n".encode()
    assert hashlib.sha256(head + raw).hexdigest() == sha, kind
assert conn.execute("select hash, seq from chain_head").fetchone() == (prev, len(records))
print(len(records))
'''


CRAWL_STATS = r'''
import json, sys
from tdmguard.crawler.run import run_crawl
from tdmguard.crawler.spiders.audit import AuditSpider
result = run_crawl(AuditSpider, {"TDMGUARD_USER_AGENT": "TestBot", "TDMGUARD_DB": sys.argv[1]},
                   seeds=["http://a.example/", "http://b.example/"], max_pages=20, depth=2)
print(json.dumps({"stats": {k: v for k, v in result.stats.items() if "tdmguard/ledger" in k},
                  "decisions": len(result.decisions)}))
'''


def test_a_real_crawl_checks_with_plain_python_and_records_what_happened(web, tmp_path):
    """Two origins serve the same ai.txt and robots.txt: each fetch keeps its
    own URL and origin; a refused decision carries the User-Agent that would
    have been sent; the stats count exactly the rows written; the README
    recipe re-checks the whole chain with json + hashlib alone."""
    aitxt = "User-Agent: *\nDisallow: *.jpg\n"
    for host in ("a.example", "b.example"):
        web.add(f"http://{host}/robots.txt", "User-agent: *\nDisallow: /private\n")
        web.add(f"http://{host}/ai.txt", aitxt)
        web.add(f"http://{host}/", '<a href="/ok">ok</a><a href="/private/x">no</a>')
        web.add(f"http://{host}/ok", "<html>ok</html>")
    db = tmp_path / "crawl.db"
    proc = subprocess.run([sys.executable, "-c", CRAWL_STATS, str(db)], capture_output=True,
                          text=True, env=cli_env(web), cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    conn = sqlite3.connect(db)
    rows = conn.execute("select count(*) from decisions").fetchone()[0]
    assert rows == out["decisions"] == out["stats"]["tdmguard/ledger/decisions"] >= 6
    refused = conn.execute("select url, user_agent from decisions where stage = 'refused'"
                           ).fetchall()
    assert len(refused) == 2 and all(ua.startswith("TestBot") for _, ua in refused), refused
    ai = conn.execute("select f.url, f.origin from snapshot_fetches f join snapshots s on "
                      "s.id = f.snapshot_id where s.kind = 'ai.txt' order by f.url").fetchall()
    assert ai == [("http://a.example/ai.txt", "http://a.example"),
                  ("http://b.example/ai.txt", "http://b.example")]
    assert conn.execute("select count(*) from snapshots where kind = 'ai.txt'").fetchone()[0] == 1
    # each decision's ai.txt link points at the fetch from its own origin
    mismatched = conn.execute(
        "select count(*) from decisions d join decision_snapshots l on l.decision_id = d.id "
        "join snapshot_fetches f on f.id = l.fetch_id where f.origin != d.origin").fetchone()[0]
    assert mismatched == 0
    assert conn.execute("select typeof(body) from snapshots where kind = 'robots.txt'"
                        ).fetchone()[0] == "text"
    assert conn.execute("select finish_reason from crawls").fetchone()[0] == "finished"
    conn.close()
    columns = json.dumps({t: list(c) for t, c in CHAINED_COLS.items()})
    proc = subprocess.run([sys.executable, "-I", "-c", RECIPE_CHECK, str(db), columns],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > rows
    assert run_cli(["verify", "--db", str(db)]).returncode == 0
