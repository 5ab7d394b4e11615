"""Every request that leaves the crawler has a decision row, whatever the exit
short of SIGKILL: Ctrl-C once (graceful), twice (forced), SIGTERM; and after
SIGKILL the ledger verifies and says the crawl did not finish.

A real ``tdmguard crawl`` process: the signals are what is tested.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env, run_cli

PAGES = 60


def _site(web) -> None:
    web.add("http://slow.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    links = "".join(f'<a href="/p/{i}">{i}</a><a href="/private/{i}">x</a>'
                    for i in range(PAGES))
    web.add("http://slow.example/", f"<html><body>{links}</body></html>")
    for i in range(PAGES):
        web.add(f"http://slow.example/p/{i}", f"<html>{i}</html>", delay=0.3)


def _start(web, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tdmguard.crawler.cli", "crawl", "http://slow.example/",
         "--user-agent", "TestBot", "--db", str(db), "-s", "TDMGUARD_POLITENESS_DELAY=0",
         "-s", "TDMGUARD_POLITENESS_CONCURRENCY=4"],
        env=cli_env(web), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _wait_for_pages(web, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum("/p/" in u for u in web.requested()) < n:
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.02)


def _decided_urls(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [u for (u,) in conn.execute("SELECT url FROM decisions")]
    finally:
        conn.close()


def _crawl_row(db: Path) -> tuple[str | None, str | None]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT finished_at, finish_reason FROM crawls").fetchone()
    finally:
        conn.close()


def _every_request_has_a_decision(web, db: Path) -> None:
    decided = set(_decided_urls(db))
    pages = [u for u in web.requested() if "/p/" in u or u == "http://slow.example/"]
    missing = [u for u in pages if u not in decided]
    assert not missing, f"{len(missing)} requests without a decision, e.g. {missing[:3]}"
    assert not any("/private/" in u for u in web.requested())


@pytest.mark.parametrize("run", range(10))
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_leaves_a_decision_for_every_request(web, tmp_path, presses, run) -> None:
    _site(web)
    db = tmp_path / "ledger.db"
    proc = _start(web, db)
    rng = random.Random(run * 10 + presses)
    _wait_for_pages(web, rng.randint(1, 12))
    time.sleep(rng.uniform(0, 0.4))
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.15)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    _every_request_has_a_decision(web, db)
    finished_at, reason = _crawl_row(db)
    assert finished_at is not None
    assert reason == ("shutdown" if presses == 1 else "forced")
    check = run_cli(["verify", "--db", str(db), "--strict"])
    assert check.returncode == 0, check.stderr


def test_sigterm_is_a_graceful_stop(web, tmp_path) -> None:
    _site(web)
    db = tmp_path / "ledger.db"
    proc = _start(web, db)
    _wait_for_pages(web, 4)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    _every_request_has_a_decision(web, db)
    assert _crawl_row(db)[1] == "shutdown"


@pytest.mark.parametrize("run", range(10))
def test_sigkill_leaves_a_ledger_that_verifies_and_says_it_did_not_finish(
        web, tmp_path, run) -> None:
    _site(web)
    db = tmp_path / "ledger.db"
    proc = _start(web, db)
    rng = random.Random(run)
    _wait_for_pages(web, rng.randint(1, 20))
    time.sleep(rng.uniform(0, 1.2))
    proc.kill()
    proc.communicate(timeout=30)
    check = run_cli(["verify", "--db", str(db)])
    assert check.returncode == 0, check.stderr
    assert "did not finish: up to 1 s of decisions may be missing" in check.stderr
    assert run_cli(["verify", "--db", str(db), "--strict"]).returncode == 1
    assert _crawl_row(db) == (None, None)
