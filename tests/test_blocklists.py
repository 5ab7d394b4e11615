"""Blocklists: list files, normalisation, matching, shipped lists, offline PSL."""

from __future__ import annotations

import doctest
import importlib.metadata
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tdmguard.blocklists
import tdmguard.blocklists.domains
import tdmguard.blocklists.hosts
import tdmguard.blocklists.listfile
import tdmguard.blocklists.lists
from tdmguard.blocklists import (
    KINDS,
    Blocklist,
    BlocklistError,
    BlocklistSet,
    Match,
    load_blocklists,
    normalise_host,
    psl_snapshot_version,
    registrable_domain,
    shipped_blocklist_paths,
)
from tdmguard.blocklists.domains import EXTRACT, INCLUDE_PSL_PRIVATE_DOMAINS, is_public_suffix

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# name: test-list
# kind: authoritative
# issuer: Test Court
# source: Judgment of 1 January 2020, https://court.example/ruling.pdf
# edition: 2020-01-01
# licence: CC0-1.0
"""


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any DNS look-up or socket connection fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def write_list(tmp_path: Path):
    """Write a list file (standard header unless given one); return its path."""

    def write(body: str, header: str = HEADER, name: str = "list.txt") -> Path:
        path = tmp_path / name
        path.write_text(header + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


def one_list(write_list, body: str) -> BlocklistSet:
    return BlocklistSet([Blocklist.load(write_list(body))])


# --- normalisation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.Com", "example.com"),
        ("example.com.", "example.com"),
        ("  example.com\t", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example.", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
        ("bücher\u3002example", "xn--bcher-kva.example"),  # ideographic full stop
        ("https://example.com/path?q=1#frag", "example.com"),
        ("HTTP://User:Secret@Example.COM:8080/x", "example.com"),
        ("https://user@bücher.example:8443/ä", "xn--bcher-kva.example"),
        ("//example.com/x", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com/path", "example.com"),
        ("https://evil.example@good.example/", "good.example"),
        ("192.0.2.1", "192.0.2.1"),
        ("http://192.0.2.1:8080/", "192.0.2.1"),
        ("[2001:DB8:0:0::1]", "2001:db8::1"),
        ("https://[2001:db8::1]:443/x", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("localhost", "localhost"),
        ("", None),
        ("   ", None),
        ("http://", None),
        ("[not-an-ip]", None),
    ],
)
def test_normalise_host(value: str, expected: str | None) -> None:
    assert normalise_host(value) == expected


def test_idna_2003_and_2008_spellings_are_both_entries(write_list) -> None:
    # Scrapy (w3lib) encodes with IDNA 2003: straße.de -> strasse.de; browsers
    # use IDNA 2008: xn--strae-oqa.de. A list naming the Unicode domain means both.
    blocklist = Blocklist.load(write_list("straße.de\n"))
    assert blocklist.entries == {"xn--strae-oqa.de", "strasse.de"}
    assert Blocklist.load(write_list("xn--strae-oqa.de\n")).entries == {
        "xn--strae-oqa.de",
        "strasse.de",
    }
    assert tdmguard.blocklists.hosts.idna_variants("xn--bcher-kva.example") == ()


def test_entries_are_normalised(write_list) -> None:
    blocklist = Blocklist.load(
        write_list(
            """\
            EXAMPLE.COM.
            https://user:pw@Mirror.Example.org:8443/any/path?q=1
            http://Ports.Example.net:80
            bücher.example
            *.wild.example
            .dotted.example
               spaced.example   \t
            """
        )
    )
    assert blocklist.warnings == []
    assert blocklist.entries == {
        "example.com",
        "mirror.example.org",
        "ports.example.net",
        "xn--bcher-kva.example",
        "wild.example",
        "dotted.example",
        "spaced.example",
    }


def test_comments_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    text = (
        HEADER
        + "\n# a comment\n\none.example   # why: court order\r\n\ttwo.example#x\n"
    )
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    blocklist = Blocklist.load(path)
    assert blocklist.entries == {"one.example", "two.example"}
    assert blocklist.warnings == []


def test_unicode_entry_matches_punycode_host_and_back(write_list) -> None:
    unicode_list = one_list(write_list, "bücher.example\n")
    for host in (
        "xn--bcher-kva.example",
        "www.xn--bcher-kva.example",
        "https://WWW.BÜCHER.example./x",
        "bücher.example",
    ):
        found = unicode_list.match(host)
        assert found is not None, host
        assert found.entry == "xn--bcher-kva.example"
    punycode_list = one_list(write_list, "xn--bcher-kva.example\n")
    found = punycode_list.match("https://shop.bücher.example:8443/")
    assert found == Match(
        "test-list",
        "authoritative",
        "2020-01-01",
        "xn--bcher-kva.example",
        "shop.xn--bcher-kva.example",
    )
    assert punycode_list.match("bucher.example") is None


# --- matching --------------------------------------------------------------


def test_subdomains_match_and_report_entry_and_host(write_list) -> None:
    lists = one_list(write_list, "listed.to\n")
    assert lists.match("listed.to") == Match(
        "test-list", "authoritative", "2020-01-01", "listed.to", "listed.to"
    )
    found = lists.match("https://User@A.B.Listed.TO.:8080/path?x#y")
    assert found is not None
    assert (found.entry, found.host) == ("listed.to", "a.b.listed.to")


@pytest.mark.parametrize(
    "host",
    [
        "not-listed.to",
        "xlisted.to",
        "listed.to.example.com",
        "https://listed.to.example.com/",
        "listed.tor",
        "listedto",
        "to",
        "isted.to",
        "https://example.com/?u=https://listed.to/",
        "https://listed.to@example.com/",
    ],
)
def test_look_alikes_do_not_match(write_list, host: str) -> None:
    assert one_list(write_list, "listed.to\n").match(host) is None


def test_hosts_without_public_suffix(write_list) -> None:
    lists = one_list(write_list, "x.example\nlocalhost\nintranet\n")
    for host in (
        "x.example",
        "a.b.x.example",
        "localhost",
        "api.localhost",
        "http://localhost:8080/",
        "intranet",
        "wiki.intranet",
    ):
        assert lists.match(host) is not None, host
    for host in (
        "example",
        "y.example",
        "x.example.com",
        "notlocalhost",
        "intranet.com",
    ):
        assert lists.match(host) is None, host


def test_ip_addresses_match_exactly(write_list) -> None:
    lists = one_list(
        write_list, "192.0.2.1\n[2001:db8::1]\nhttp://198.51.100.7:8080/\n"
    )
    assert lists.match("http://192.0.2.1:8080/x").entry == "192.0.2.1"
    assert lists.match("198.51.100.7").host == "198.51.100.7"
    assert lists.match("https://[2001:DB8:0:0::1]:443/").entry == "2001:db8::1"
    assert lists.match("2001:db8::1") is not None
    for host in ("192.0.2.10", "192.0.2.11", "2001:db8::2", "[2001:db8::]", "0.2.1"):
        assert lists.match(host) is None, host


def test_entries_of_different_depths(write_list) -> None:
    lists = one_list(write_list, "deep.sub.example.co.uk\nexample.net\n")
    assert (
        lists.match("a.b.c.d.deep.sub.example.co.uk").entry == "deep.sub.example.co.uk"
    )
    assert lists.match("sub.example.co.uk") is None
    assert lists.match("w.x.y.z.example.net").entry == "example.net"


def test_first_matching_list_wins_authoritative_first(write_list) -> None:
    advisory = Blocklist.load(
        write_list(
            "www.shared.example\nshared.example\nonly-advisory.example\n",
            header=HEADER.replace("test-list", "advisory-list").replace(
                "authoritative", "advisory"
            ),
            name="advisory.txt",
        )
    )
    court = Blocklist.load(write_list("shared.example\n", name="court.txt"))
    lists = BlocklistSet([advisory, court])
    assert [b.name for b in lists.lists] == ["test-list", "advisory-list"]
    found = lists.match("www.shared.example")
    assert (found.list_name, found.kind, found.entry) == (
        "test-list",
        "authoritative",
        "shared.example",
    )
    assert lists.match("only-advisory.example").kind == "advisory"
    assert [m.list_name for m in lists.match_all("www.shared.example")] == [
        "test-list",
        "advisory-list",
    ]
    assert lists.match_all("www.shared.example")[1].entry == "www.shared.example"
    assert lists.match_all("unlisted.example") == []


def test_big_list_is_probed_in_order(write_list) -> None:
    # The largest list is kept out of the merged index; order must still hold.
    big = Blocklist.load(
        write_list(
            "".join(f"host{i}.example\n" for i in range(500)) + "both.example\n",
            name="big.txt",
        )
    )
    small = Blocklist.load(
        write_list(
            "both.example\nsmall.example\n",
            header=HEADER.replace("test-list", "small-list"),
            name="small.txt",
        )
    )
    assert BlocklistSet([small, big]).match("x.both.example").list_name == "small-list"
    assert BlocklistSet([big, small]).match("x.both.example").list_name == "test-list"
    assert BlocklistSet([big, small]).match("small.example").list_name == "small-list"


def test_ip_in_several_lists_reports_the_first(write_list) -> None:
    big = Blocklist("big", "advisory", entries={f"192.0.2.{i}" for i in range(1, 200)})
    small = Blocklist("small", "advisory", entries={"192.0.2.7", "2001:db8::7"})
    assert BlocklistSet([small, big]).match("192.0.2.7").list_name == "small"
    assert BlocklistSet([big, small]).match("192.0.2.7").list_name == "big"
    assert BlocklistSet([big, small]).match("[2001:db8::7]").list_name == "small"
    assert repr(BlocklistSet([big, small])) == "<BlocklistSet: 2 lists, 201 entries>"


def test_hand_built_blocklist(tmp_path: Path) -> None:
    lists = BlocklistSet(
        [Blocklist("hand", "advisory", entries={"a.b.example", "solo"})]
    )
    assert lists.match("x.a.b.example").entry == "a.b.example"
    assert lists.match("x.solo").entry == "solo"
    assert lists.match("b.example") is None
    assert BlocklistSet().match("anything.example") is None


def test_duplicate_list_names_are_refused(write_list) -> None:
    first = Blocklist.load(write_list("a.example\n", name="a.txt"))
    second = Blocklist.load(write_list("b.example\n", name="b.txt"))
    with pytest.raises(BlocklistError, match="two blocklists are named 'test-list'"):
        BlocklistSet([first, second])


# --- malformed input -------------------------------------------------------


def test_malformed_lines_are_warnings_with_file_and_line(write_list, caplog) -> None:
    body = """\
        good.example
        exa mple.com
        bad..example
        -bad.example
        bad-.example
        co.uk
        com
        anything.ck
        www.ck
        http://
        host.123
        {long}.example
        ok.example   # trailing comment
        """.format(long="a" * 64)
    path = write_list(body)
    offset = HEADER.count("\n")
    with caplog.at_level(logging.WARNING, logger="tdmguard.blocklists"):
        blocklist = Blocklist.load(path)
    assert blocklist.entries == {"good.example", "www.ck", "ok.example"}
    bad_lines = [2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert len(blocklist.warnings) == len(bad_lines)
    for warning, line in zip(blocklist.warnings, bad_lines, strict=True):
        assert warning.startswith(f"{path}:{offset + line}: "), warning
        assert warning.endswith("line skipped")
    assert "bare public suffix" in blocklist.warnings[4]
    assert "'exa mple.com'" in blocklist.warnings[0]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert logged == blocklist.warnings


def test_private_psl_suffix_is_a_valid_entry(write_list) -> None:
    # Only ICANN suffixes are refused: a list may name a whole platform.
    lists = one_list(write_list, "github.io\n")
    assert lists.lists[0].warnings == []
    assert lists.match("octocat.github.io").entry == "github.io"
    assert is_public_suffix("co.uk") and not is_public_suffix("github.io")
    assert is_public_suffix("github.io", include_private=True)
    assert is_public_suffix("foo.ck") and not is_public_suffix("www.ck")


def test_warnings_are_capped(write_list, monkeypatch) -> None:
    monkeypatch.setattr(tdmguard.blocklists.listfile, "MAX_WARNINGS", 3)
    blocklist = Blocklist.load(write_list("".join(f"bad{i}..x\n" for i in range(10))))
    assert len(blocklist.warnings) == 4
    assert blocklist.warnings[-1].endswith("7 more warnings not shown")


def test_undecodable_bytes_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(HEADER.encode() + b"ok.example\nb\xfccher.example\n")
    blocklist = Blocklist.load(path)
    assert blocklist.entries == {"ok.example"}
    assert len(blocklist.warnings) == 1 and f"{path}:8:" in blocklist.warnings[0]


def test_batches_agree_with_line_by_line_parsing(write_list, monkeypatch) -> None:
    # 120,000 lines cross several batches; the bad line is deep inside one.
    lines = [f"h{i}.example{'.co.uk' if i % 3 else '.com'}\n" for i in range(120_000)]
    lines[77_776] = "bad..example\n"
    path = write_list("".join(lines))
    fast = Blocklist.load(path)
    line = HEADER.count("\n") + 77_777
    assert fast.warnings == [
        f"{path}:{line}: not a valid host name: 'bad..example'; line skipped"
    ]
    monkeypatch.setattr(tdmguard.blocklists.listfile._Parser, "batch", lambda self, lines: False)
    slow = Blocklist.load(path)
    assert slow.entries == fast.entries and len(fast) == 119_999
    assert slow.warnings == fast.warnings


# One feature per body, so that each check of the batch fast path is needed.
BATCH_BODIES = {
    "plain": "a.example\nb.example.co.uk\nc-d.example\n_dmarc.example\nx--y.example\n",
    "upper case and comments": "A.EXAMPLE   # court\n# note\n\nB.Example\n",
    "icann suffix": "a.example\nco.uk\nb.example\n",
    "top-level domain": "a.example\ncom\n",
    "wildcard child": "a.example\nfoo.ck\n",
    "wildcard child, two labels": "a.example\nx.kobe.jp\n",
    "wildcard exceptions": "www.ck\ncity.kobe.jp\n",
    "private suffixes": "github.io\nblogspot.com\n",
    "trailing dot": "a.example.\n",
    "ipv4": "a.example\n192.0.2.1\n",
    "numeric top-level label": "a.example\nhost.123\n",
    "empty label": "a..example\n",
    "leading hyphen": "-a.example\n",
    "label ending in a hyphen": "a-.example\n",
    "line ending in a hyphen": "a.example-\n",
    "lone dot": ".\n",
    "long label": "a" * 64 + ".example\n",
    "long name": ".".join(["a" * 60] * 5) + "\n",
    "idn": "xn--bcher-kva.example\nbücher.example\n",
    "upper-case idn": "XN--STRAE-OQA.DE\n",
    "url": "https://a.example/x\n",
    "wildcard entry": "*.b.example\n",
    "leading dot": ".c.example\n",
    "whitespace": "\ta.example \na b.example\n",
}


def test_plain_batches_take_the_fast_path(write_list, monkeypatch) -> None:
    results = []
    batch = tdmguard.blocklists.listfile._Parser.batch

    def spy(self, lines):
        results.append(batch(self, lines))
        return results[-1]

    monkeypatch.setattr(tdmguard.blocklists.listfile._Parser, "batch", spy)
    Blocklist.load(write_list("first.example\n" + BATCH_BODIES["plain"] * 3))
    Blocklist.load(
        write_list("first.example\n" + BATCH_BODIES["upper case and comments"])
    )
    assert results == [True, True]


@pytest.mark.parametrize("body", BATCH_BODIES.values(), ids=BATCH_BODIES.keys())
def test_batch_path_equals_line_path(write_list, monkeypatch, body: str) -> None:
    # The first entry line is parsed on its own; the rest go through a batch.
    path = write_list("first.example\n" + body)
    fast = Blocklist.load(path)
    monkeypatch.setattr(tdmguard.blocklists.listfile._Parser, "batch", lambda self, lines: False)
    slow = Blocklist.load(path)
    assert fast.entries == slow.entries
    assert fast.warnings == slow.warnings
    assert (
        fast.dot_counts()
        == slow.dot_counts()
        == frozenset(entry.count(".") for entry in slow.entries)
    )


def test_bare_suffixes_in_a_clean_batch_are_warned(write_list) -> None:
    path = write_list("a.example\nco.uk\nb.example\nfoo.ck\nwww.ck\nx.kobe.jp\n")
    blocklist = Blocklist.load(path)
    start = HEADER.count("\n")
    assert blocklist.entries == {"a.example", "b.example", "www.ck"}
    assert [w.split(": ")[0] for w in blocklist.warnings] == [
        f"{path}:{start + line}" for line in (2, 4, 6)
    ]


def test_parse_text_and_lines_without_endings() -> None:
    text = HEADER + "a.example\nb.example # c\n"
    from_text = Blocklist.parse(text)
    from_lines = Blocklist.parse(text.splitlines())
    assert from_text.entries == from_lines.entries == {"a.example", "b.example"}
    assert str(from_text.path) == "<string>"


# --- header and files ------------------------------------------------------


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(BlocklistError, match="blocklist file not found") as info:
        Blocklist.load(missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BlocklistError, match="not found"):
        Blocklist.load(tmp_path)  # a directory
    with pytest.raises(BlocklistError):
        load_blocklists([missing])


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("# name: x\n", r"lacks '# kind: \.\.\.'"),
        ("# kind: advisory\n", r"lacks '# name: \.\.\.'"),
        ("# name:\n# kind: advisory\n", r"lacks '# name: \.\.\.'"),
        ("# name: x\n# kind: court\n", r"'# kind: court' is not one of authoritative"),
    ],
)
def test_header_validation(write_list, header: str, message: str) -> None:
    path = write_list("a.example\n", header=header)
    with pytest.raises(BlocklistError, match=message) as info:
        Blocklist.load(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_headerless_list_is_the_operators_own(write_list) -> None:
    # A plain list of domains (datatrove's) loads as it is, with one warning.
    path = write_list("# my own exclusions\na.example\nb.example\n", header="",
                      name="dataset-exclusions.txt")
    blocklist = Blocklist.load(path)
    assert (blocklist.name, blocklist.kind) == ("dataset-exclusions", "advisory")
    assert blocklist.meta == {"provenance": "none"}
    [warning] = blocklist.warnings
    assert "no provenance" in warning and "\n" not in warning
    assert BlocklistSet([blocklist]).match("www.b.example").entry == "b.example"


def test_header_fields_aliases_and_metadata(write_list) -> None:
    header = """\
