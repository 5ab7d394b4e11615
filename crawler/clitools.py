"""What every ``tdmguard`` command shares: the group class, errors and exit
codes, option definitions, URL input and opening ledgers.

Exit codes: 0 success; 1 a check that found a problem (``verify``); 2 usage
or bad input (one line on stderr, never a traceback); 130 interrupted.
Command modules import this module and :mod:`tdmguard.crawler.output`, never
:mod:`tdmguard.crawler.cli`, which only assembles the group.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any
from urllib.parse import urlsplit

import click

from tdmguard.middlewares.vocab import MODES, PURPOSES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageFailure(click.ClickException):
    """A one-line error with exit status 2 (bad input, never a traceback)."""

    exit_code = EXIT_USAGE


class Interrupted(click.ClickException):
    """Ctrl-C (KeyboardInterrupt, or a crawl shut down by SIGINT): exit 130."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo("interrupted", err=True)


class TdmguardGroup(click.Group):
    """A click group that turns KeyboardInterrupt in any command into exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None


def fail(message: str) -> UsageFailure:
    return UsageFailure(message)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be crawled, or None when it is a usable absolute URL."""
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"not a usable URL: {url!r} (bad port)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not a usable URL: {url!r} (give an absolute http:// or https:// URL)"
    if any(c.isspace() for c in url.strip()):
        return f"not a usable URL: {url!r} (contains white space)"
    return None


def check_url(url: str) -> str:
    problem = url_problem(url)
    if problem:
        raise fail(problem)
    return url.strip()


def _lines(source: str, text: Iterable[str]) -> list[str]:
    urls = []
    for n, line in enumerate(text, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        problem = url_problem(line)
        if problem:
            raise fail(f"{source} line {n}: {problem}")
        urls.append(line)
    return urls


def _read_stdin() -> list[str]:
    try:
        return sys.stdin.read().splitlines()
    except UnicodeDecodeError:
        raise fail("standard input is not UTF-8 text") from None


def read_urls(args: Iterable[str], input_path: str | None) -> list[str]:
    """URLs from the arguments (``-``: standard input) and ``--input FILE``, one
    per line; blank lines and ``#`` comments skipped; a bad one exits 2 naming
    its line."""
    urls: list[str] = []
    stdin_read = False
    for arg in args:
        if arg == "-":
            if not stdin_read:
                urls += _lines("standard input", _read_stdin())
                stdin_read = True
        else:
            urls.append(check_url(arg))
    if input_path == "-":
        if not stdin_read:
            urls += _lines("standard input", _read_stdin())
    elif input_path is not None:
        try:
            with open(input_path, encoding="utf-8") as fh:
                urls += _lines(input_path, fh.read().splitlines())
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise fail(f"cannot read the URL list {input_path}: {why}") from None
    if not urls:
        raise fail("no URL to check: give URLs as arguments, --input FILE or - "
                   "(standard input)")
    return urls


def tokens_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--user-agent", "user_agent", metavar="TOKEN",
        envvar="TDMGUARD_USER_AGENT",
        help="Your crawler's RFC 9309 product token(s), comma-separated "
        "(env TDMGUARD_USER_AGENT).",
    )(f)


def mode_option(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--mode", type=click.Choice(MODES), default=None,
                     help="strict (default): also honour groups naming AI-training "
                     "crawlers; rfc: RFC 9309 literally.")(f)
    return click.option("--purpose", type=click.Choice(PURPOSES), default=None,
                        help="What the crawl is for (default train-ai).")(f)


def settings_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-s", "--set", "scrapy_settings", multiple=True, metavar="NAME=VALUE",
                        help="A Scrapy or TDMGUARD_* setting for this run (repeatable).")(f)


def blocklist_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The one ``--blocklist`` option (parameter ``blocklists``)."""
    return click.option("--blocklist", "blocklists", multiple=True, metavar="PATH",
                        help="A blocklist file of your own, added to the shipped lists "
                        "(repeatable; TDMGUARD_BLOCKLISTS).")(f)


def ledgers_option(f: Callable[..., Any], required: bool = True) -> Callable[..., Any]:
    """The reading ``--db`` (parameter ``dbs``): repeatable, files or directories."""
    return click.option(
        "--db", "dbs", multiple=True, required=required, metavar="PATH", envvar="TDMGUARD_DB",
        type=click.Path(),
        help="A ledger file, or a directory of *.db ledgers (repeatable: several "
        "answer as one; env TDMGUARD_DB, paths separated by the OS path separator).")(f)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise fail(f"-s {pair!r}: write NAME=VALUE")
        out[name.strip()] = value
    return out


def ledger_files(paths: Iterable[str]) -> list[str]:
    """Each ``--db`` value as ledger files: a directory gives its ``*.db`` files,
    sorted; the same file named twice is read once."""
    files: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, name) for name in os.listdir(path)
                           if name.endswith(".db")
                           and os.path.isfile(os.path.join(path, name)))
            if not found:
                raise fail(f"no ledger in the directory {path} (no *.db file)")
        else:
            found = [path]
        for name in found:
            key = os.path.realpath(name)
            if key not in seen:
                seen.add(key)
                files.append(name)
    return files


def open_ledgers(paths: Iterable[str]) -> list[tuple[str, Any]]:
    """``(path, database)`` for each ledger, read-only; each is closed when the
    command ends (``ctx.call_on_close``). Not a ledger: one line, exit 2."""
    from tdmguard.middlewares.ledger import LedgerError, open_existing

    ctx = click.get_current_context()
    out = []
    for path in ledger_files(paths):
        try:
            db = open_existing(path)
        except LedgerError as exc:
            raise fail(str(exc)) from None
        ctx.call_on_close(db.close)
        out.append((path, db))
    return out


def writable_ledger(path: str) -> None:
    """Fail with exit 2 before crawling when --db cannot be written as a ledger."""
    from tdmguard.middlewares.ledger import Ledger, LedgerError

    try:
        Ledger(path).close()
    except LedgerError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the ledger {path}: {exc}") from None


def write_bundle(path: str, subject: dict[str, Any], chosen: list[tuple[str, Any, list[int]]],
                 nothing: str, of: str = "") -> None:
    """Write the evidence bundle of *chosen* ``(ledger name, db, decision ids)``
    and say so on stderr; *nothing* is the failure when no ledger has a
    decision, *of* what the decisions are for (" for TDMC-..."). One line,
    exit 2, when it cannot be written."""
    from tdmguard.crawler.bundle import BundleError
    from tdmguard.crawler.bundle import write_bundle as write

    if not any(ids for _name, _db, ids in chosen):
        raise fail(f"no decision to bundle: {nothing}")
    try:
        manifest = write(path, subject, chosen)
    except BundleError as exc:
        raise fail(str(exc)) from None
    n = sum(len(led["decisions"]) for led in manifest["ledgers"])
    click.echo(f"Wrote {path}: {n} decisions{of}; check it with: tdmguard verify --bundle "
               f"{path} (or python verify.py inside it)", err=True)
