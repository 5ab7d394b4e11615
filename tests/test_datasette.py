"""A crawl's ledger served by Datasette on 127.0.0.1 with tdmguard's metadata:
robots.txt reads as text, and the canned queries answer over real HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
        return json.loads(response.read())


@pytest.fixture
def served(web, tmp_path: Path):
    web.add("http://pub.example/robots.txt", ROBOTS)
    web.add("http://pub.example/", '<a href="/a">a</a><a href="/private/b">b</a>')
    web.add("http://pub.example/a", "<html>a</html>")
    db = tmp_path / "ledger.db"
    proc = run_cli(["crawl", "http://pub.example/", "--user-agent", "TestBot", "--db",
                    str(db)], web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    meta = tmp_path / "metadata.json"
    proc = run_cli(["datasette-metadata", "--db", str(db), "-o", str(meta)])
    assert proc.returncode == 0, proc.stderr
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", "-i", str(db), "-m", str(meta),
         "--host", "127.0.0.1", "--port", str(port)],
        env=cli_env(None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _get(f"{base}/-/versions.json")
            break
        except OSError:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "datasette did not start"
            time.sleep(0.1)
    yield base
    server.terminate()
    server.wait(10)
    server.stderr.close()


def test_robots_txt_reads_as_text_and_canned_queries_answer(served: str) -> None:
    rows = _get(f"{served}/ledger/snapshots.json?kind=robots.txt&_shape=array")
    assert [r["body"] for r in rows] == [ROBOTS]
    rows = _get(f"{served}/ledger/decisions_for_domain.json?domain=pub.example&_shape=array")
    by_url = {r["url"]: r for r in rows}
    assert set(by_url) == {"http://pub.example/", "http://pub.example/a",
                           "http://pub.example/private/b"}
    assert all(r["robots_txt"] == ROBOTS for r in rows)
    assert all(r["robots_url"] == "http://pub.example/robots.txt" for r in rows)
    assert by_url["http://pub.example/private/b"]["allowed"] == 0
    rows = _get(f"{served}/ledger/refusals_by_protocol_and_month.json?_shape=array")
    assert [(r["protocol"], r["refused_before_download"]) for r in rows] == [("robots.txt", 1)]
    rows = _get(f"{served}/ledger/crawls_and_their_settings.json?_shape=array")
    assert rows[0]["finish_reason"] == "finished"
    assert json.loads(rows[0]["settings"])["TDMGUARD_ROBOTSTXT_ENABLED"] is True
    meta = _get(f"{served}/-/metadata.json")
    assert "fetched_before_a_later_reservation" in meta["databases"]["ledger"]["queries"]
