"""run_cli (tests/cliserver.py) behaves as the CLI in a fresh subprocess does."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, check_json, cli_env, run_cli


def _subprocess(args, web=None, **env):
    return subprocess.run([sys.executable, "-m", "tdmguard.crawler.cli", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=cli_env(web, **env), cwd=ROOT)


@pytest.mark.parametrize("args", [
    ["--help"],
    ["check", "not a url", "--user-agent", "TestBot"],
    ["no-such-command"],
    ["verify", "--db", "/nonexistent/ledger.db"],
])
def test_same_output_and_exit_status_as_a_subprocess(args):
    ours, real = run_cli(args), _subprocess(args)
    assert ours.returncode == real.returncode
    assert ours.stderr == real.stderr.replace("python -m tdmguard.crawler.cli", "tdmguard")
    assert ours.stdout == real.stdout.replace("python -m tdmguard.crawler.cli", "tdmguard")


def test_environment_standard_input_and_a_crawl(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://s.example/public", "<html>public</html>")
    # the user agent from the environment (click envvar), URLs from stdin
    proc = run_cli(["check", "-", "--format", "json"], web,
                   input="http://s.example/public\nhttp://s.example/private/x\n",
                   TDMGUARD_USER_AGENT="EnvBot")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["allowed"] for r in rows] == [True, False]
    assert "http://s.example/private/x" not in web.requested()
    assert all(r.headers.get("User-Agent", "").startswith("EnvBot/") for r in web.log)
    # the parent's fixture web kept serving while the child crawled, twice
    assert check_json(web, ["http://s.example/public"], "--user-agent", "TestBot")[0]["allowed"]


def test_a_run_past_its_timeout_is_killed(web):
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n", delay=30)
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli(["check", "http://s.example/", "--user-agent", "TestBot"], web, timeout=2)
    assert time.monotonic() - started < 10
    # the server is still usable afterwards
    assert run_cli(["--help"]).returncode == 0

