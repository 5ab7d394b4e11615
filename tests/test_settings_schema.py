"""One typed schema for every TDMGUARD_* setting: bad values and unknown names
are one-line errors naming the setting, the value and what is accepted."""

from __future__ import annotations

import doctest
import re
import sqlite3

import pytest

from tdmguard.middlewares import schema
from tdmguard.middlewares.schema import SCHEMA, SettingError, parse_all, parse_value

from .conftest import ROOT


def test_doctests() -> None:
    assert doctest.testmod(schema).failed == 0


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", "3600", 3600.0),
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", 60, 60.0),
    ("TDMGUARD_ROBOTSTXT_ENABLED", "False", False),
    ("TDMGUARD_ROBOTSTXT_ENABLED", "0", False),
    ("TDMGUARD_ROBOTSTXT_ENABLED", "on", True),
    ("TDMGUARD_ROBOTSTXT_ENABLED", False, False),
    ("TDMGUARD_MODE", "RFC", "rfc"),
    ("TDMGUARD_DB_BATCH_SIZE", "200", 200),
    ("TDMGUARD_BLOCKLISTS", "a.txt, b.txt", ["a.txt", "b.txt"]),
    ("TDMGUARD_BLOCKLISTS", '["a,1.txt"]', ["a,1.txt"]),
    ("TDMGUARD_RSL_LICENSES", [], []),
    ("TDMGUARD_USER_AGENT", "ExampleBot, Other-Bot", ["ExampleBot", "Other-Bot"]),
    ("TDMGUARD_LOGIN_WALL_PATTERNS", "login,/sso/", ["login", "/sso/"]),
    ("TDMGUARD_NOAI_EXTRA_DIRECTIVES", "noindex, NoArchive", ["noindex", "noarchive"]),
])
def test_values_a_user_may_write_parse_to_their_type(name, value, expected) -> None:
    assert parse_value(name, value) == expected
    assert type(parse_value(name, value)) is type(expected)


@pytest.mark.parametrize(("name", "value", "accepts"), [
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", "abc", "a number of seconds >= 0"),
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", "-5", "a number of seconds >= 0"),
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", "nan", "a number of seconds >= 0"),
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL", True, "a number of seconds >= 0"),
    ("TDMGUARD_ROBOTSTXT_ENABLED", "maybe", "true or false"),
    ("TDMGUARD_ROBOTSTXT_ENABLED", 2, "true or false"),
    ("TDMGUARD_MODE", "lenient", "strict or rfc"),
    ("TDMGUARD_PURPOSE", "everything", "train-ai, search, ai-input"),
    ("TDMGUARD_DB_BATCH_SIZE", "1.5", "a whole number >= 1"),
    ("TDMGUARD_DB_BATCH_SIZE", "0", "a whole number >= 1"),
    ("TDMGUARD_BLOCKLISTS", "[not json", "list file paths"),
    ("TDMGUARD_BLOCKLISTS", 5, "list file paths"),
    ("TDMGUARD_USER_AGENT", "Example Bot/1.0", "RFC 9309 product token"),
    ("TDMGUARD_LOGIN_WALL_PATTERNS", "([", "regular expressions"),
    ("TDMGUARD_TDMREP_MATCHING", "shortest", "first or longest"),
    ("TDMGUARD_NOAI_EXTRA_DIRECTIVES", "no index", "robots directive names"),
])
def test_a_bad_value_is_one_line_naming_setting_value_and_what_is_accepted(
        name, value, accepts) -> None:
    with pytest.raises(SettingError) as info:
        parse_value(name, value)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}={value!r} is not usable: expected ")
    assert accepts in message


@pytest.mark.parametrize(("wrong", "meant"), [
    ("TDMGUARD_ROBOTSTXT_CACHE_TL", "TDMGUARD_ROBOTSTXT_CACHE_TTL"),
    ("TDMGUARD_ROBOTS_ENABLED", "TDMGUARD_ROBOTSTXT_ENABLED"),
    ("TDMGUARD_TDMREP_ENABLE", "TDMGUARD_TDMREP_ENABLED"),
    ("TDMGUARD_BLOCKLIST", "TDMGUARD_BLOCKLISTS"),
])
def test_a_misspelled_name_is_an_error_with_the_closest_name(wrong, meant) -> None:
    with pytest.raises(SettingError, match=f"unknown setting {wrong}: did you mean {meant}\\?"):
        parse_all({wrong: "1"})


def test_a_name_nothing_resembles_is_still_an_error() -> None:
    with pytest.raises(SettingError, match="unknown setting TDMGUARD_XYZZY "):
        parse_all({"TDMGUARD_XYZZY": "1"})