# Any text before the keys is a comment.
# See https://court.example/list for details
# name: my-list
# title: My list
# kind: ADVISORY
# source: Document A
# source: https://a.example/doc.pdf
# license: CC-BY-4.0
# compiled: 2026-11-25
"""
    blocklist = Blocklist.load(
        write_list("a.example\n# name: ignored after entries\n", header=header)
    )
    assert (blocklist.name, blocklist.title, blocklist.kind) == (
        "my-list",
        "My list",
        "advisory",
    )
    assert blocklist.source == "Document A; https://a.example/doc.pdf"
    assert blocklist.licence == "CC-BY-4.0"
    assert blocklist.meta == {"compiled": "2026-11-25"}
    [warning] = blocklist.warnings
    assert "no '# edition: ...' line" in warning
    assert len(blocklist.sha256) == 64


def test_header_only_list_warns(write_list) -> None:
    blocklist = Blocklist.load(write_list(""))
    assert len(blocklist) == 0
    assert blocklist.warnings[-1].endswith("the list has no entries")


# --- shipped lists ---------------------------------------------------------


SHIPPED_KINDS = {
    "be-antwerp-court-of-appeal-2011": "authoritative",
    "it-agcom-delibera-185-20-cons": "authoritative",
    "lt-lrtk-blocking-decisions": "authoritative",
    "eu-counterfeit-piracy-watch-list": "advisory",
    "ustr-notorious-markets": "advisory",
}
ENTRY_COMMENT = re.compile(
    r"^(?P<domain>\S+)\s+# [^|]+ \| edition: [^|]+ \| confidence: "
    r"(?P<confidence>official-text|reproduction-citing-official|secondary) \|.*"
    r"seen in \[S\d+\]$"
)


def test_shipped_lists_load_cleanly(no_network) -> None:
    paths = shipped_blocklist_paths()
    assert {path.stem for path in paths} == set(SHIPPED_KINDS)
    for path in paths:
        blocklist = Blocklist.load(path)
        assert blocklist.warnings == [], path
        assert blocklist.name == path.stem
        assert blocklist.kind == SHIPPED_KINDS[path.stem]
        for value in (
            blocklist.title,
            blocklist.issuer,
            blocklist.edition,
            blocklist.source,
            blocklist.licence,
        ):
            assert value.strip(), (path, blocklist)
        assert "http" in blocklist.source
        assert blocklist.meta["compiled"] == "2026-11-25"
        assert len(blocklist) > 0


def test_readme_example_is_a_valid_list() -> None:
    readme = (ROOT / "blocklists" / "data" / "README.md").read_text(encoding="utf-8")
    example = readme.split("```\n")[1]
    blocklist = Blocklist.parse(example)
    assert blocklist.warnings == []
    assert (blocklist.name, blocklist.kind) == ("my-court-order", "authoritative")
    assert blocklist.entries == {"piracy.example", "mirror.example"}


def test_shipped_entries_carry_edition_and_confidence() -> None:
    rows = 0
    for path in shipped_blocklist_paths():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                assert ENTRY_COMMENT.match(line), line
                rows += 1
    assert rows == 56  # one line per row of the research table, none invented


def test_shipped_lists_match_known_domains(no_network) -> None:
    lists = load_blocklists()
    assert [b.kind for b in lists.lists] == sorted(
        (b.kind for b in lists.lists), key=KINDS.index
    )
    found = lists.match("https://www.thepiratebay.org/search")
    assert (found.list_name, found.kind) == (
        "be-antwerp-court-of-appeal-2011",
        "authoritative",
    )
    assert lists.match("mw.nimitv.net").list_name == "it-agcom-delibera-185-20-cons"
    assert lists.match("nimitv.net") is None  # only mw.nimitv.net is listed
    assert lists.match("rapidgator.net").kind == "advisory"
    assert lists.match("yts.mx").list_name == "ustr-notorious-markets"
    assert {m.list_name for m in lists.match_all("thepiratebay.org")} == {
        "be-antwerp-court-of-appeal-2011",
        "eu-counterfeit-piracy-watch-list",
        "ustr-notorious-markets",
    }


def test_describe(write_list) -> None:
    path = write_list("a.example\nb.example\n")
    rows = load_blocklists([str(path), path], include_shipped=False).describe()
    assert rows == [
        {
            "name": "test-list",
            "title": "test-list",
            "kind": "authoritative",
            "issuer": "Test Court",
            "edition": "2020-01-01",
            "source": "Judgment of 1 January 2020, https://court.example/ruling.pdf",
            "licence": "CC0-1.0",
            "entries": 2,
            "path": str(path),
            "sha256": Blocklist.load(path).sha256,
            "warnings": 0,
        }
    ]
    json.dumps(load_blocklists().describe())  # ledger-ready
    shipped = load_blocklists([path])
    assert len(shipped.lists) == len(SHIPPED_KINDS) + 1


# --- registrable domains and the offline PSL --------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("forums.bbc.co.uk", "bbc.co.uk"),
        ("https://Forums.BBC.co.uk:443/path", "bbc.co.uk"),
        ("www.example.com.", "example.com"),
        ("a.b.x.example", "a.b.x.example"),  # no public suffix: the host itself
        ("localhost", "localhost"),
        ("http://192.0.2.1/", "192.0.2.1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("shop.bücher.de", "xn--bcher-kva.de"),
        ("co.uk", "co.uk"),
        ("", ""),
    ],
)
def test_registrable_domain(no_network, value: str, expected: str) -> None:
    assert registrable_domain(value) == expected


def test_psl_private_domains_choice(no_network) -> None:
    # Chosen: PSL private domains are suffixes, so each *.github.io site is
    # its own registrable domain.
    assert INCLUDE_PSL_PRIVATE_DOMAINS is True
    assert EXTRACT.include_psl_private_domains is INCLUDE_PSL_PRIVATE_DOMAINS
    assert registrable_domain("https://octocat.github.io/repo") == "octocat.github.io"
    assert registrable_domain("a.b.octocat.github.io") == "octocat.github.io"
    # The other choice would fold every site into github.io.
    other = EXTRACT("a.b.octocat.github.io", include_psl_private_domains=False)
    assert other.top_domain_under_public_suffix == "github.io"
    assert EXTRACT("octocat.github.io").is_private is True


def test_extractor_is_offline(no_network, monkeypatch) -> None:
    assert EXTRACT.suffix_list_urls == ()
    assert EXTRACT.fallback_to_snapshot is True
    # Force the suffix list to be read again, now, with the network refused.
    monkeypatch.setattr(EXTRACT, "_extractor", None)
    registrable_domain.cache_clear()
    assert registrable_domain("news.example.co.jp") == "example.co.jp"
    with pytest.raises(NetworkUsed):
        socket.getaddrinfo("example.com", 80)  # the fixture is armed


def test_psl_snapshot_version() -> None:
    version = psl_snapshot_version()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_UTC", version)
    if importlib.metadata.version("tldextract") == "5.4.0":
        assert version == "2025-04-07_15-51-09_UTC"


def test_cold_start_is_offline_and_writes_nothing(tmp_path: Path) -> None:
    # A fresh interpreter with sockets disabled before anything is imported,
    # and cache locations pointed at an empty directory.
    script = textwrap.dedent(
        """
        import json, socket, sys
        def refuse(*a, **k):
            raise SystemExit("network access attempted")
        socket.getaddrinfo = socket.create_connection = refuse
        socket.socket.connect = socket.socket.connect_ex = refuse
        from tdmguard import blocklists
        lists = blocklists.load_blocklists()
        print(json.dumps({
            "registrable": blocklists.registrable_domain("forums.bbc.co.uk"),
            "psl": blocklists.psl_snapshot_version(),
            "match": lists.match("www.thepiratebay.org").list_name,
            "scrapy": "scrapy" in sys.modules or "twisted" in sys.modules,
        }))
        """
    )
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {
        **os.environ,
        "TLDEXTRACT_CACHE": str(cache),
        "XDG_CACHE_HOME": str(cache),
        "HOME": str(cache),
    }
    env.pop("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", None)  # not needed by us
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "registrable": "bbc.co.uk",
        "psl": psl_snapshot_version(),
        "match": "be-antwerp-court-of-appeal-2011",
        "scrapy": False,
    }
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize(
    "module",
    [
        tdmguard.blocklists,
        tdmguard.blocklists.domains,
        tdmguard.blocklists.hosts,
        tdmguard.blocklists.listfile,
        tdmguard.blocklists.lists,
    ],
)
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0
