"""Opening a ledger (issue 10, item 6): processes racing to create one file,
and every unusable path as one line, with nothing already written lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tdmguard.middlewares.ledger import Ledger, LedgerError, open_existing, verify

from .conftest import ROOT, cli_env, run_cli

RACER = """
import os, sys, traceback
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import Decision, Reason


def race(path, n):
    ledger = Ledger(path)
    ledger.start_crawl(started_at="2026-12-01T00:00:00Z", user_agent=f"Racer{n}")
    ledger.add_snapshot(Snapshot("robots.txt", f"http://w{n}.example/robots.txt",
                                 f"http://w{n}.example", "t", 200, {}, b"User-agent: *\\n"))
    for i in range(12):
        ledger.add(Decision(url=f"http://w{n}.example/{i}", origin=f"http://w{n}.example",
                            allowed=True, reasons=[Reason("robots.txt", "permitted")],
                            at=f"t{i}"))
        if i % 4 == 3:
            ledger.flush()
    ledger.finish_crawl("t9")
    ledger.close()


# Imported once; each round forks eight writers that start at the same moment
# (separate processes, each opening its own connection to the new file).
failures = 0
for round_ in range(int(sys.argv[2])):
    path = os.path.join(sys.argv[1], f"race{round_}.db")
    pids = []
    for n in range(8):
        pid = os.fork()
        if pid == 0:
            try:
                race(path, n)
            except BaseException:
                sys.stderr.write(f"round {round_} writer {n}: {traceback.format_exc()}")
                sys.stderr.flush()
                os._exit(1)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        failures += os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
sys.exit(1 if failures else 0)
"""


def test_eight_processes_racing_to_create_and_fill_one_ledger(tmp_path):
    rounds = 20
    proc = subprocess.run([sys.executable, "-c", RACER, str(tmp_path), str(rounds)],
                          cwd=ROOT, env=cli_env(None), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for round_ in range(rounds):
        ledger = open_existing(str(tmp_path / f"race{round_}.db"))
        assert verify(ledger) == (True, 96, ""), round_
        assert ledger.execute("select count(*) from crawl_finishes").fetchone()[0] == 8
        assert ledger.execute("select count(distinct user_agent) from crawls").fetchone()[0] == 8
        ledger.close()


def test_unusable_paths_are_one_line_errors(tmp_path):
    cases = [
        (tmp_path / "no-such-dir" / "x.db", "no directory"),
        (tmp_path, "it is a directory"),
    ]
    for path, message in cases:
        with pytest.raises(LedgerError, match=message):
            Ledger(str(path))
    assert not (tmp_path / "no-such-dir").exists()
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    with pytest.raises(LedgerError, match="not an SQLite file"):
        Ledger(str(text))
    assert text.read_text() == "my notes"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    with pytest.raises(LedgerError, match="not a tdmguard ledger"):
        Ledger(str(other))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_ledger_is_a_one_line_error_and_stays_intact(tmp_path):
    path = tmp_path / "ro.db"
    ledger = Ledger(str(path))
    ledger.start_crawl(started_at="t")
    ledger.close()
    path.chmod(0o444)
    with pytest.raises(LedgerError, match="read-only"):
        Ledger(str(path))
    assert verify(open_existing(str(path)))[0]


def test_bad_ledger_paths_through_the_cli_exit_2_without_a_traceback(tmp_path):
    proc = run_cli(["crawl", "http://pub.example/", "--user-agent", "TestBot", "--db",
                    str(tmp_path / "missing" / "x.db")])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"Error: cannot create the ledger {tmp_path}/missing/x.db: "
                                   f"no directory {tmp_path}/missing")
    proc = run_cli(["crawl", "http://pub.example/", "--user-agent", "TestBot", "--db",
                    str(tmp_path)])
    assert proc.returncode == 2 and "is a directory" in proc.stderr
    assert "Traceback" not in proc.stderr


FILL_UNTIL_FULL = """
import resource, signal, sys
from tdmguard.middlewares.ledger import Ledger, LedgerError
from tdmguard.middlewares.vocab import Decision, Reason
ledger = Ledger(sys.argv[1])
ledger.start_crawl(started_at="t")
ledger.add(Decision(url="http://a.example/first", allowed=True, at="t0",
                    reasons=[Reason("robots.txt", "permitted")]))
ledger.flush()
# The disk is full from here on: writes past the current size fail.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
import os
limit = max(os.path.getsize(sys.argv[1] + "-wal"), os.path.getsize(sys.argv[1])) + 4096
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    for i in range(100):
        for j in range(200):
            ledger.add(Decision(url=f"http://a.example/{i}/{j}" + "x" * 200, allowed=True,
                                at="t", reasons=[Reason("robots.txt", "permitted")]))
        ledger.flush()
except LedgerError as exc:
    print(exc)
    print(ledger.pending())
    sys.exit(3)
"""


def test_a_full_disk_is_a_one_line_error_that_keeps_the_rows_and_the_ledger(tmp_path):
    path = tmp_path / "full.db"
    proc = subprocess.run([sys.executable, "-c", FILL_UNTIL_FULL, str(path)], cwd=ROOT,
                          env=cli_env(None), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    message, pending = proc.stdout.strip().splitlines()
    assert message.startswith(f"cannot write the ledger {path}: ") and "full" in message
    assert int(pending) >= 200  # the batch stays queued for the next flush
    db = open_existing(str(path))
    ok, count, problem = verify(db)
    assert ok, problem
    assert db.execute("select url from decisions where id = 1").fetchone()[0] == \
        "http://a.example/first"
