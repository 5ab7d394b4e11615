"""Shared fixtures: the fixture web on 127.0.0.1 and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Keep every tldextract instance offline, Scrapy's included (STYLE.md §3).
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from tdmguard.crawler.fixtureweb import FixtureWeb  # noqa: E402

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


def run_cli(args: list[str], web: FixtureWeb | None = None, timeout: float = 120,
            cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``tdmguard`` CLI in a subprocess (the reactor runs once)."""
    return subprocess.run(
        [sys.executable, "-m", "tdmguard.crawler.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=cli_env(web, **env),
        cwd=cwd or ROOT,
    )


def check_json(web: FixtureWeb, urls: list[str], *opts: str, **env: str) -> list[dict[str, Any]]:
    proc = run_cli(["check", *urls, "--format", "json", *opts], web, **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def by_url(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in rows}
