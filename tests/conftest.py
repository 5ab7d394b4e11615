"""Shared fixtures: the fixture web on 127.0.0.1 and the real CLI, run as a fresh process."""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Keep every tldextract instance offline, Scrapy's included (STYLE.md §3).
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from tdmguard.crawler.fixtureweb import FixtureWeb

ROOT = Path(__file__).resolve().parent.parent
#: A byte-exact copy of ../shared/real-web (each folder's SOURCES.tsv names
#: where every file came from), so a clone tests the same inputs on its own.
REAL_WEB = ROOT / "tests" / "data" / "real-web"


@pytest.fixture
def web() -> Iterator[FixtureWeb]:
    with FixtureWeb() as w:
        yield w


def cli_env(web: FixtureWeb | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    env.pop("TDMGUARD_USER_AGENT", None)
    env.pop("TDMGUARD_DB", None)
    if web is not None:
        env["http_proxy"] = web.proxy_url
    env.update(extra)
    return env


#: Crawls in the suite skip the politeness gap between requests to an origin
#: (0.25 s by default: a one-URL check waits 0.75 s behind robots.txt,
#: tdmrep.json and ai.txt). A test that sets any TDMGUARD_POLITENESS_* itself
#: keeps its own values, which is how the politeness tests run;
#: ``TDMGUARD_TEST_POLITE=1`` runs the whole suite with the default.
SUITE_SETTINGS = ("-s", "TDMGUARD_POLITENESS_DELAY=0")


def suite_settings(args: list[str]) -> list[str]:
    """*args* with :data:`SUITE_SETTINGS` for ``check`` and ``crawl`` (see there)."""
    if (not args or args[0] not in ("check", "crawl") or "--" in args
            or os.environ.get("TDMGUARD_TEST_POLITE")
            or any("TDMGUARD_POLITENESS_" in a for a in args)):
        return args
    return [*args, *SUITE_SETTINGS]


def run_cli(args: list[str], web: FixtureWeb | None = None, timeout: float = 120,
            cwd: Path | None = None, input: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``tdmguard`` CLI as a fresh process would, and collect its output.

    The run is a fork of a warm server (tests/cliserver.py), so it skips ~1 s
    of imports but keeps its own interpreter state, reactor, environment,
    working directory and exit. ``TDMGUARD_TEST_SUBPROCESS=1`` (or a second
    run at the same time from another thread) uses a real subprocess instead.
    Tests where the process itself is the subject (a SIGKILL, two writers at
    once, the console script, ``scrapy crawl``) start their own.
    """
    args = suite_settings(list(args))
    env_ = cli_env(web, **env)
    workdir = Path(cwd or ROOT)
    if os.environ.get("TDMGUARD_TEST_SUBPROCESS") or not _SERVER_LOCK.acquire(blocking=False):
        return subprocess.run(
            [sys.executable, "-m", "tdmguard.crawler.cli", *args], input=input, check=False,
            capture_output=True, text=True, timeout=timeout, env=env_, cwd=workdir,
        )
    try:
        return _server().run(list(args), env_, workdir, timeout, input)
    finally:
        _SERVER_LOCK.release()


class _CliServer:
    """This worker's tests/cliserver.py: started on first use, ended at exit."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tdmguard-cli-"))
        with open(self.tmp / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.cliserver"], cwd=ROOT, env=cli_env(None),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            )
        atexit.register(self.close)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # EOF: the server returns
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _send(self, message: dict[str, Any]) -> None:
        from .cliserver import write_message

        assert self.proc.stdin is not None
        write_message(self.proc.stdin.fileno(), message)

    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        from .cliserver import read_message

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        if timeout is not None and not select.select([fd], [], [], max(timeout, 0))[0]:
            return None
        reply = read_message(fd)
        if reply is None:
            log = (self.tmp / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError("tests/cliserver.py ended unexpectedly "
                               f"(status {self.proc.wait()}): {log}")
        return reply

    def run(self, args: list[str], env: dict[str, str], cwd: Path, timeout: float,
            input: str | None) -> subprocess.CompletedProcess[str]:
        out, err, inp = (self.tmp / n for n in ("stdout", "stderr", "stdin"))
        for path in (out, err):
            path.write_bytes(b"")
        if input is not None:
            inp.write_text(input)
        deadline = time.monotonic() + timeout
        self._send({"args": args, "env": env, "cwd": str(cwd), "stdout": str(out),
                    "stderr": str(err), "stdin": str(inp) if input is not None else None})
        started = self._receive(None)
        assert started is not None
        pid = started["pid"]
        ended = self._receive(deadline - time.monotonic())
        if ended is None:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
            self._receive(None)
            raise subprocess.TimeoutExpired(["tdmguard", *args], timeout,
                                            _text(out.read_bytes()), _text(err.read_bytes()))
        return subprocess.CompletedProcess(["tdmguard", *args], ended["returncode"],
                                           _text(out.read_bytes()), _text(err.read_bytes()))


def _text(data: bytes) -> str:
    """Decode as ``subprocess.run(text=True)`` does (locale encoding, universal newlines)."""
    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


_SERVER_LOCK = threading.Lock()
_SERVER: _CliServer | None = None


def _server() -> _CliServer:
    global _SERVER
    if _SERVER is None or not _SERVER.alive():
        if _SERVER is not None:
            _SERVER.close()
        _SERVER = _CliServer()
    return _SERVER


def check_json(web: FixtureWeb, urls: list[str], *opts: str, **env: str) -> list[dict[str, Any]]:
    proc = run_cli(["check", *urls, "--format", "json", *opts], web, **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def by_url(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in rows}
