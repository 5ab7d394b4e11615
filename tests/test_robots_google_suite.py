"""Google's robots.txt conformance suite, ported, run against our RFC 9309 reader.

Source: github.com/google/robotstxt, ``robots_test.cc`` (Apache-2.0), snapshot
commit 22b355ff855419e6a3ff8ff09c0ad7fdb17116f9 (2026-04-01). Every
``EXPECT_TRUE``/``EXPECT_FALSE`` on ``IsUserAgentAllowed`` (the ``ID_*`` tests and
the ``GoogleOnly_*`` tests alike) is one case below, in source order, with its
robots.txt body and URL exactly as Google writes them; the case id is the Google
test function and the ordinal of the check inside it (``ID_LineSyntax_Line-3`` is
the third check in ``ID_LineSyntax_Line``).

``IsUserAgentAllowed(robotstxt, ua, url)`` is
``robots.parse(robotstxt).match(url, [ua]).allowed``. The URL is passed whole,
as Google passes it: ``match`` reduces a full URL to its path and query
(``quote_path`` drops scheme, authority and fragment), which also keeps a path
such as ``//folder/x`` from being read as an authority.

Our reader follows RFC 9309's text, not Google's library. Where the two answer
differently, the case keeps Google's value in ``google`` and asserts ours in
``rfc``, with a ``reason`` citing the RFC section. No case is an xfail: in
every difference our answer is the one RFC 9309 asks for (6 cases: ID_Encoding-3,
-5 and -6, GoogleOnly_IndexHTMLisDirectory-1, GoogleOnly_LineTooLong-2 and -5).

Where we agree with Google on a leniency beyond RFC 9309's grammar (§2.2 ABNF
wants ``:`` and a product token), the case simply passes: a record without its
colon (ID_LineSyntax_Line-3) and a user-agent value read up to its first space
(ID_UserAgentValueCaseInsensitive-*, GoogleOnly_AcceptUserAgentUpToFirstSpace-2).
The RFC does not forbid either (§2.3.1.5 asks crawlers to use the parseable
rules, not to drop everything else), so they are not failures.

The ``IsValidUserAgentToObey`` checks (``ID_VerifyValidUserAgentsToObey`` and
the first check of ``GoogleOnly_AcceptUserAgentUpToFirstSpace``) have an
equivalent in :func:`robots.is_product_token` and are ported too, in
``test_google_valid_user_agent_to_obey``.

Not ported (Google-internal APIs with no equivalent here):

- ``ID_LinesNumbersAreCountedCorrectly``, ``ID_UTF8ByteOrderMarkIsSkipped`` and
  ``ID_NonStandardLineExample_Sitemap``: ``EXPECT_EQ`` on counters of a
  ``RobotsParseHandler`` callback (``RobotsStatsReporter``: directives seen,
  unknown directives, last line number, Sitemap value). Our parser has no
  per-line callback, and its ``lines``/``invalid_lines`` counters are defined
  differently (a trailing newline counts as a line; Sitemap is a global, not a
  directive), so the numbers would test a different contract. What the BOM
  test is about, a cut-off BOM skipped so the first group survives, is asserted
  in tests/test_parser_robots.py (``test_a_cut_off_utf8_bom_is_skipped``).
- ``TestGetPathParamsQuery`` (Google's URL-to-path helper; ours,
  ``quote_path``, also percent-encodes, so its outputs differ by design) and
  ``TestMaybeEscapePattern`` (Google's pattern escaper): internal helpers,
  declared in the test file only, not part of the matching API.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tdmguard.middlewares.readers import robots


class Case(NamedTuple):
    id: str
    robotstxt: str
    user_agent: str
    url: str
    google: bool
    #: Our (RFC 9309) answer where it differs from Google's, else None.
    rfc: bool | None = None
    reason: str = ""


def is_user_agent_allowed(robotstxt: str, user_agent: str, url: str) -> bool:
    return robots.parse(robotstxt).match(url, [user_agent]).allowed


CASES: list[Case] = []
#: Checks of a Google test function ported in ``VALID_AGENT_CASES`` instead,
#: ahead of its IsUserAgentAllowed checks, so the ordinals stay Google's.
PORTED_ELSEWHERE = {"GoogleOnly_AcceptUserAgentUpToFirstSpace": 1}


def expect(test: str, robotstxt: str, user_agent: str, url: str, google: bool,
           rfc: bool | None = None, reason: str = "") -> None:
    ordinal = 1 + PORTED_ELSEWHERE.get(test, 0)
    ordinal += sum(1 for c in CASES if c.id.rsplit("-", 1)[0] == test)
    CASES.append(Case(f"{test}-{ordinal}", robotstxt, user_agent, url, google, rfc, reason))


def expect_true(test, robotstxt, user_agent, url, **kw):
    expect(test, robotstxt, user_agent, url, True, **kw)


def expect_false(test, robotstxt, user_agent, url, **kw):
    expect(test, robotstxt, user_agent, url, False, **kw)


# -- GoogleOnly_SystemTest ---------------------------------------------------------

T = "GoogleOnly_SystemTest"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
)
# Empty robots.txt: everything allowed.
expect_true(T, "", "FooBot", "")
# Empty user-agent to be matched: everything allowed.
expect_true(T, robotstxt, "", "")
# Empty url: implicitly disallowed ("" is the path "/").
expect_false(T, robotstxt, "FooBot", "")
# All params empty: same as robots.txt empty, everything allowed.
expect_true(T, "", "", "")

# -- ID_LineSyntax_Line --------------------------------------------------------------

T = "ID_LineSyntax_Line"
robotstxt_correct = (
    "user-agent: FooBot\n"
    "disallow: /\n"
)
robotstxt_incorrect = (
    "foo: FooBot\n"
    "bar: /\n"
)
robotstxt_incorrect_accepted = (
    "user-agent FooBot\n"
    "disallow /\n"
)
url = "http://foo.bar/x/y"
expect_false(T, robotstxt_correct, "FooBot", url)
expect_true(T, robotstxt_incorrect, "FooBot", url)
expect_false(T, robotstxt_incorrect_accepted, "FooBot", url)

# -- ID_LineSyntax_Groups ------------------------------------------------------------

T = "ID_LineSyntax_Groups"
robotstxt = (
    "allow: /foo/bar/\n"
    "\n"
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /x/\n"
    "user-agent: BarBot\n"
    "disallow: /\n"
    "allow: /y/\n"
    "\n"
    "\n"
    "allow: /w/\n"
    "user-agent: BazBot\n"
    "\n"
    "user-agent: FooBot\n"
    "allow: /z/\n"
    "disallow: /\n"
)
url_w = "http://foo.bar/w/a"
url_x = "http://foo.bar/x/b"
url_y = "http://foo.bar/y/c"
url_z = "http://foo.bar/z/d"
url_foo = "http://foo.bar/foo/bar/"
expect_true(T, robotstxt, "FooBot", url_x)
expect_true(T, robotstxt, "FooBot", url_z)
expect_false(T, robotstxt, "FooBot", url_y)
expect_true(T, robotstxt, "BarBot", url_y)
expect_true(T, robotstxt, "BarBot", url_w)
expect_false(T, robotstxt, "BarBot", url_z)
expect_true(T, robotstxt, "BazBot", url_z)
# Lines with rules outside groups are ignored.
expect_false(T, robotstxt, "FooBot", url_foo)
expect_false(T, robotstxt, "BarBot", url_foo)
expect_false(T, robotstxt, "BazBot", url_foo)

# -- ID_LineSyntax_Groups_OtherRules -------------------------------------------------

T = "ID_LineSyntax_Groups_OtherRules"
robotstxt = (
    "User-agent: BarBot\n"
    "Sitemap: https://foo.bar/sitemap\n"
    "User-agent: *\n"
    "Disallow: /\n"
)
url = "http://foo.bar/"
expect_false(T, robotstxt, "FooBot", url)
expect_false(T, robotstxt, "BarBot", url)
robotstxt = (
    "User-agent: FooBot\n"
    "Invalid-Unknown-Line: unknown\n"
    "User-agent: *\n"
    "Disallow: /\n"
)
expect_false(T, robotstxt, "FooBot", url)
expect_false(T, robotstxt, "BarBot", url)

# -- ID_REPLineNamesCaseInsensitive --------------------------------------------------

T = "ID_REPLineNamesCaseInsensitive"
robotstxt_upper = (
    "USER-AGENT: FooBot\n"
    "ALLOW: /x/\n"
    "DISALLOW: /\n"
)
robotstxt_lower = (
    "user-agent: FooBot\n"
    "allow: /x/\n"
    "disallow: /\n"
)
robotstxt_camel = (
    "uSeR-aGeNt: FooBot\n"
    "AlLoW: /x/\n"
    "dIsAlLoW: /\n"
)
url_allowed = "http://foo.bar/x/y"
url_disallowed = "http://foo.bar/a/b"
expect_true(T, robotstxt_upper, "FooBot", url_allowed)
expect_true(T, robotstxt_lower, "FooBot", url_allowed)
expect_true(T, robotstxt_camel, "FooBot", url_allowed)
expect_false(T, robotstxt_upper, "FooBot", url_disallowed)
expect_false(T, robotstxt_lower, "FooBot", url_disallowed)
expect_false(T, robotstxt_camel, "FooBot", url_disallowed)

# -- ID_UserAgentValueCaseInsensitive ------------------------------------------------

T = "ID_UserAgentValueCaseInsensitive"
robotstxt_upper = (
    "User-Agent: FOO BAR\n"
    "Allow: /x/\n"
    "Disallow: /\n"
)
robotstxt_lower = (
    "User-Agent: foo bar\n"
    "Allow: /x/\n"
    "Disallow: /\n"
)
robotstxt_camel = (
    "User-Agent: FoO bAr\n"
    "Allow: /x/\n"
    "Disallow: /\n"
)
url_allowed = "http://foo.bar/x/y"
url_disallowed = "http://foo.bar/a/b"
for agent in ("Foo", "foo"):
    expect_true(T, robotstxt_upper, agent, url_allowed)
    expect_true(T, robotstxt_lower, agent, url_allowed)
    expect_true(T, robotstxt_camel, agent, url_allowed)
    expect_false(T, robotstxt_upper, agent, url_disallowed)
    expect_false(T, robotstxt_lower, agent, url_disallowed)
    expect_false(T, robotstxt_camel, agent, url_disallowed)

# -- GoogleOnly_AcceptUserAgentUpToFirstSpace ------------------------------------------
# Its first check, IsValidUserAgentToObey("Foobot Bar"), is in VALID_AGENT_CASES;
# the two IsUserAgentAllowed checks are numbered -2 and -3.

T = "GoogleOnly_AcceptUserAgentUpToFirstSpace"
robotstxt = (
    "User-Agent: *\n"
    "Disallow: /\n"
    "User-Agent: Foo Bar\n"
    "Allow: /x/\n"
    "Disallow: /\n"
)
url = "http://foo.bar/x/y"
expect_true(T, robotstxt, "Foo", url)
expect_false(T, robotstxt, "Foo Bar", url)

# -- ID_GlobalGroups_Secondary -------------------------------------------------------

T = "ID_GlobalGroups_Secondary"
robotstxt_empty = ""
robotstxt_global = (
    "user-agent: *\n"
    "allow: /\n"
    "user-agent: FooBot\n"
    "disallow: /\n"
)
robotstxt_only_specific = (
    "user-agent: FooBot\n"
    "allow: /\n"
    "user-agent: BarBot\n"
    "disallow: /\n"
    "user-agent: BazBot\n"
    "disallow: /\n"
)
url = "http://foo.bar/x/y"
expect_true(T, robotstxt_empty, "FooBot", url)
expect_false(T, robotstxt_global, "FooBot", url)
expect_true(T, robotstxt_global, "BarBot", url)
expect_true(T, robotstxt_only_specific, "QuxBot", url)

# -- ID_AllowDisallow_Value_CaseSensitive --------------------------------------------

T = "ID_AllowDisallow_Value_CaseSensitive"
robotstxt_lowercase_url = (
    "user-agent: FooBot\n"
    "disallow: /x/\n"
)
robotstxt_uppercase_url = (
    "user-agent: FooBot\n"
    "disallow: /X/\n"
)
url = "http://foo.bar/x/y"
expect_false(T, robotstxt_lowercase_url, "FooBot", url)
expect_true(T, robotstxt_uppercase_url, "FooBot", url)

# -- ID_LongestMatch -----------------------------------------------------------------

T = "ID_LongestMatch"
url = "http://foo.bar/x/page.html"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /x/page.html\n"
    "allow: /x/\n"
)
expect_false(T, robotstxt, "FooBot", url)
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /x/page.html\n"
    "disallow: /x/\n"
)
expect_true(T, robotstxt, "FooBot", url)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/x/")
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: \n"
    "allow: \n"
)
# In case of equivalent disallow and allow patterns for the same user-agent,
# allow is used.
expect_true(T, robotstxt, "FooBot", url)
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /\n"
)
expect_true(T, robotstxt, "FooBot", url)
url_a = "http://foo.bar/x"
url_b = "http://foo.bar/x/"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /x\n"
    "allow: /x/\n"
)
expect_false(T, robotstxt, "FooBot", url_a)
expect_true(T, robotstxt, "FooBot", url_b)
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /x/page.html\n"
    "allow: /x/page.html\n"
)
expect_true(T, robotstxt, "FooBot", url)
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /page\n"
    "disallow: /*.html\n"
)
# Longest match wins.
expect_false(T, robotstxt, "FooBot", "http://foo.bar/page.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/page")
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /x/page.\n"
    "disallow: /*.html\n"
)
expect_true(T, robotstxt, "FooBot", url)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/x/y.html")
robotstxt = (
    "User-agent: *\n"
    "Disallow: /x/\n"
    "User-agent: FooBot\n"
    "Disallow: /y/\n"
)
# Most specific group for FooBot allows implicitly /x/page.
expect_true(T, robotstxt, "FooBot", "http://foo.bar/x/page")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/y/page")

# -- ID_Encoding ---------------------------------------------------------------------

T = "ID_Encoding"
RAW_UTF8_URL = (
    "RFC 9309 §2.2.2: 'Octets in the URI and robots.txt paths outside the range of the ASCII "
    "coded character set ... MUST be percent-encoded ... prior to comparison': the URI's ツ "
    "becomes %E3%83%84 and the Allow rule (longer than 'Disallow: /') matches, so the URL "
    "is allowed. Google leaves encoding the URI to the caller ('It's up to the caller to "
    "percent encode a URL'); our match() does it itself, so a raw URL and its encoded form "
    "get the same answer.")
# /foo/bar?baz=http://foo.bar stays unencoded.
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /\n"
    "Allow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n"
)
expect_true(T, robotstxt, "FooBot",
            "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par")
# 3 byte character: /foo/bar/ツ -> /foo/bar/%E3%83%84
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /\n"
    "Allow: /foo/bar/ツ\n"
)
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/%E3%83%84")
# The parser encodes the 3-byte character, but the URL is not %-encoded.
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/ツ", rfc=True, reason=RAW_UTF8_URL)
# Percent encoded 3 byte character: /foo/bar/%E3%83%84 -> /foo/bar/%E3%83%84
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /\n"
    "Allow: /foo/bar/%E3%83%84\n"
)
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/%E3%83%84")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/ツ", rfc=True, reason=RAW_UTF8_URL)
# Percent encoded unreserved US-ASCII: /foo/bar/%62%61%7A -> NULL
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /\n"
    "Allow: /foo/bar/%62%61%7A\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/baz", rfc=True, reason=(
    "RFC 9309 §2.2.2: a percent-encoded unreserved ASCII octet 'MUST be unencoded prior to "
    "comparison', and its Table 1 (Examples of Matching Percent-Encoded URI Components) "
    "lists the path /foo/bar/%62%61%7A with 'Path to Match' /foo/bar/baz. So the Allow "
    "rule matches /foo/bar/baz and, being longer than 'Disallow: /', allows it. Google "
    "compares the escapes verbatim (its comment: 'should not be relied on')."))
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/%62%61%7A")

# -- ID_SpecialCharacters ------------------------------------------------------------

T = "ID_SpecialCharacters"
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /foo/bar/quz\n"
    "Allow: /foo/*/qux\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/quz")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/quz")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo//quz")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bax/quz")
robotstxt = (
    "User-agent: FooBot\n"
    "Disallow: /foo/bar$\n"
    "Allow: /foo/bar/qux\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/qux")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar/baz")
robotstxt = (
    "User-agent: FooBot\n"
    "# Disallow: /\n"
    "Disallow: /foo/quz#qux\n"
    "Allow: /\n"
)
expect_true(T, robotstxt, "FooBot", "http://foo.bar/foo/bar")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/foo/quz")

# -- GoogleOnly_IndexHTMLisDirectory -------------------------------------------------

T = "GoogleOnly_IndexHTMLisDirectory"
robotstxt = (
    "User-Agent: *\n"
    "Allow: /allowed-slash/index.html\n"
    "Disallow: /\n"
)
# If index.html is allowed, we interpret this as / being allowed too.
expect_true(T, robotstxt, "foobot", "http://foo.com/allowed-slash/", rfc=False, reason=(
    "RFC 9309 §2.2.2: a rule matches 'if and only if the end of the path from the rule is "
    "reached before a difference in octets is encountered'; /allowed-slash/index.html is "
    "not a prefix of /allowed-slash/, so only 'Disallow: /' matches. RFC 9309 has no "
    "index.html rule; Google's is a Google-only extension (the test is GoogleOnly_)."))
# Does not exatly match.
expect_false(T, robotstxt, "foobot", "http://foo.com/allowed-slash/index.htm")
# Exact match.
expect_true(T, robotstxt, "foobot", "http://foo.com/allowed-slash/index.html")
expect_false(T, robotstxt, "foobot", "http://foo.com/anyother-url")

# -- GoogleOnly_LineTooLong ----------------------------------------------------------

T = "GoogleOnly_LineTooLong"
LINE_TOO_LONG = (
    "RFC 9309 sets no line-length limit, only a parsing limit for the file of at least 500 "
    "KiB (§2.5; this file is ~17-33 KB); a rule's path is its whole value (§2.2, §2.2.2), "
    "so the {rule} rule ends in /qux and does not match .../fux, which is {url}. Google "
    "cuts lines at 8 * 2083 bytes (a Google-only limit) and matches the cut-off rule.")
kEOLLen = len("\n")
kMaxLineLen = 2083 * 8
allow = "allow: "
disallow = "disallow: "
# Disallow rule pattern matches the URL after being cut off at kMaxLineLen.
robotstxt = "user-agent: FooBot\n"
longline = "/x/"
max_length = kMaxLineLen - len(longline) - len(disallow) + kEOLLen
while len(longline) < max_length:
    longline += "a"
robotstxt += disallow + longline + "/qux\n"
# Matches nothing, so URL is allowed.
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fux")
# Matches cut off disallow rule.
expect_false(T, robotstxt, "FooBot", "http://foo.bar" + longline + "/fux", rfc=True,
             reason=LINE_TOO_LONG.format(rule="Disallow", url="allowed: no rule matches, "
                                         "§2.2.2 'the URI is allowed'"))
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
)
longline_a = "/x/"
longline_b = "/x/"
max_length = kMaxLineLen - len(longline_a) - len(allow) + kEOLLen
while len(longline_a) < max_length:
    longline_a += "a"
    longline_b += "b"
robotstxt += allow + longline_a + "/qux\n"
robotstxt += allow + longline_b + "/qux\n"
# URL matches the disallow rule.
expect_false(T, robotstxt, "FooBot", "http://foo.bar/")
# Matches the allow rule exactly.
expect_true(T, robotstxt, "FooBot", "http://foo.bar" + longline_a + "/qux")
# Matches cut off allow rule.
expect_true(T, robotstxt, "FooBot", "http://foo.bar" + longline_b + "/fux", rfc=False,
            reason=LINE_TOO_LONG.format(rule="Allow", url="disallowed by 'disallow: /'"))

# -- GoogleOnly_DocumentationChecks --------------------------------------------------
# https://developers.google.com/search/reference/robots_txt, section "URL matching
# based on path values", then "Order of precedence for group-member records".

T = "GoogleOnly_DocumentationChecks"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /fish\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/salmon.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fishheads")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fishheads/yummy.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish.html?id=anything")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/Fish.asp")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/catfish")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/?id=fish")
# "/fish*" equals "/fish"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /fish*\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/salmon.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fishheads")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fishheads/yummy.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish.html?id=anything")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/Fish.bar")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/catfish")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/?id=fish")
# "/fish/" does not equal "/fish"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /fish/\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/salmon")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/?salmon")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/salmon.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish/?id=anything")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/fish")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/fish.html")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/Fish/Salmon.html")
# "/*.php"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /*.php\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/filename.php")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/folder/filename.php")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/folder/filename.php?parameters")
expect_true(T, robotstxt, "FooBot", "http://foo.bar//folder/any.php.file.html")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/filename.php/")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/index?f=filename.php/")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/php/")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/index?php")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/windows.PHP")
# "/*.php$"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /*.php$\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/filename.php")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/folder/filename.php")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/filename.php?parameters")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/filename.php/")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/filename.php5")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/php/")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/filename?php")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/aaaphpaaa")
expect_false(T, robotstxt, "FooBot", "http://foo.bar//windows.PHP")
# "/fish*.php"
robotstxt = (
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /fish*.php\n"
)
expect_false(T, robotstxt, "FooBot", "http://foo.bar/bar")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fish.php")
expect_true(T, robotstxt, "FooBot", "http://foo.bar/fishheads/catfish.php?parameters")
expect_false(T, robotstxt, "FooBot", "http://foo.bar/Fish.PHP")
# Section "Order of precedence for group-member records".
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /p\n"
    "disallow: /\n"
)
expect_true(T, robotstxt, "FooBot", "http://example.com/page")
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /folder\n"
    "disallow: /folder\n"
)
expect_true(T, robotstxt, "FooBot", "http://example.com/folder/page")
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /page\n"
    "disallow: /*.htm\n"
)
expect_false(T, robotstxt, "FooBot", "http://example.com/page.htm")
robotstxt = (
    "user-agent: FooBot\n"
    "allow: /$\n"
    "disallow: /\n"
)
expect_true(T, robotstxt, "FooBot", "http://example.com/")
expect_false(T, robotstxt, "FooBot", "http://example.com/page.html")


def _param(case: Case):
    return pytest.param(case, id=case.id)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_google_robots_suite(case: Case):
    expected = case.google if case.rfc is None else case.rfc
    assert is_user_agent_allowed(case.robotstxt, case.user_agent, case.url) is expected


# -- IsValidUserAgentToObey -> robots.is_product_token ---------------------------------

VALID_AGENT_CASES = [
    ("ID_VerifyValidUserAgentsToObey-1", "Foobot", True),
    ("ID_VerifyValidUserAgentsToObey-2", "Foobot-Bar", True),
    ("ID_VerifyValidUserAgentsToObey-3", "Foo_Bar", True),
    ("ID_VerifyValidUserAgentsToObey-4", "", False),  # absl::string_view()
    ("ID_VerifyValidUserAgentsToObey-5", "", False),
    ("ID_VerifyValidUserAgentsToObey-6", "ツ", False),
    ("ID_VerifyValidUserAgentsToObey-7", "Foobot*", False),
    ("ID_VerifyValidUserAgentsToObey-8", " Foobot ", False),
    ("ID_VerifyValidUserAgentsToObey-9", "Foobot/2.1", False),
    ("ID_VerifyValidUserAgentsToObey-10", "Foobot Bar", False),
    ("GoogleOnly_AcceptUserAgentUpToFirstSpace-1", "Foobot Bar", False),
]


@pytest.mark.parametrize(("agent", "valid"), [pytest.param(a, v, id=i)
                                              for i, a, v in VALID_AGENT_CASES])
def test_google_valid_user_agent_to_obey(agent: str, valid: bool):
    assert robots.is_product_token(agent) is valid


def test_every_departure_from_google_cites_the_rfc():
    for case in CASES:
        if case.rfc is not None:
            assert case.rfc != case.google, case.id
            assert "RFC 9309" in case.reason, case.id
        else:
            assert not case.reason, case.id


def test_the_port_is_complete():
    # robots_test.cc has 156 EXPECT_TRUE/EXPECT_FALSE: 11 IsValidUserAgentToObey
    # checks and 145 IsUserAgentAllowed checks.
    assert len(CASES) == 145
    assert len({c.id for c in CASES}) == len(CASES)
    assert len(VALID_AGENT_CASES) == 11