def test_other_settings_are_not_ours_to_judge() -> None:
    typed = parse_all({"DOWNLOAD_DELAY": "x", "TDMGUARD_MODE": "rfc"})
    assert typed["TDMGUARD_MODE"] == "rfc" and "DOWNLOAD_DELAY" not in typed


def test_every_setting_typed_with_defaults_filled_in() -> None:
    typed = parse_all({"TDMGUARD_USER_AGENT": "ExampleBot"})
    assert set(typed) == set(SCHEMA)
    assert typed["TDMGUARD_ROBOTSTXT_ENABLED"] is True
    assert typed["TDMGUARD_ROBOTSTXT_CACHE_TTL"] == 86400.0


def test_every_setting_the_code_reads_is_in_the_schema_and_vice_versa() -> None:
    used: set[str] = set()
    for folder in ("middlewares", "blocklists", "crawler", "policy"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "schema.py":
                continue  # the declarations themselves
            used |= set(re.findall(r"\bTDMGUARD_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    # Names that are not settings: environment variables of the CLI.
    assert used - set(SCHEMA) == set()
    assert set(SCHEMA) - used == set()


SPIDER = """
import scrapy

class S(scrapy.Spider):
    name = "s"
    start_urls = ["http://pub.example/"]

    def parse(self, response):
        yield {"url": response.url}
"""


@pytest.mark.parametrize(("setting", "expected"), [
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL=abc",
     "TDMGUARD_ROBOTSTXT_CACHE_TTL='abc' is not usable: expected a number of seconds >= 0"),
    ("TDMGUARD_ROBOTS_ENABLED=false",
     "unknown setting TDMGUARD_ROBOTS_ENABLED: did you mean TDMGUARD_ROBOTSTXT_ENABLED?"),
    ("TDMGUARD_ROBOTSTXT_ENABLED=perhaps",
     "TDMGUARD_ROBOTSTXT_ENABLED='perhaps' is not usable: expected true or false"),
    ("TDMGUARD_DB=no-such-dir/ledger.db", "TDMGUARD_DB: cannot create the ledger"),
    ("TDMGUARD_DB=.", "TDMGUARD_DB: cannot use . as the ledger: it is a directory"),
    ("TDMGUARD_DB=notes.db", "TDMGUARD_DB: notes.db is not an SQLite file"),
    ("TDMGUARD_DB=other.db", "TDMGUARD_DB: other.db holds other tables (t): not a tdmguard"),
])
def test_scrapy_crawl_with_the_addon_stops_with_one_line(tmp_path, web, setting,
                                                         expected) -> None:
    import subprocess
    import sys

    from .conftest import cli_env

    web.add("http://pub.example/", "<html>x</html>")
    (tmp_path / "notes.db").write_text("my notes")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("create table t (x)")
    other.commit()
    other.close()
    (tmp_path / "p" / "spiders").mkdir(parents=True)
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = p.settings\n")
    (tmp_path / "p" / "__init__.py").write_text("")
    (tmp_path / "p" / "spiders" / "__init__.py").write_text("")
    (tmp_path / "p" / "spiders" / "s.py").write_text(SPIDER)
    (tmp_path / "p" / "settings.py").write_text(
        'ADDONS = {"tdmguard.TdmGuard": 0}\nTDMGUARD_USER_AGENT = "ProjBot"\n'
        'SPIDER_MODULES = ["p.spiders"]\n')
    env = cli_env(web)
    env["PYTHONPATH"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "s", "-s", setting],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tdmguard: error:")]
    assert len(errors) == 1 and expected in errors[0]
    assert web.requested() == []
    assert (tmp_path / "notes.db").read_text() == "my notes"
    assert sqlite3.connect(tmp_path / "other.db").execute(
        "select name from sqlite_master").fetchall() == [("t",)]


@pytest.mark.parametrize(("setting", "expected"), [
    ("TDMGUARD_ROBOTSTXT_CACHE_TTL=abc",
     "TDMGUARD_ROBOTSTXT_CACHE_TTL='abc' is not usable: expected a number of seconds >= 0"),
    ("TDMGUARD_TDMREP_ENABLE=false",
     "unknown setting TDMGUARD_TDMREP_ENABLE: did you mean TDMGUARD_TDMREP_ENABLED?"),
    ("TDMGUARD_DB=no-such-dir/ledger.db", "TDMGUARD_DB: cannot create the ledger"),
])
def test_the_cli_stops_with_one_line(web, setting, expected) -> None:
    from .conftest import run_cli

    proc = run_cli(["check", "http://pub.example/", "--user-agent", "TestBot", "-s", setting],
                   web)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert expected in lines[0] and "Traceback" not in proc.stderr
    assert web.requested() == []
