"""The one-line add-on in a user's own Scrapy project, run with ``scrapy crawl``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tdmguard.middlewares.addon import SCRAPY_ROBOTS, TdmGuard
from tdmguard.middlewares.decisions import DecisionMiddleware
from tdmguard.middlewares.robotstxt import RobotsTxtMiddleware
from tdmguard.middlewares.settings import ConfigError

from .compat import make_crawler as get_crawler  # Scrapy 2.14 and 2.19
from .conftest import cli_env

SPIDER = '''
import scrapy

class Follow(scrapy.Spider):
    name = "follow"
    start_urls = {start_urls!r}

    def parse(self, response):
        yield {{"url": response.url}}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)
'''


def make_project(tmp_path: Path, settings: str, start_urls: list[str]) -> Path:
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n")
    pkg = tmp_path / "proj"
    (pkg / "spiders").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "spiders" / "__init__.py").write_text("")
    (pkg / "settings.py").write_text(textwrap.dedent(settings))
    (pkg / "spiders" / "follow.py").write_text(SPIDER.format(start_urls=start_urls))
    return tmp_path


def scrapy_crawl(project: Path, web, out: Path) -> subprocess.CompletedProcess[str]:
    env = cli_env(web)
    env["PYTHONPATH"] = str(project)
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "follow", "-O", str(out)],
        cwd=project, env=env, capture_output=True, text=True, timeout=120)


def _publisher(web):
    web.add("http://pub.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    links = "".join(f'<a href="/private/{i}">p</a><a href="/public/{i}">q</a>' for i in range(6))
    web.add("http://pub.example/", f"<html><body>{links}</body></html>")
    for i in range(6):
        web.add(f"http://pub.example/private/{i}", "<html>private</html>")
        web.add(f"http://pub.example/public/{i}", "<html>public</html>")


def test_one_line_addon_in_any_project(tmp_path, web):
    _publisher(web)
    project = make_project(tmp_path, """
        BOT_NAME = "proj"
        SPIDER_MODULES = ["proj.spiders"]
        ADDONS = {"tdmguard.TdmGuard": 0}
        TDMGUARD_USER_AGENT = "ProjBot"
    """, ["http://pub.example/"])
    out = tmp_path / "items.json"
    proc = scrapy_crawl(project, web, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    urls = {item["url"] for item in json.loads(out.read_text())}
    assert urls == {"http://pub.example/"} | {f"http://pub.example/public/{i}" for i in range(6)}
    assert not any("/private/" in u for u in web.requested())
    assert all(r.headers["User-Agent"].startswith("ProjBot/") for r in web.log)


def test_links_found_together_to_a_fresh_origin_wait_for_its_robots(tmp_path, web):
    # Eight links to an origin never seen before, found on one page: they all
    # reach the middleware together and must all wait for one robots.txt fetch.
    web.add("http://hub.example/robots.txt", "User-agent: *\nAllow: /\n")
    links = [f"http://fresh.example/p{i}" for i in range(8)]
    web.add("http://hub.example/",
            "<html><body>" + "".join(f'<a href="{u}">x</a>' for u in links) + "</body></html>")
    web.add("http://fresh.example/robots.txt", "User-agent: *\nDisallow: /\n", delay=0.5)
    for u in links:
        web.add(u, "<html>p</html>")
    project = make_project(tmp_path, """
        BOT_NAME = "proj"
        SPIDER_MODULES = ["proj.spiders"]
        ADDONS = {"tdmguard.TdmGuard": 0}
        TDMGUARD_USER_AGENT = "ProjBot"
        TDMGUARD_POLITENESS_ENABLED = False
    """, ["http://hub.example/"])
    proc = scrapy_crawl(project, web, tmp_path / "items.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert web.count("http://fresh.example/robots.txt") == 1
    assert not any(u in web.requested() for u in links)


def test_plain_scrapy_fails_open_on_503_where_tdmguard_refuses(tmp_path, web):
    # The documented departure: Scrapy's RobotsTxtMiddleware crawls a site whose
    # robots.txt answers 503; RFC 9309 §2.3.1.4 says "MUST assume complete disallow".
    web.add("http://pub.example/robots.txt", "down", status=503)
    web.add("http://pub.example/", "<html>home</html>")
    project = make_project(tmp_path, """
        BOT_NAME = "proj"
        SPIDER_MODULES = ["proj.spiders"]
        ROBOTSTXT_OBEY = True
        RETRY_ENABLED = False
    """, ["http://pub.example/"])
    proc = scrapy_crawl(project, web, tmp_path / "plain.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "http://pub.example/" in web.requested()  # Scrapy fetched it

    web.log.clear()
    (project / "proj" / "settings.py").write_text(
        'BOT_NAME = "proj"\nSPIDER_MODULES = ["proj.spiders"]\n'
        'ADDONS = {"tdmguard.TdmGuard": 0}\nTDMGUARD_USER_AGENT = "ProjBot"\n'
        "ROBOTSTXT_OBEY = True\n")
    proc = scrapy_crawl(project, web, tmp_path / "guarded.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert web.requested() == ["http://pub.example/robots.txt"]


def _settings(**values):
    crawler = get_crawler(settings_dict={"ADDONS": {TdmGuard: 0}, **values})
    crawler._apply_settings()
    return crawler.settings


def test_addon_settings_and_user_overrides():
    settings = _settings(TDMGUARD_USER_AGENT="ExampleBot")
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws[SCRAPY_ROBOTS] is None
    assert mws[RobotsTxtMiddleware] == 100 and mws[DecisionMiddleware] == 585
    assert settings.getbool("ROBOTSTXT_OBEY") is False
    assert settings["USER_AGENT"].startswith("ExampleBot/")
    assert settings["TDMGUARD_MODE"] == "strict"
    settings = _settings(TDMGUARD_USER_AGENT="ExampleBot", TDMGUARD_MODE="rfc",
                         USER_AGENT="ExampleBot/2.0 (+https://example.com/bot)")
    assert settings["TDMGUARD_MODE"] == "rfc"
    assert settings["USER_AGENT"] == "ExampleBot/2.0 (+https://example.com/bot)"


@pytest.mark.parametrize("values,message", [
    ({}, "TDMGUARD_USER_AGENT is not set"),
    ({"TDMGUARD_USER_AGENT": "Example Bot"},
     "TDMGUARD_USER_AGENT='Example Bot' is not usable: expected RFC 9309 product token"),
    ({"TDMGUARD_USER_AGENT": "ExampleBot", "USER_AGENT": "Mozilla/5.0"},
     "does not carry the product token"),
])
def test_addon_refuses_to_start_without_an_honest_token(values, message):
    with pytest.raises(ConfigError, match=message):
        _settings(**values)
