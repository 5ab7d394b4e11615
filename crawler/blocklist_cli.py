"""``tdmguard blocklist``: is a host on an infringement list, and which lists are loaded.

Offline and Scrapy-free: it reads the same list files a crawl does (the
shipped ones, plus ``--blocklist PATH``) with :mod:`blocklists`. Also home of
:func:`with_blocklists`, which maps ``--blocklist`` of ``check`` and ``crawl``
to ``TDMGUARD_BLOCKLISTS``. ``tdmguard.crawler.cli`` is imported lazily (it registers
this group at its end).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from tdmguard.blocklists import BlocklistError, BlocklistSet, load_blocklists
from tdmguard.blocklists.hosts import HOSTNAME_RE, canonical_host

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _fail(message: str) -> click.ClickException:
    from tdmguard.crawler.cli import fail

    return fail(message)


def lists_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--no-shipped", is_flag=True,
                     help="Leave out the lists shipped with tdmguard.")(f)
    return click.option("--blocklist", "paths", multiple=True, metavar="PATH",
                        help="A list file of your own, added to the shipped lists "
                        "(repeatable).")(f)


def load(paths: tuple[str, ...], no_shipped: bool) -> BlocklistSet:
    # Malformed lines are logged as warnings naming file and line (stderr).
    try:
        return load_blocklists(paths, include_shipped=not no_shipped)
    except BlocklistError as exc:
        raise _fail(str(exc)) from None


def check_rows(blocklists: BlocklistSet, inputs: tuple[str, ...],
               advisory: str = "block") -> list[dict[str, Any]]:
    rows = []
    for value in inputs:
        found = canonical_host(value)
        if found is None or not (found[1] or HOSTNAME_RE.fullmatch(found[0])):
            raise _fail(f"not a host name or URL: {value!r}")
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def check(inputs: tuple[str, ...], paths: tuple[str, ...], no_shipped: bool,
          advisory: str, fmt: str) -> None:
    """Say whether each host (or URL's host) is on a loaded list: the list, its
    edition and the entry that matched. Exit 0 whatever the answers; 2 on bad
    input or a missing list file.

    \b
    Example:
        tdmguard blocklist check www.thepiratebay.org not-listed.to --format json
    """
    rows = check_rows(load(paths, no_shipped), inputs, advisory)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    width = min(max(len(r["input"]) for r in rows), 60)
    for r in rows:
        if r["list"] is None:
            click.echo(f"{'allowed':8} {r['input']:<{width}}  not on any loaded list")
        else:
            verdict = "BLOCKED" if r["blocked"] else "WARNING"
            click.echo(f"{verdict:8} {r['input']:<{width}}  {r['list']} ({r['kind']}, "
                       f"edition {r['edition'] or '?'}): entry {r['entry']}")


@blocklist.command("list", context_settings=CONTEXT_SETTINGS)
@lists_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def list_lists(paths: tuple[str, ...], no_shipped: bool, fmt: str) -> None:
    """Each loaded list, in look-up order (authoritative first): name, kind,
    entry count, edition, source, file and sha256.

    \b
    Example:
        tdmguard blocklist list --format json
    """
    rows = load(paths, no_shipped).describe()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']}  {r['kind']}  {r['entries']} entries  "
                   f"edition {r['edition'] or '?'}")
        click.echo(f"  {r['title']}")
        click.echo(f"  source: {r['source'] or '?'}")
        click.echo(f"  file: {r['path']}  sha256: {r['sha256']}")


def with_blocklists(overrides: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Add ``--blocklist`` paths to ``TDMGUARD_BLOCKLISTS``, then run the add-on's
    start-up checks (lists load, no credentials, an honest User-Agent), so a bad
    list file or setting is a one-line error with exit 2, before any request."""
    from tdmguard.crawler.run import base_settings
    from tdmguard.middlewares.addon import TdmGuard
    from tdmguard.middlewares.blocklist import blocklist_paths

    out = dict(overrides)
    try:
        if paths:
            out["TDMGUARD_BLOCKLISTS"] = [*blocklist_paths(base_settings(out)), *paths]
        TdmGuard().update_settings(base_settings(out))
    except ValueError as exc:  # ConfigError, or a setting Scrapy cannot read
        raise _fail(str(exc)) from None
    return out
