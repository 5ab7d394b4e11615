"""The bundled sample web behind ``tdmguard demo``.

Publishers with realistic robots.txt files: three real ones (bytes as
published, see data/sampleweb/SOURCES.tsv) served under ``.example`` hosts,
plus a site whose robots.txt answers 503, one that redirects it across hosts,
one with a Crawl-delay, and one without any robots.txt. For lawful access, a
news site with paywalled, members-only, consent-walled and 401/402/451 pages,
linking to sites on the shipped blocklists (which are never contacted).
"""

from __future__ import annotations

from pathlib import Path

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.crawler.samplesignals import SEEDS as SIGNAL_SEEDS
from tdmguard.crawler.samplesignals import add_signal_publishers

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
    # lawful access (issue 5)
    "http://paper.example/",
    "http://thepiratebay.org/",
    "http://1337x.to/",
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
    add_lawful_access(web)
    return web


def _article(title: str, head: str = "", body: str = "") -> str:
    return (f"<!doctype html><html><head><title>{title}</title>{head}</head>"
            f"<body><h1>{title}</h1>{body}</body></html>")


def _json_ld(data: str) -> str:
    return f'<script type="application/ld+json">{data}</script>'


def add_lawful_access(web: FixtureWeb) -> None:
    """A news site with paywalled, members-only and consent-walled pages, linking
    to sites on the shipped blocklists (never contacted, not even for robots.txt)."""
    paper = "http://paper.example"
    links = ["/news/free-story", "/news/premium-story", "/news/partly-free",
             "/news/microdata-story", "/members/insider", "/news/consent-first",
             "/archive/1999", "/legal/removed", "/staff",
             "http://thepiratebay.org/torrent/1", "http://1337x.to/movie/1"]
    web.add(f"{paper}/robots.txt", "User-agent: *\nAllow: /\n")
    web.add(f"{paper}/", _page(paper, links))
    web.add(f"{paper}/news/free-story", _article("Free story", _json_ld(
        '{"@context": "https://schema.org", "@type": "NewsArticle", '
        '"headline": "Free story", "isAccessibleForFree": true}')))
    # Google's documented paywall markup: the article and its paywalled part.
    web.add(f"{paper}/news/premium-story", _article("Premium story", _json_ld(
        '{"@context": "https://schema.org", "@type": "NewsArticle", '
        '"headline": "Premium story", "isAccessibleForFree": "False", '
        '"hasPart": {"@type": "WebPageElement", "isAccessibleForFree": "False", '
        '"cssSelector": ".paywall"}}'), '<div class="paywall">Subscribers only</div>'))
    web.add(f"{paper}/news/partly-free", _article("Partly free", _json_ld(
        '{"@context": "https://schema.org", "@graph": [{"@type": "NewsArticle", '
        '"isAccessibleForFree": true, "hasPart": [{"@type": "WebPageElement", '
        '"isAccessibleForFree": false, "cssSelector": ".locked"}]}]}')))
    web.add(f"{paper}/news/microdata-story", _article(
        "Microdata story", body='<article itemscope itemtype="https://schema.org/Article">'
        '<meta itemprop="isAccessibleForFree" content="false"><p>Locked</p></article>'))
    web.redirect(f"{paper}/members/insider", f"{paper}/account/login?return=/members/insider",
                 status=302)
    web.add(f"{paper}/account/login?return=/members/insider", _article("Log in"))
    web.redirect(f"{paper}/news/consent-first",
                 "http://consent.paper.example/?continue=/news/consent-first", status=302)
    web.add("http://consent.paper.example/?continue=/news/consent-first", _article("Consent"))
    web.add(f"{paper}/archive/1999", "Payment Required", status=402)
    web.add(f"{paper}/legal/removed", "Unavailable For Legal Reasons", status=451)
    web.add(f"{paper}/staff", "Unauthorized", status=401,
            headers={"WWW-Authenticate": 'Basic realm="staff"'})
    # On shipped lists: the Antwerp Court of Appeal order (authoritative), and
    # the EU Watch List and USTR review (advisory lists, which block by default too).
    for origin in ("http://thepiratebay.org", "http://1337x.to"):
        web.add(f"{origin}/robots.txt", "User-agent: *\nAllow: /\n")
        _site(web, origin, ["/torrent/1", "/movie/1"])
