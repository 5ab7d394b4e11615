"""The distribution adds one import name, ``tdmguard``, and the add-on's one
line works in a project whose own modules are called ``middlewares`` and
``crawler``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env

PROJECT_SETTINGS = """
BOT_NAME = "proj"
SPIDER_MODULES = ["proj.spiders"]
ADDONS = {"tdmguard.TdmGuard": 0}
TDMGUARD_USER_AGENT = "ProjBot"
# The project's own top-level module and package, named like tdmguard's folders.
DOWNLOADER_MIDDLEWARES = {"middlewares.StampMiddleware": 543}
"""

OWN_MIDDLEWARES = '''
class StampMiddleware:
    def process_response(self, request, response, spider=None):
        return response.replace(headers={**response.headers, "X-Stamped": "1"})
'''

SPIDER = '''
import scrapy
import tdmguard

from crawler.helpers import label


class Follow(scrapy.Spider):
    name = "follow"
    start_urls = ["http://pub.example/"]

    def parse(self, response):
        yield {"url": response.url, "label": label(),
               "stamped": response.headers.get("X-Stamped") == b"1",
               "tdmguard": tdmguard.__file__}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the source tree (build/, *.egg-info): build a copy.
    src = tmp_path_factory.mktemp("src") / "tdmguard"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "build", "*.egg-info", "__pycache__", "tests",
        ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("tdmguard-*.whl")
    return found


def test_the_wheel_holds_exactly_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"tdmguard"}
    # Each folder of the design card is a subpackage, data files included.
    for sub in ("blocklists", "crawler", "middlewares", "policy"):
        assert f"tdmguard/{sub}/__init__.py" in names
    assert "tdmguard/middlewares/readers/__init__.py" in names
    assert "tdmguard/middlewares/data/purposes.json" in names
    assert any(n.startswith("tdmguard/blocklists/data/") for n in names)
    assert not any(n.startswith("tdmguard/tests/") for n in names)
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    if top_level:
        assert zipfile.ZipFile(wheel).read(top_level[0]).decode().split() == ["tdmguard"]


def test_addon_in_a_project_with_its_own_middlewares_and_crawler(
        tmp_path: Path, web, wheel: Path) -> None:
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    web.add("http://pub.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    web.add("http://pub.example/",
            '<html><body><a href="/private/1">p</a><a href="/public/1">q</a></body></html>')
    web.add("http://pub.example/private/1", "<html>private</html>")
    web.add("http://pub.example/public/1", "<html>public</html>")

    project = tmp_path / "project"
    (project / "proj" / "spiders").mkdir(parents=True)
    (project / "crawler").mkdir()
    (project / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n")
    (project / "proj" / "__init__.py").write_text("")
    (project / "proj" / "settings.py").write_text(PROJECT_SETTINGS)
    (project / "proj" / "spiders" / "__init__.py").write_text("")
    (project / "proj" / "spiders" / "follow.py").write_text(textwrap.dedent(SPIDER))
    (project / "middlewares.py").write_text(OWN_MIDDLEWARES)
    (project / "crawler" / "__init__.py").write_text("")
    (project / "crawler" / "helpers.py").write_text("def label():\n    return 'own'\n")

    out = tmp_path / "items.json"
    env = cli_env(web)
    # The wheel's files come first: the editable install is not what runs.
    env["PYTHONPATH"] = f"{project}:{site}"
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "follow", "-O", str(out)],
        cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = json.loads(out.read_text())
    assert {i["url"] for i in items} == {"http://pub.example/", "http://pub.example/public/1"}
    assert all(i["label"] == "own" and i["stamped"] for i in items)
    assert all(i["tdmguard"].startswith(str(site)) for i in items)
    # Every check was on: robots.txt refused the private page, tdmrep.json and
    # ai.txt were asked for before the first page.
    assert "http://pub.example/private/1" not in web.requested()
    requested = web.requested()
    assert "http://pub.example/.well-known/tdmrep.json" in requested
    assert "http://pub.example/ai.txt" in requested
    assert requested.index("http://pub.example/robots.txt") < requested.index(
        "http://pub.example/")
