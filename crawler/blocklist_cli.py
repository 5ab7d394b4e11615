"""``tdmguard blocklist``: is a host on an infringement list, and which lists are loaded.

Offline and Scrapy-free: it reads the same list files a crawl does (the
shipped ones, plus ``--blocklist PATH``) with :mod:`tdmguard.blocklists`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tdmguard.blocklists import BlocklistError, BlocklistSet, load_blocklists
from tdmguard.blocklists.hosts import HOSTNAME_RE, canonical_host
from tdmguard.crawler.clitools import CONTEXT_SETTINGS, blocklist_option, fail
from tdmguard.crawler.output import emit, output_options, render


def lists_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--no-shipped", is_flag=True,
                     help="Leave out the lists shipped with tdmguard.")(f)
    return blocklist_option(f)


def load(paths: tuple[str, ...], no_shipped: bool) -> BlocklistSet:
    # Malformed lines are logged as warnings naming file and line (stderr).
    try:
        return load_blocklists(paths, include_shipped=not no_shipped)
    except BlocklistError as exc:
        raise fail(str(exc)) from None


def check_rows(blocklists: BlocklistSet, inputs: tuple[str, ...],
               advisory: str = "block") -> list[dict[str, Any]]:
    rows = []
    for value in inputs:
        found = canonical_host(value)
        if found is None or not (found[1] or HOSTNAME_RE.fullmatch(found[0])):
            raise fail(f"not a host name or URL: {value!r}")
        match = blocklists.match(value)
        rows.append({
            "input": value,
            "host": found[0],
            "blocked": match is not None and (match.kind == "authoritative"
                                              or advisory == "block"),
            "list": match.list_name if match else None,
            "kind": match.kind if match else None,
            "edition": match.edition if match else None,
            "entry": match.entry if match else None,
        })
    return rows


@click.group(context_settings=CONTEXT_SETTINGS)
def blocklist() -> None:
    """Infringement blocklists (Code of Practice Measure 1.2(1)(b)): check hosts,
    list the lists. A crawl never contacts a listed host or its subdomains.

    \b
    Example:
        tdmguard blocklist check thepiratebay.org https://example.com/a
        tdmguard blocklist list --blocklist my-court-order.txt --format json
    """


@blocklist.command("check", context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True, metavar="HOST_OR_URL...")
@lists_options
@click.option("--advisory", type=click.Choice(["block", "warn"]), default="block",
              show_default=True,
              help="warn: a match on an advisory list is reported, not blocked.")
@output_options
def check(inputs: tuple[str, ...], blocklists: tuple[str, ...], no_shipped: bool,
          advisory: str, fmt: str) -> None:
    """Say whether each host (or URL's host) is on a loaded list: the list, its
    edition and the entry that matched. Exit 0 whatever the answers; 2 on bad
    input or a missing list file.

    \b
    Example:
        tdmguard blocklist check www.thepiratebay.org not-listed.to --format json
    """
    rows = check_rows(load(blocklists, no_shipped), inputs, advisory)
    emit(render(rows, fmt, table=check_table))


def check_table(rows: list[dict[str, Any]]) -> str:
    width = min(max((len(r["input"]) for r in rows), default=10), 60)
    lines = []
    for r in rows:
        if r["list"] is None:
            lines.append(f"{'allowed':8} {r['input']:<{width}}  not on any loaded list")
        else:
            verdict = "BLOCKED" if r["blocked"] else "WARNING"
            lines.append(f"{verdict:8} {r['input']:<{width}}  {r['list']} ({r['kind']}, "
                         f"edition {r['edition'] or '?'}): entry {r['entry']}")
    return "\n".join(lines)


@blocklist.command("list", context_settings=CONTEXT_SETTINGS)
@lists_options
@output_options
def list_lists(blocklists: tuple[str, ...], no_shipped: bool, fmt: str) -> None:
    """Each loaded list, in look-up order (authoritative first): name, kind,
    entry count, edition, source, file and sha256.

    \b
    Example:
        tdmguard blocklist list --format json
    """
    rows = load(blocklists, no_shipped).describe()
    emit(render(rows, fmt, table=list_table))


def list_table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        lines += [(f"{r['name']}  {r['kind']}  {r['entries']} entries  "
                   f"edition {r['edition'] or '?'}"),
                  f"  {r['title']}",
                  f"  source: {r['source'] or '?'}",
                  f"  file: {r['path']}  sha256: {r['sha256']}"]
    return "\n".join(lines)
