"""The README documents every setting and command, and --help works for each."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from tdmguard.crawler.cli import cli
from tdmguard.middlewares.settings import DEFAULTS

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_setting_is_documented(name):
    assert f"`{name}`" in README


def test_every_setting_used_in_code_is_a_default():
    used = set()
    for path in (ROOT / "middlewares").rglob("*.py"):
        used |= set(re.findall(r'"(TDMGUARD_[A-Z_]+)"', path.read_text(encoding="utf-8")))
    assert used <= set(DEFAULTS), used - set(DEFAULTS)


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_and_is_in_readme(command):
    result = CliRunner().invoke(cli, [command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert f"tdmguard {command}" in README
