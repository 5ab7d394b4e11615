"""The audit spider's limits are Scrapy's own: DEPTH_LIMIT, CLOSESPIDER_ITEMCOUNT,
allowed_domains with the offsite filter narrowed to the seeds' exact hosts.

Each test crawls the fixture web through the real CLI and asserts from the
web's request log what was and was not requested.
"""

from __future__ import annotations

import json

from scrapy.settings import Settings

from tdmguard.crawler.spiders.audit import AuditSpider, SeedHostsOffsiteMiddleware

from .conftest import run_cli

SEED = "http://s.example/"
CHAIN = [f"http://s.example/{name}" for name in ("a", "b", "c", "d")]


def _chain(web):
    """s.example/ -> a -> b -> c -> d, one link per page."""
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    pages = [SEED, *CHAIN]
    for page, nxt in zip(pages, [*CHAIN, None], strict=True):
        web.add(page, f'<html><a href="{nxt}">next</a></html>' if nxt else "<html>end</html>")


def _crawl(web, tmp_path, *opts):
    items = tmp_path / "items.jsonl"
    proc = run_cli(["crawl", SEED, "--user-agent", "TestBot", "--output", str(items), *opts],
                   web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line)["url"] for line in items.read_text().splitlines()]


def test_depth_limits_how_far_links_are_followed(web, tmp_path):
    _chain(web)
    assert _crawl(web, tmp_path, "--depth", "2") == [SEED, *CHAIN[:2]]
    for page in CHAIN[2:]:
        assert page not in web.requested()


def test_depth_0_is_no_limit_and_depth_limit_setting_still_applies(web, tmp_path):
    _chain(web)
    assert _crawl(web, tmp_path) == [SEED, *CHAIN]
    before = len(web.log)
    assert _crawl(web, tmp_path, "-s", "DEPTH_LIMIT=1") == [SEED, CHAIN[0]]
    assert CHAIN[1] not in [r.url for r in web.log[before:]]


def test_max_pages_counts_pages_that_reach_the_spider(web, tmp_path):
    # robots.txt, tdmrep.json and ai.txt are fetched first and are not pages:
    # with --max-pages 2 the seed and /a both reach the spider.
    _chain(web)
    seen = _crawl(web, tmp_path, "--max-pages", "2")
    assert seen[:2] == [SEED, CHAIN[0]]
    # Scrapy closes the spider at the 2nd item; a request already sent may
    # still finish, nothing after it is requested.
    assert len(seen) <= 3
    assert CHAIN[2] not in web.requested() and CHAIN[3] not in web.requested()


def test_links_stay_on_the_seeds_exact_hosts(web, tmp_path):
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://sub.s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://other.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(SEED, '<a href="/in">in</a><a href="http://sub.s.example/x">sub</a>'
                  '<a href="http://other.example/y">other</a><img src="/img.png">')
    web.add("http://s.example/in", "<html>in</html>")
    web.add("http://s.example/img.png", b"\x89PNG\r\n\x1a\n", headers={"Content-Type": "image/png"})
    web.add("http://sub.s.example/x", "<html>sub</html>")
    web.add("http://other.example/y", "<html>other</html>")
    seen = _crawl(web, tmp_path)
    assert sorted(seen) == [SEED, "http://s.example/img.png", "http://s.example/in"]
    assert web.requests_to("sub.s.example") == []
    assert web.requests_to("other.example") == []


def test_a_seed_redirected_to_another_host_is_fetched_but_not_its_host(web, tmp_path):
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://www.s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.redirect(SEED, "http://www.s.example/")
    web.add("http://www.s.example/", '<a href="/a">a</a><a href="http://s.example/b">b</a>')
    web.add("http://www.s.example/a", "<html>a</html>")
    web.add("http://s.example/b", "<html>b</html>")
    seen = _crawl(web, tmp_path)
    assert sorted(seen) == ["http://s.example/b", "http://www.s.example/"]
    assert "http://www.s.example/a" not in web.requested()


def test_a_seed_linked_back_to_is_fetched_once(web, tmp_path):
    # Scrapy's own start requests are dont_filter, so a link back to the seed
    # fetches it again; a crawler that spares sites does not.
    web.add("http://s.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(SEED, '<a href="/">home</a><a href="/a">a</a><a href="http://s.example">bare</a>')
    web.add("http://s.example/a", '<a href="/">home</a>')
    seen = _crawl(web, tmp_path, "http://s.example/")  # the seed given twice, too
    assert sorted(seen) == [SEED, "http://s.example/a"]
    assert web.count(SEED) == 1


def test_spider_arguments_become_scrapy_settings():
    settings = Settings()
    AuditSpider.update_settings(settings)
    mws = settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    assert mws["scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"] is None
    assert mws[SeedHostsOffsiteMiddleware] == 50
    spider = AuditSpider(seeds="http://B\u00fccher.example/x, http://s.example:8080/",
                         max_pages="5", depth="3")
    assert spider.allowed_domains == ["s.example", "xn--bcher-kva.example"]
    assert (spider.max_pages, spider.max_depth) == (5, 3)
