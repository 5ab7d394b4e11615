"""One CLI output layer: formats, several ledgers, exit codes, URL input.

Ledger commands run in-process (click's CliRunner) over ledgers written here
with the real :class:`Ledger`; ``check`` crawls the fixture web in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from tdmguard.crawler.cli import cli
from tdmguard.crawler.output import FORMATS, render
from tdmguard.middlewares.escape import escape_md
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import Decision, Reason

from .conftest import ROOT, cli_env, run_cli

ESC = "\x1b"
#: A reason written by a hostile page: every character CSV and Markdown care about.
NASTY = f'a, "quoted" | piped\nsecond line\r\n{ESC}[31mred{ESC}[0m \u202eevil\\'
PAGE = "http://pub.example/a,b"
#: Registrable domain per host; one has a comma and quotes in it.
DOMAINS = {"pub.example": "pub.example", "odd.example": 'odd,"x".example'}


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def make_ledger(path, at: str, token: str = "TestBot", robots: bytes = b"User-agent: *\n",
                allowed: bool = True, length: int = 100):
    """A ledger with one crawl: PAGE (with NASTY in its reason) and a page on
    odd.example, both citing a robots.txt snapshot."""
    ledger = Ledger(str(path), domain_of=lambda url: DOMAINS[urlsplit(url).hostname])
    ledger.start_crawl(started_at=at, tokens=[token], user_agent=f"{token}/1",
                       mode="strict", purpose="train-ai", settings={})
    snap = Snapshot(kind="robots.txt", url="http://pub.example/robots.txt",
                    origin="http://pub.example", fetched_at=at, status=200, body=robots)
    ledger.add_snapshot(snap)
    ledger.add(Decision(url=PAGE, allowed=allowed, at=at, origin="http://pub.example",
                        stage="fetched" if allowed else "refused",
                        status=200 if allowed else None,
                        content_length=length if allowed else None,
                        reasons=[Reason("robots.txt", "permitted" if allowed else "reserved",
                                        rule="Disallow: /", detail=NASTY)],
                        snapshots={"robots.txt": snap.sha256}))
    ledger.add(Decision(url="http://odd.example/", allowed=True, at=at, status=200,
                        origin="http://odd.example", content_length=7,
                        reasons=[Reason("robots.txt", "permitted")]))
    ledger.finish_crawl(at)
    ledger.close()
    return path


@pytest.fixture
def ledgers(tmp_path):
    """Two ledgers in one directory: an older crawl that fetched PAGE and a
    newer one whose robots.txt refused it."""
    folder = tmp_path / "ledgers"
    folder.mkdir()
    old = make_ledger(folder / "a-old.db", "2026-01-01T00:00:00Z", robots=b"User-agent: *\n")
    new = make_ledger(folder / "b-new.db", "2026-02-01T00:00:00Z", token="OtherBot",
                      robots=f"User-agent: *\nDisallow: /\n# {ESC}]0;pwned\a\n".encode(),
                      allowed=False)
    return folder, old, new


def md_cells(line: str) -> list[str]:
    """Split a Markdown table row on its unescaped pipes."""
    cells, cur, i = [], "", 1
    body = line.strip()
    while i < len(body) - 1:
        if body[i] == "\\":
            cur += body[i:i + 2]
            i += 2
            continue
        if body[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += body[i]
        i += 1
    return [*cells, cur.strip()]


# -- the render function ------------------------------------------------------------


RECORDS = [{"name": NASTY, "n": 1, "ok": True, "nested": {"k": [1, "x,y"]}, "none": None},
           {"name": "plain", "n": 2, "ok": False, "extra": "only here"}]


def test_render_json_jsonl_and_csv_parse_back():
    assert json.loads(render(RECORDS, "json")) == RECORDS
    assert [json.loads(line) for line in render(RECORDS, "jsonl").splitlines()] == RECORDS
    rows = list(csv.DictReader(io.StringIO(render(RECORDS, "csv"), newline="")))
    assert list(rows[0]) == ["name", "n", "ok", "nested", "none", "extra"]
    assert rows[0]["name"] == NASTY  # commas, quotes, CR/LF and all, byte for byte
    assert json.loads(rows[0]["nested"]) == {"k": [1, "x,y"]}
    assert (rows[0]["ok"], rows[1]["ok"], rows[0]["none"], rows[1]["nested"]) == \
        ("true", "false", "", "")
    assert rows[1]["extra"] == "only here"


def test_render_md_escapes_pipes_newlines_and_control_characters():
    text = render(RECORDS, "md")
    lines = text.splitlines()
    assert len(lines) == 4  # header, rule, two rows: the newline became <br>
    assert all(len(md_cells(line)) == 6 for line in lines)
    assert lines[1] == "|---|---|---|---|---|---|"
    name = md_cells(lines[2])[0]
    assert name.startswith(r'a, "quoted" \| piped<br>second line<br>')
    # a visible escape keeps its backslash through Markdown: \\x1b renders as \x1b
    assert r"\\x1b\[31mred\\x1b\[0m \\u202eevil\\" in name
    assert ESC not in text and "\u202e" not in text and "\r" not in text
    assert escape_md("a*b_c`d<e>&[f]\\") == r"a\*b\_c\`d\<e\>\&\[f\]\\"


def test_render_table_shows_control_characters_as_escapes():
    text = render(RECORDS, "table")
    assert ESC not in text and "\u202e" not in text and "\r" not in text
    header, _rule, first, _second = text.splitlines()
    assert header.split() == ["name", "n", "ok", "nested", "none", "extra"]
    assert "\\x1b[31mred\\x1b[0m" in first and "\\u202eevil" in first and "\\n" in first


# -- ledger commands: every format, several ledgers -----------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_evidence_every_format(ledgers, fmt):
    _folder, old, new = ledgers
    result = invoke("evidence", PAGE, "--db", str(old), "--db", str(new), "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        records = json.loads(out)["records"]
    elif fmt == "jsonl":
        records = [json.loads(line) for line in out.splitlines()]
    elif fmt == "csv":
        records = list(csv.DictReader(io.StringIO(out, newline="")))
        for r in records:
            r["reasons"] = json.loads(r["reasons"])
            r["snapshots"] = json.loads(r["snapshots"])
            r["allowed"] = json.loads(r["allowed"])
    else:
        # documents for people: newest first, each naming its ledger, web text escaped
        assert ESC not in out and "\a" not in out
        assert out.index("2026-02-01") < out.index("2026-01-01")
        assert f"in {new}" in out.replace("\\_", "_")
        assert "\\x1b]0;pwned\\x07" in out  # the robots.txt body, shown as data
        return
    assert [r["ledger"] for r in records] == [str(new), str(old)]  # newest first
    assert [r["allowed"] for r in records] == [False, True]
    assert records[0]["reasons"][0]["detail"] == NASTY
    assert "Disallow: /" in records[0]["snapshots"][0]["body"]


def test_evidence_domain_formats(ledgers):
    folder, old, new = ledgers
    ev = json.loads(invoke("evidence", "--domain", "pub.example", "--db", str(folder),
                           "--format", "json").stdout)
    assert ev["decisions"] == 2 and ev["urls"] == 1
    assert ev["by_verdict"] == {"allowed": 1, "refused": 1}
    assert ev["ledgers"] == [str(old), str(new)]
    rows = list(csv.DictReader(io.StringIO(invoke(
        "evidence", "--domain", "pub.example", "--db", str(folder), "--format", "csv").stdout)))
    counts = {r["count_of"]: int(r["count"]) for r in rows}
    assert counts["decisions"] == 2 and counts["protocol/robots.txt/reserved"] == 1
    table = invoke("evidence", "--domain", "pub.example", "--db", str(folder)).stdout
    assert table.startswith("pub.example: 2 decisions over 1 URLs")


def test_summary_over_several_ledgers_and_csv_quoting(ledgers):
    folder, old, new = ledgers
    s = json.loads(invoke("summary", "--db", str(folder), "--format", "json").stdout)
    a = s["section_2_3"]
    assert a["crawler_names"] == ["OtherBot", "TestBot"]
    assert a["collection_period"] == {"from": "01/2026", "to": "02/2026"}
    assert a["domains_crawled"] == 2
    assert s["section_3_1"]["pages_refused_by_protocol"] == {"robots.txt": 1}
    result = invoke("summary", "--db", str(old), "--db", str(new), "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert rows[0] == ["domain", "bytes", "pages"]
    # odd.example: 7 bytes in each ledger; pub.example was fetched only once
    assert rows[1:] == [["pub.example", "100", "1"]]  # the top 10% of 2 domains: one
    jsonl = invoke("summary", "--db", str(folder), "--format", "jsonl", "--sme").stdout
    assert [json.loads(line) for line in jsonl.splitlines()] == \
        [{"domain": "pub.example", "bytes": 100, "pages": 1}]
    md = invoke("summary", "--db", str(folder)).stdout
    assert md.startswith("## 2.3 Data crawled") and "OtherBot, TestBot" in md


def test_summary_csv_quotes_a_domain_with_a_comma(tmp_path):
    db = make_ledger(tmp_path / "l.db", "2026-01-01T00:00:00Z", length=1)
    rows = list(csv.reader(io.StringIO(invoke("summary", "--db", str(db), "--format",
                                              "csv").stdout, newline="")))
    assert rows == [["domain", "bytes", "pages"], ['odd,"x".example', "7", "1"]]
    md = invoke("summary", "--db", str(db), "--format", "md").stdout
    assert "odd,\\\"x\\\".example" in md or 'odd,"x".example' in md


def test_verify_reports_each_ledger_and_exits_1_when_any_fails(ledgers):
    folder, old, new = ledgers
    result = invoke("verify", "--db", str(folder))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"OK: 2 decisions, hash chain intact in {old}",
                                          f"OK: 2 decisions, hash chain intact in {new}"]
    conn = sqlite3.connect(new)
    conn.execute("update decisions set allowed = 1 where id = 1")
    conn.commit()
    conn.close()
    result = invoke("verify", "--db", str(old), "--db", str(new))
    assert result.exit_code == 1
    assert result.stdout == f"OK: 2 decisions, hash chain intact in {old}\n"
    assert result.stderr.startswith("TAMPERED: ") and "id 1" in result.stderr
    assert result.stderr.rstrip().endswith(f"in {new}")
    result = invoke("verify", "--db", str(folder), "--format", "json")
    assert result.exit_code == 1
    assert [(r["ledger"], r["ok"], r["decisions"]) for r in json.loads(result.stdout)] == \
        [(str(old), True, 2), (str(new), False, 0)]
    # the same file named twice (and through its directory) is read once
    result = invoke("verify", "--db", str(old), "--db", str(folder / ".." / "ledgers" /
                                                            "a-old.db"), "--format", "jsonl")
    assert len(result.stdout.splitlines()) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_blocklist_commands_every_format(fmt):
    court = str(ROOT / "tests" / "data" / "blocklists" / "test-court.txt")
    result = invoke("blocklist", "check", "www.listed.to", "a,b.example", "--no-shipped",
                    "--blocklist", court, "--format", fmt)
    assert result.exit_code == 2 and "not a host name" in result.stderr
    result = invoke("blocklist", "check", "www.listed.to", "free.example", "--no-shipped",
                    "--blocklist", court, "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        rows = json.loads(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
        for r in rows:
            r["blocked"] = json.loads(r["blocked"])
    elif fmt == "md":
        lines = out.splitlines()
        assert md_cells(lines[0])[:3] == ["input", "host", "blocked"]
        rows = [dict(zip(md_cells(lines[0]), md_cells(line), strict=True)) for line in lines[2:]]
        for r in rows:
            r["blocked"] = json.loads(r["blocked"])
    else:
        assert out.startswith("BLOCKED") and "allowed  free.example" in out
        return
    assert [(r["input"], r["blocked"]) for r in rows] == \
        [("www.listed.to", True), ("free.example", False)]
    listed = invoke("blocklist", "list", "--no-shipped", "--blocklist", court, "--format", fmt)
    assert listed.exit_code == 0 and "test-court" in listed.stdout


# -- exit codes and closing -------------------------------------------------------------


def test_bad_ledger_inputs_are_one_line_exit_2(tmp_path, ledgers):
    folder, old, _new = ledgers
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    text = tmp_path / "text.db"
    text.write_text("hello")
    cases = [
        (["verify", "--db", str(empty)], "no ledger in the directory"),
        (["summary", "--db", str(old), "--db", str(tmp_path / "missing.db")], "no ledger at"),
        (["evidence", PAGE, "--db", str(folder), "--db", str(text)], "not an SQLite file"),
        (["evidence", PAGE, "--domain", "x.example", "--db", str(old)], "either a URL"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "missing.db").exists()
    result = CliRunner().invoke(cli, ["verify", "--no-such-option"])
    assert result.exit_code == 2 and "No such option" in result.stderr
    result = CliRunner().invoke(cli, ["summary", "--db", str(old), "--format", "xml"])
    assert result.exit_code == 2


@pytest.fixture
def opened(monkeypatch):
    """Every ledger a command opens, to check it was closed."""
    from tdmguard.middlewares import ledger

    dbs = []
    real = ledger.open_existing

    def spy(path):
        dbs.append(real(path))
        return dbs[-1]

    monkeypatch.setattr(ledger, "open_existing", spy)
    return dbs


def closed(db) -> bool:
    try:
        db.conn.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_ledgers_are_closed_on_success_and_on_a_failed_check(ledgers, opened):
    folder, old, _new = ledgers
    assert invoke("summary", "--db", str(folder)).exit_code == 0
    assert len(opened) == 2 and all(closed(db) for db in opened)
    conn = sqlite3.connect(old)
    conn.execute("delete from decisions where id = 2")
    conn.commit()
    conn.close()
    assert invoke("verify", "--db", str(folder)).exit_code == 1
    assert len(opened) == 4 and all(closed(db) for db in opened)


def test_ctrl_c_inside_a_command_is_one_line_exit_130(ledgers, opened, monkeypatch):
    folder, _old, _new = ledgers
    from tdmguard.middlewares import ledger

    def interrupt(db):
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger, "verify", interrupt)
    result = CliRunner().invoke(cli, ["verify", "--db", str(folder)])
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n" and result.stdout == ""
    assert opened and all(closed(db) for db in opened)


# -- check: URLs from a file or standard input -----------------------------------------


def test_check_reads_urls_from_a_file_and_from_stdin(web, tmp_path):
    web.add("http://s.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://s.example/open", "<html>open</html>")
    web.add("http://s.example/private/x", "<html>x</html>")
    listing = ("# pages to check\n\nhttp://s.example/open\n  http://s.example/private/x  \n"
               "   # indented comment\n")
    path = tmp_path / "urls.txt"
    path.write_text(listing, encoding="utf-8")
    proc = run_cli(["check", "-i", str(path), "--user-agent", "TestBot", "--format", "csv"], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(proc.stdout, newline="")))
    assert [(r["url"], r["allowed"]) for r in rows] == \
        [("http://s.example/open", "true"), ("http://s.example/private/x", "false")]
    assert {"protocol": "robots.txt", "verdict": "reserved"}.items() <= \
        next(r for r in json.loads(rows[1]["reasons"]) if r["protocol"] == "robots.txt").items()
    proc = subprocess.run(
        [sys.executable, "-m", "tdmguard.crawler.cli", "check", "-", "http://s.example/open",
         "--user-agent", "TestBot", "--format", "jsonl"],
        input=listing, capture_output=True, check=False, text=True, timeout=120, env=cli_env(web),
        cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["url"], r["allowed"]) for r in rows] == [
        ("http://s.example/open", True), ("http://s.example/private/x", False),
        ("http://s.example/open", True)]


def test_check_names_the_line_of_a_bad_url_before_any_request(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("http://s.example/\n# fine\n\nftp://s.example/x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "--input", str(path), "--user-agent", "TestBot"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {path} line 4: not a usable URL: "
                                     "'ftp://s.example/x' (give an absolute http:// or "
                                     "https:// URL)")
    result = CliRunner().invoke(cli, ["check", "-", "--user-agent", "TestBot"],
                                input="http://s.example/\nnot a url\n")
    assert result.exit_code == 2
    assert "standard input line 2: not a usable URL: 'not a url'" in result.stderr
    for args, message in ((["check", "-i", str(tmp_path / "nope.txt")], "cannot read"),
                          (["check", "-"], "no URL to check")):
        result = CliRunner().invoke(cli, args, input="# only a comment\n")
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_command_modules_do_not_import_the_group():
    """No import cycle: each command module loads without tdmguard.crawler.cli."""
    code = ("import sys\n"
            "import tdmguard.crawler.blocklist_cli, tdmguard.crawler.crawl_cli\n"
            "import tdmguard.crawler.ledger_cli, tdmguard.crawler.output\n"
            "assert 'tdmguard.crawler.cli' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=cli_env(None), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
