"""The robots.txt API against RFC 9309 and Google's robotstxt test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from protego import Protego

from tdmguard.middlewares.readers import robots

from .conftest import REAL_WEB


def allowed(body: str, url: str, *tokens: str) -> bool:
    return robots.parse(body).match(url, list(tokens) or ["FooBot"]).allowed


CASES = [
    # (id, robots.txt, url, tokens, expected allowed)
    ("R1-empty-file", "", "/x", ("FooBot",), True),
    ("R4-longest-match", "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n",
     "/x/page.html", ("FooBot",), False),
    ("R5-longest-match-wildcard", "user-agent: *\nallow: /page\ndisallow: /*.html\n",
     "/page.html", ("FooBot",), False),
    ("R5-longest-match-prefix", "user-agent: *\nallow: /page\ndisallow: /*.html\n",
     "/page", ("FooBot",), True),
    ("R6-allow-wins-tie", "user-agent: *\ndisallow: /\nallow: /\n", "/a", ("FooBot",), True),
    ("R7-specific-group-replaces-star",
     "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n",
     "/x/page", ("FooBot",), True),
    ("R8-dollar-end-anchor", "User-agent: *\nDisallow: /foo/bar$\n", "/foo/bar", ("a",), False),
    ("R8-dollar-not-longer", "User-agent: *\nDisallow: /foo/bar$\n", "/foo/bar/", ("a",), True),
    ("R10-missing-colon-google", "user-agent FooBot\ndisallow /\n", "/a", ("FooBot",), False),
    ("ID_UserAgentValueCaseInsensitive", "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n",
     "/x/y", ("foo",), True),
    ("ID_UserAgentValueCaseInsensitive-2", "User-Agent: foobot\nDisallow: /\n", "/x",
     ("FooBot",), False),
    ("ID_NameCaseInsensitive", "USER-AGENT: FooBot\nDISALLOW: /\n", "/x", ("FooBot",), False),
    ("ID_PathCaseSensitive", "user-agent: FooBot\ndisallow: /x/\n", "/X/y", ("FooBot",), True),
    ("ID_Groups-merged", "user-agent: FooBot\ndisallow: /a\n\nuser-agent: FooBot\ndisallow: /b\n",
     "/b", ("FooBot",), False),
    ("ID_Groups-consecutive-agents", "user-agent: BarBot\nuser-agent: FooBot\ndisallow: /\n",
     "/a", ("FooBot",), False),
    ("ID_Other-record-does-not-close-group",
     "user-agent: FooBot\nsitemap: https://x/s.xml\nuser-agent: BarBot\ndisallow: /\n",
     "/a", ("FooBot",), False),
    ("ID_Encoding-percent-unreserved", "user-agent: *\ndisallow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n",
     "/foo/bar?qux=taz&baz=http://foo.bar?tar&par", ("a",), False),
    ("ID_Encoding-utf8-pattern", "user-agent: *\ndisallow: /foo/bar/ツ\n",
     "/foo/bar/%E3%83%84", ("a",), False),
    ("ID_Encoding-encoded-pattern", "user-agent: *\ndisallow: /foo/bar/%E3%83%84\n",
     "/foo/bar/%E3%83%84", ("a",), False),
    ("ID_SpecialCharacters-star", "user-agent: *\ndisallow: /foo/bar/quz\nallow: /foo/*/qux\n",
     "/foo/bar/qux", ("a",), True),
    ("ID_SpecialCharacters-star-2", "user-agent: *\ndisallow: /foo/*/qux\n",
     "/foo/bar/qux", ("a",), False),
    ("ID_SpecialCharacters-hash-comment", "user-agent: *\ndisallow: /foo/quz#qux\nallow: /\n",
     "/foo/quz", ("a",), False),
    ("ID_RobotsTxtAlwaysAllowed", "user-agent: *\ndisallow: /\n", "/robots.txt", ("a",), True),
    ("ID_EmptyDisallowIsNoRule", "user-agent: *\ndisallow:\n", "/a", ("a",), True),
    ("ID_NoMatchingGroupNoStar", "user-agent: BarBot\ndisallow: /\n", "/a", ("FooBot",), True),
    ("ID_UTF8BOM", "\ufeffuser-agent: FooBot\ndisallow: /\n", "/a", ("FooBot",), False),
    ("ID_CR-line-endings", "user-agent: FooBot\rdisallow: /\r", "/a", ("FooBot",), False),
    ("ID_RulesOutsideGroupsIgnored", "disallow: /\nuser-agent: FooBot\nallow: /x\n", "/a",
     ("FooBot",), True),
    ("several-tokens-combine-groups",
     "user-agent: FooBot\ndisallow: /a\nuser-agent: BarBot\ndisallow: /b\n", "/b",
     ("FooBot", "BarBot"), False),
    ("R12-content-usage-does-not-close-group",
     "User-agent: A\nContent-Usage: train-ai=n\nUser-agent: B\nDisallow: /\n", "/x", ("A",), False),
    ("content-signal-does-not-close-group",
     "User-agent: *\nContent-Signal: ai-train=no\nUser-agent: FooBot\nDisallow: /\n", "/x",
     ("FooBot",), False),
    ("R11-digits-are-not-a-prefix-match", "User-agent: AI2Bot\nDisallow: /\n", "/x", ("AI",), True),
    ("agent-with-version", "User-agent: FooBot/1.2\nDisallow: /\n", "/x", ("FooBot",), False),
]


@pytest.mark.parametrize(("body", "url", "tokens", "expected"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_rfc9309_and_google_matching(body, url, tokens, expected):
    assert allowed(body, url, *tokens) is expected


@pytest.mark.parametrize("prefix", [b"\xef\xbb", b"\xef"])
def test_a_cut_off_utf8_bom_is_skipped(prefix: bytes) -> None:
    # Google's robots_test.cc ID_UTF8ByteOrderMarkIsSkipped: a partial BOM is
    # skipped. Read as UTF-8 it made the User-agent line noise, its Disallow
    # fell outside any group and was ignored: the page was allowed (fail open).
    body = prefix + b"User-Agent: foo\nDisallow: /AnyValue\n"
    assert robots.parse(body).match("http://x/AnyValue", ["foo"]).allowed is False
    # A BOM broken in its middle octet is not a BOM; Google loses the line too.
    broken = b"\xef\x11\xbfUser-Agent: foo\nDisallow: /AnyValue\n"
    assert robots.parse(broken).match("http://x/AnyValue", ["foo"]).allowed is True


def test_decisive_rule_and_group_are_named():
    parsed = robots.parse("User-agent: *\nAllow: /x/\nDisallow: /x/secret\n")
    match = parsed.match("/x/secret/1", ["FooBot"])
    assert not match.allowed
    assert match.describe() == "line 3: Disallow: /x/secret (User-agent: *, line 1)"


def test_parse_limit_drops_the_cut_line():
    body = b"User-agent: *\nDisallow: /a\nDisallow: /bcdefgh\n"
    parsed = robots.parse(body, limit=len(body) - 5)
    assert parsed.truncated
    assert [r.pattern for r in parsed.groups[0].rules] == ["/a"]


def test_crawl_delay_from_our_group():
    parsed = robots.parse("User-agent: *\nCrawl-delay: 2\nUser-agent: FooBot\nCrawl-delay: bad\n")
    assert parsed.crawl_delay(["FooBot"]) == 2.0
    assert parsed.crawl_delay(["Other"]) == 2.0


@pytest.mark.parametrize("token,ok", [("ExampleBot", True), ("my_bot-x", True),
                                      ("AI2Bot", False), ("Bot/1.0", False), ("a b", False),
                                      ("*", False), ("", False)])
def test_product_token_validation(token, ok):
    assert robots.is_product_token(token) is ok


REAL = sorted((REAL_WEB / "robots").glob("*.txt"))


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_robots_files_parse_and_match(path: Path):
    body = path.read_bytes()
    parsed = robots.parse(body, limit=512000)
    for url in ("/", "/search?q=x", "/wp-admin/", "/%E3%83%84", "/a/b/c.html"):
        for tokens in (["ExampleBot"], ["GPTBot"], ["CCBot"]):
            parsed.match(url, tokens)
    assert parsed.lines >= 1


def test_real_file_verdicts_by_hand():
    nyt = robots.parse((REAL_WEB / "robots" / "nytimes.com.txt").read_bytes())
    assert not nyt.match("/", ["GPTBot"]).allowed
    assert nyt.match("/section/world", ["ExampleBot"]).allowed
    assert not nyt.match("/ads/x", ["ExampleBot"]).allowed


def test_differs_from_protego_where_protego_departs_from_the_rfc():
    # RFC 9309 §2.2.4: other records MUST NOT interfere with groups. Protego
    # ends the group at the unknown Content-Signal line, so A escapes B's rule.
    body = "User-agent: A\nContent-Signal: ai-train=no\nUser-agent: B\nDisallow: /\n"
    assert Protego.parse(body).can_fetch("http://x/page", "A") is True
    assert allowed(body, "/page", "A") is False
    # Protego matches group names as substrings of the user agent at token
    # boundaries; RFC 9309 matches the product token itself.
    body = "User-agent: foo\nDisallow: /\n"
    assert Protego.parse(body).can_fetch("http://x/page", "foo-bar") is False
    assert allowed(body, "/page", "foo-bar") is True


def test_agrees_with_protego_on_real_files_for_plain_paths():
    disagreements = []
    for path in REAL:
        text = path.read_bytes().decode("utf-8", "replace")
        ours = robots.parse(path.read_bytes())
        theirs = Protego.parse(text)
        for url in ("/", "/search", "/wp-admin/", "/api/", "/account/login", "/index.html"):
            for token in ("ExampleBot", "GPTBot"):
                if ours.match(url, [token]).allowed != theirs.can_fetch(f"http://h{url}", token):
                    disagreements.append((path.name, url, token))
    # Only documented departures (group formation, index.html leniency) may differ.
    assert len(disagreements) < 0.05 * len(REAL) * 12, disagreements


def test_the_real_web_corpus_is_all_there():
    """The tests parametrised over real files must not shrink silently: every
    file the corpus lists is present (69 robots.txt files, the tdmrep.json
    set, the blocklist seeds)."""
    assert len(REAL) == 69
    for folder in ("robots", "tdmrep", "blocklist"):
        listed = (REAL_WEB / folder / "SOURCES.tsv").read_text(encoding="utf-8")
        assert listed.strip(), folder
    assert list((REAL_WEB / "tdmrep" / "well-known").iterdir())


def test_reader_imports_no_protego_and_no_scrapy():
    # The pattern engine is vendored (middlewares/readers/_protego.py), so no
    # private Protego module is imported, nor Protego at all.
    import subprocess
    import sys

    code = ("import sys, tdmguard.middlewares.readers.robots; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'protego', 'scrapy', 'twisted'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_vendored_protego_matches_protego_on_patterns_and_paths():
    from tdmguard.middlewares.readers import _protego

    body = "\n".join(["User-agent: *", *(f"Disallow: {p}" for p in PATTERNS)])
    theirs = Protego.parse(body)
    for url in PATHS:
        ours = robots.parse(body).match(url, ["FooBot"]).allowed
        assert ours == theirs.can_fetch(url, "FooBot"), url
    assert _protego.PROTEGO_VERSION == "0.7.0"


PATTERNS = ["/a%2Fb", "/%7Euser", "/*.php$", "/x*y*z", "/caf%C3%A9", "/sp ace", "/q?x=1",
            "/fish*.php", "/$", "/%3D", "/ü"]
PATHS = ["http://x/a/b", "http://x/a%2fb", "http://x/~user/p", "http://x/index.php",
         "http://x/index.php?x", "http://x/x1y2z3", "http://x/café", "http://x/caf%c3%a9",
         "http://x/sp%20ace", "http://x/q?x=1", "http://x/fishheads/catfish.php",
         "http://x/", "http://x/=", "http://x/%C3%BC", "http://x/other"]


# -- refuses_every_path: when tdmguard audit may skip an origin's other documents --

EVERY = ["/", "/a", "/private/x?q=1", "/robots.txt?x", "/%E2%82%AC", "/$", "/index.html"]


@pytest.mark.parametrize("body, expected", [
    ("User-agent: *\nDisallow: /\n", True),
    ("User-agent: *\nDisallow: /*\n", True),
    ("User-agent: *\nDisallow: *\n", True),
    ("User-agent: FooBot\nDisallow: /\nUser-agent: *\nAllow: /\n", True),
    ("User-agent: *\nDisallow: /\nAllow: /public/\n", False),  # some path stays open
    ("User-agent: *\nDisallow: /\nAllow: /$\n", False),
    ("User-agent: *\nDisallow: /$\n", False),  # only the home page
    ("User-agent: *\nDisallow: /private/\n", False),
    ("User-agent: *\nDisallow:\n", False),  # no rule at all
    ("", False),
    ("User-agent: OtherBot\nDisallow: /\n", False),  # not our group
])
def test_refuses_every_path_is_exact_on_the_plain_forms(body, expected):
    groups = robots.parse(body).groups_for(["FooBot"])
    assert robots.refuses_every_path(groups) is expected
    if expected:  # sound: nothing it covers is allowed, but robots.txt itself
        assert not any(allowed(body, path) for path in EVERY)
        assert allowed(body, "/robots.txt")


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_refuses_every_path_is_sound_on_real_files(path):
    parsed = robots.parse(path.read_bytes())
    for token in ("GPTBot", "CCBot", "Google-Extended", "FooBot"):
        if robots.refuses_every_path(parsed.groups_for([token])):
            assert not any(parsed.match(p, [token]).allowed for p in EVERY), token


def test_policy_refuses_every_url_reads_our_group_and_strict_ai_groups():
    from types import SimpleNamespace

    from tdmguard.middlewares.robotspolicy import RobotsPolicy
    from tdmguard.middlewares.snapshots import Snapshot
    from tdmguard.middlewares.vocab import RFC, STRICT, TRAIN_AI

    def policy(body: str, mode: str, status: int = 200) -> RobotsPolicy:
        snap = Snapshot("robots.txt", "http://x.example/robots.txt", "http://x.example",
                        "2026-12-06T00:00:00Z", status, body=body.encode())
        access = "success" if status == 200 else "unreachable"
        config = SimpleNamespace(tokens=("FooBot",), mode=mode, purpose=TRAIN_AI)
        return RobotsPolicy(snap, access, config, frozenset({"gptbot"}), 0.0)  # type: ignore[arg-type]

    ai_only = "User-agent: GPTBot\nDisallow: /\n"
    assert policy(ai_only, STRICT).refuses_every_url()  # strict reads GPTBot's group as ours
    assert not policy(ai_only, RFC).refuses_every_url()
    assert policy("User-agent: *\nDisallow: /\n", RFC).refuses_every_url()
    assert not policy("User-agent: *\nDisallow: /\nAllow: /ok\n", RFC).refuses_every_url()
    assert policy("", RFC, status=503).refuses_every_url()  # unreachable: complete disallow
    html = "<!doctype html><html><body>Disallow: /</body></html>"
    assert not policy(html, RFC).refuses_every_url()  # an HTML page is no rules
