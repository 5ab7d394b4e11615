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
RUNS = 6  # each case runs six crawls at once, each stopped at its own random moment


def _site(web, host: str) -> None:
    web.add(f"http://{host}/robots.txt", "User-agent: *\nDisallow: /private/\n")
    links = "".join(f'<a href="/p/{i}">{i}</a><a href="/private/{i}">x</a>'
                    for i in range(PAGES))
    web.add(f"http://{host}/", f"<html><body>{links}</body></html>")
    for i in range(PAGES):
        web.add(f"http://{host}/p/{i}", f"<html>{i}</html>", delay=0.3)


def _start(web, host: str, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tdmguard.crawler.cli", "crawl", f"http://{host}/",
         "--user-agent", "TestBot", "--db", str(db), "-s", "TDMGUARD_POLITENESS_DELAY=0",
         "-s", "TDMGUARD_POLITENESS_CONCURRENCY=4"],
        env=cli_env(web), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _pages_requested(web, host: str) -> int:
    return sum(1 for r in web.requests_to(host) if "/p/" in r.url)


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


def _every_request_has_a_decision(web, host: str, db: Path) -> None:
    decided = set(_decided_urls(db))
    pages = [r.url for r in web.requests_to(host)
             if "/p/" in r.url or r.url == f"http://{host}/"]
    missing = [u for u in pages if u not in decided]
    assert not missing, f"{host}: {len(missing)} requests without a decision, e.g. {missing[:3]}"
    assert not any("/private/" in r.url for r in web.requests_to(host))


def _crawls_stopped_at_random(web, tmp_path: Path, seed: int, stop) -> list[tuple]:
    """RUNS crawls at once, each stopped by ``stop(proc)`` once it has asked
    for a random number of pages (1 to 12 of 60, each answered in 0.3 s, so
    none can finish first), plus a random pause."""
    rng = random.Random(seed)
    runs = []
    for n in range(RUNS):
        host = f"slow{n}.example"
        _site(web, host)
        db = tmp_path / f"ledger{n}.db"
        runs.append((host, db, _start(web, host, db), rng.randint(1, 12),
                     rng.uniform(0, 0.4), [False]))
    deadline = time.monotonic() + 60
    while not all(done[0] for *_, done in runs):
        assert time.monotonic() < deadline, "a crawl never got going"
        for host, _db, proc, pages, pause, done in runs:
            if not done[0] and _pages_requested(web, host) >= pages:
                time.sleep(pause / RUNS)
                stop(proc)
                done[0] = True
        time.sleep(0.01)
    return [(host, db, proc) for host, db, proc, *_ in runs]


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_leaves_a_decision_for_every_request(web, tmp_path, presses) -> None:
    def press(proc: subprocess.Popen[str]) -> None:
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.15)

    runs = _crawls_stopped_at_random(web, tmp_path, presses, press)
    ended = [(host, db, proc, proc.communicate(timeout=60)[1]) for host, db, proc in runs]
    for host, db, proc, err in ended:
        assert proc.returncode == 130, err[-2000:]
        assert "Traceback" not in err
        _every_request_has_a_decision(web, host, db)
        finished_at, reason = _crawl_row(db)
        assert finished_at is not None
        assert reason == ("shutdown" if presses == 1 else "forced")
        check = run_cli(["verify", "--db", str(db), "--strict"])
        assert check.returncode == 0, check.stderr


def test_sigterm_is_a_graceful_stop(web, tmp_path) -> None:
    _site(web, "term.example")
    db = tmp_path / "ledger.db"
    proc = _start(web, "term.example", db)
    deadline = time.monotonic() + 30
    while _pages_requested(web, "term.example") < 4:
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    _every_request_has_a_decision(web, "term.example", db)
    assert _crawl_row(db)[1] == "shutdown"


def test_sigkill_leaves_a_ledger_that_verifies_and_says_it_did_not_finish(
        web, tmp_path) -> None:
    runs = _crawls_stopped_at_random(web, tmp_path, 3, lambda proc: proc.kill())
    for _host, _db, proc in runs:
        proc.communicate(timeout=30)
    for _host, db, proc in runs:
        assert proc.returncode == -signal.SIGKILL
        check = run_cli(["verify", "--db", str(db)])
        assert check.returncode == 0, check.stderr
        assert "did not finish: up to 1 s of decisions may be missing" in check.stderr
        assert run_cli(["verify", "--db", str(db), "--strict"]).returncode == 1
        assert _crawl_row(db) == (None, None)
