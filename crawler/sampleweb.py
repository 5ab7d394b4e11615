"""The bundled sample web behind ``tdmguard demo``.

Publishers with realistic robots.txt files: three real ones (bytes as
published, see data/sampleweb/SOURCES.tsv) served under ``.example`` hosts,
plus a site whose robots.txt answers 503, one that redirects it across hosts,
one with a Crawl-delay, and one without any robots.txt.
"""

from __future__ import annotations

from pathlib import Path

from crawler.fixtureweb import FixtureWeb
from crawler.samplesignals import SEEDS as SIGNAL_SEEDS
from crawler.samplesignals import add_signal_publishers

DATA = Path(__file__).parent / "data" / "sampleweb"

SEEDS = [
    "http://nytimes.example/",
    "http://guardian.example/",
    "http://wikipedia.example/",
    "http://down.example/",
    "http://moved.example/",
    "http://slow.example/",
    "http://open.example/",
    *SIGNAL_SEEDS,
]


def _page(title: str, links: list[str]) -> str:
    items = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (f"<!doctype html><html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><ul>{items}</ul></body></html>")


def _site(web: FixtureWeb, origin: str, paths: list[str]) -> None:
    web.add(f"{origin}/", _page(origin, paths))
    for path in paths:
        web.add(f"{origin}{path}", _page(f"{origin}{path}", []))


def build_sample_web() -> FixtureWeb:
    web = FixtureWeb()
    # nytimes.com's real robots.txt names GPTBot, CCBot and others: strict mode
    # reads those groups as "no AI training".
    web.add("http://nytimes.example/robots.txt", (DATA / "nytimes.com.txt").read_bytes())
    _site(web, "http://nytimes.example", ["/2026/11/25/world/story.html", "/ads/banner",
                                          "/search?q=ai"])
    web.add("http://guardian.example/robots.txt", (DATA / "theguardian.com.txt").read_bytes())
    _site(web, "http://guardian.example", ["/world/2026/nov/25/story", "/sendarticle/1",
                                           "/world/print"])
    web.add("http://wikipedia.example/robots.txt", (DATA / "en.wikipedia.org.txt").read_bytes())
    _site(web, "http://wikipedia.example", ["/wiki/Copyright", "/w/index.php?title=X&action=edit",
                                            "/wiki/Special:Random"])
    # Unreachable robots.txt: RFC 9309 §2.3.1.4, complete disallow.
    web.add("http://down.example/robots.txt", "Service Unavailable", status=503)
    _site(web, "http://down.example", ["/article-1", "/article-2"])
    # robots.txt redirected twice across hosts; rules apply to moved.example.
    web.redirect("http://moved.example/robots.txt", "http://www.moved.example/robots.txt")
    web.redirect("http://www.moved.example/robots.txt", "http://static.moved.example/robots.txt")
    web.add("http://static.moved.example/robots.txt",
            "User-agent: *\nDisallow: /drafts/\n")
    _site(web, "http://moved.example", ["/published/1", "/drafts/unfinished"])
    web.add("http://slow.example/robots.txt", "User-agent: *\nCrawl-delay: 1\nDisallow: /cart\n")
    _site(web, "http://slow.example", ["/a", "/b", "/cart"])
    # No robots.txt (404): RFC 9309 §2.3.1.3, no restrictions.
    _site(web, "http://open.example", ["/essay", "/poem"])
    add_signal_publishers(web)
    return web
