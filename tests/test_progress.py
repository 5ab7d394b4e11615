"""Progress: a live line on a terminal, log lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import termios

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.crawler.progress import Progress

from .conftest import ROOT, run_cli


def test_log_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    with Progress(4, quiet=False, label="audit", stream=out, interval=0) as p:
        p.advance(2, refused=1)
        p.waiting("http://slow.example", "Crawl-delay 30 s")
        p.set_total(5)
        p.advance()
        p.waiting(None)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("audit: 2/4 done, 1 refused, ") and "/s" in lines[0]
    assert lines[1].endswith("; waiting for http://slow.example (Crawl-delay 30 s)")
    assert lines[2].startswith("audit: 3/5 done, 1 refused") and "ETA" in lines[2]
    assert "waiting" not in lines[3]
    assert lines[-1].startswith("audit: 3/5 done, 1 refused, in ")


def test_log_lines_come_at_the_interval_only() -> None:
    out = io.StringIO()
    with Progress(None, quiet=False, label="crawl", stream=out, interval=3600) as p:
        for _ in range(100):
            p.advance()
    assert out.getvalue().splitlines() == ["crawl: 100 done, 0 refused, in 0 s"]


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    with Progress(3, quiet=True, label="check", stream=out, interval=0) as p:
        p.advance(3, refused=2)
        p.waiting("http://slow.example", "Crawl-delay 30 s")
    assert out.getvalue() == ""


def test_live_line_on_a_terminal() -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    stream = open(slave, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        with Progress(4, quiet=False, label="check", stream=stream, interval=0) as p:
            p.advance(2, refused=1)
            p.waiting("http://slow.example", "Crawl-delay 30 s")
            p.advance(2)
        stream.flush()
        data = b""
        while select.select([master], [], [], 0.2)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        stream.close()
        os.close(master)
    text = data.decode("utf-8", "replace")
    assert "\r" in text  # redrawn in place, not one line per update
    assert "2/4" in text and "4/4" in text and "100%" in text
    assert "1 refused, waiting for http://slow.example (Crawl-delay 30 s)" in text
    # no log lines on a terminal
    assert "check: 2/4 done" not in text


@pytest.fixture(scope="module")
def slow_web():
    web = FixtureWeb()
    web.add("http://slow.example/robots.txt",
            "User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n")
    web.add("http://slow.example/a", "<p>a</p>")
    web.add("http://fast.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://fast.example/a", "<p>a</p>")
    with web:
        yield web


def test_check_logs_progress_and_the_origin_it_waits_for(slow_web) -> None:
    # Location documents off: robots.txt, then the page one Crawl-delay later.
    proc = run_cli(["check", "http://slow.example/a", "http://slow.example/private/x",
                    "--user-agent", "TestBot", "--progress-every", "0.2",
                    "-s", "TDMGUARD_LOCATION_ENABLED=false"], slow_web)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("ALLOWED") == 1 and proc.stdout.count("REFUSED") == 1
    lines = proc.stderr.splitlines()
    assert any(line.startswith("check: 1/2 done, 1 refused") and
               line.endswith("; waiting for http://slow.example (Crawl-delay 1 s)")
               for line in lines), proc.stderr
    assert lines[-1].startswith("check: 2/2 done, 1 refused, in ")


def test_quiet_check_prints_no_progress(slow_web) -> None:
    proc = run_cli(["check", "http://fast.example/a", "http://fast.example/private/x",
                    "--user-agent", "TestBot", "--quiet", "--progress-every", "0"], slow_web)
    assert proc.returncode == 0
    assert proc.stdout.count("ALLOWED") == 1 and proc.stdout.count("REFUSED") == 1
    assert proc.stderr == ""


def test_check_and_crawl_take_an_identity_from_a_config_file(slow_web, tmp_path) -> None:
    # (here because it shares this module's web; --config is wired with --quiet)
    toml = tmp_path / "tdmguard.toml"
    toml.write_text((ROOT / "docs" / "examples" / "tdmguard.toml").read_text(encoding="utf-8")
                    .replace("[settings]\n", "[settings]\nTDMGUARD_LOCATION_ENABLED = false\n"),
                    encoding="utf-8")
    proc = run_cli(["check", "http://fast.example/a", "--config", str(toml), "--quiet",
                    "--user-agent", "DemoSearchBot", "--format", "json"], slow_web)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)[0]
    assert row["allowed"] and row["purpose"] == "search"
    assert row["user_agent"].startswith("DemoSearchBot/0.1 (+https://ai-lab.example/")
    assert not any(r["protocol"] == "tdmrep" for r in row["reasons"])  # [settings] applied
    for cmd in (["check", "http://fast.example/a"], ["crawl", "http://fast.example/"]):
        proc = run_cli([*cmd, "--config", str(tmp_path / "nope.toml")])
        assert proc.returncode == 2 and "nope.toml: not found" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
