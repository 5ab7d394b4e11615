"""``tdmguard blocklist check`` and ``tdmguard blocklist list``: offline, no Scrapy."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tdmguard.crawler.cli import cli

from .conftest import ROOT, run_cli

DATA = ROOT / "tests" / "data" / "blocklists"
COURT, WATCH, MALFORMED = DATA / "test-court.txt", DATA / "test-watch.txt", DATA / "malformed.txt"


def invoke(*args: str):
    return CliRunner().invoke(cli, ["blocklist", *args], catch_exceptions=False)


def test_check_json_shape_and_normalisation():
    inputs = ["listed.to", "WWW.LISTED.TO.", "https://deep.sub.listed.to:8443/x?y",
              "bücher.example", "xn--bcher-kva.example", "münchen.example",
              "not-listed.to", "listed.to.example.com", "advisory.example",
              "thepiratebay.org"]
    result = invoke("check", *inputs, "--blocklist", str(COURT), "--blocklist", str(WATCH),
                    "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["input"]: row for row in json.loads(result.stdout)}
    assert list(rows) == inputs
    for row in rows.values():
        assert {"input", "blocked", "list", "edition", "entry"} <= set(row)
    for value in inputs[:6]:
        assert rows[value]["blocked"] is True and rows[value]["list"] == "test-court"
        assert rows[value]["edition"] == "2026-01-01"
    assert rows["WWW.LISTED.TO."]["entry"] == "listed.to"
    assert rows["WWW.LISTED.TO."]["host"] == "www.listed.to"
    assert rows["bücher.example"]["entry"] == "xn--bcher-kva.example"
    assert rows["münchen.example"]["entry"] == "xn--mnchen-3ya.example"
    for value in ("not-listed.to", "listed.to.example.com"):
        assert rows[value] == {"input": value, "host": value, "blocked": False,
                               "list": None, "kind": None, "edition": None, "entry": None}
    assert rows["advisory.example"]["blocked"] is True
    assert rows["advisory.example"]["kind"] == "advisory"
    assert rows["thepiratebay.org"]["list"] == "be-antwerp-court-of-appeal-2011"


def test_check_advisory_warn_and_no_shipped():
    result = invoke("check", "advisory.example", "thepiratebay.org", "--blocklist", str(WATCH),
                    "--advisory", "warn", "--no-shipped", "--format", "json")
    advisory, pirate = json.loads(result.stdout)
    assert advisory["blocked"] is False and advisory["list"] == "test-watch"
    assert pirate["blocked"] is False and pirate["list"] is None


def test_check_table():
    result = invoke("check", "www.listed.to", "not-listed.to", "--blocklist", str(COURT))
    blocked, allowed = result.stdout.splitlines()
    assert blocked.startswith("BLOCKED") and "test-court" in blocked and "2026-01-01" in blocked
    assert allowed.startswith("allowed")


def test_list_json_and_table():
    result = invoke("list", "--blocklist", str(COURT), "--blocklist", str(WATCH),
                    "--format", "json")
    rows = json.loads(result.stdout)
    names = [row["name"] for row in rows]
    # authoritative lists first, then advisory ones
    kinds = [row["kind"] for row in rows]
    assert kinds == sorted(kinds, key=lambda k: k != "authoritative")
    court = rows[names.index("test-court")]
    assert court["entries"] == 4
    assert court["edition"] == "2026-01-01"
    assert court["source"].startswith("Judgment of 1 January 2026")
    assert court["kind"] == "authoritative" and len(court["sha256"]) == 64
    assert "ustr-notorious-markets" in names and "test-watch" in names
    result = invoke("list", "--no-shipped", "--blocklist", str(COURT))
    assert result.stdout.splitlines()[0] == \
        "test-court  authoritative  4 entries  edition 2026-01-01"
    assert "source: Judgment of 1 January 2026" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["check", "not a host"], "not a host name or URL"),
    (["check", "http://"], "not a host name or URL"),
    (["check", "x.example", "--blocklist", "no/such.txt"], "blocklist file not found"),
    (["list", "--blocklist", "no/such.txt"], "blocklist file not found"),
    (["list", "--blocklist", str(DATA)], "blocklist file not found"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run_cli(["blocklist", *args])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_header_errors_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("# name: x\n# kind: rumour\nexample.org\n", encoding="utf-8")
    proc = run_cli(["blocklist", "list", "--blocklist", str(bad)])
    assert proc.returncode == 2 and "is not one of authoritative, advisory" in proc.stderr
    twin = tmp_path / "twin.txt"
    twin.write_text(COURT.read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_cli(["blocklist", "list", "--blocklist", str(COURT), "--blocklist", str(twin)])
    assert proc.returncode == 2 and "two blocklists are named 'test-court'" in proc.stderr


def test_malformed_lines_are_warnings_naming_file_and_line():
    proc = run_cli(["blocklist", "check", "good.example", "--blocklist", str(MALFORMED),
                    "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "malformed.txt:6: whitespace inside an entry: 'not a host name'" in proc.stderr
    assert "malformed.txt:7: a bare public suffix" in proc.stderr
    assert json.loads(proc.stdout)[0]["blocked"] is True


@pytest.mark.parametrize("command", ["check", "list"])
def test_subcommands_have_help_with_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout
    assert f"tdmguard blocklist {command}" in (ROOT / "README.md").read_text(encoding="utf-8")
