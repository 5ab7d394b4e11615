"""``tdmguard policy``: the copyright policy and the public crawler disclosure.

- ``policy init``: write a commented starter ``tdmguard.toml``;
- ``policy render``: the copyright policy (Measures 1.1 to 1.5) or its public
  summary, as Markdown or HTML;
- ``policy disclosure``: the crawler page, IP ranges, self-descriptions and
  Atom change feed;
- ``policy check``: exit 1 naming each difference between the published
  documents and the configuration.

Everything is read from ``tdmguard.toml`` (:mod:`tdmguard.policy.config`); a
bad file is one line and exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    TdmguardGroup,
    fail,
    open_ledgers,
)
from tdmguard.middlewares.escape import escape_text
from tdmguard.policy.config import ConfigError, ProviderConfig, load


def config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--config", "config_path", metavar="PATH", default=None,
                        type=click.Path(dir_okay=False),
                        help="The tdmguard.toml to read (default: ./tdmguard.toml).")(f)


def date_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--date", "when", metavar="DATE", default=None,
                        help="Date a new version or feed entry (default: SOURCE_DATE_EPOCH, "
                        "else policy.effective_date; never the clock).")(f)


def templates_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--templates", metavar="DIR", default=None,
                        type=click.Path(file_okay=False),
                        help="A directory of your own templates, used before tdmguard's "
                        "(same names: policy.md, policy.html, summary.md, summary.html, "
                        "disclosure.html).")(f)


def read_config(path: str | None) -> ProviderConfig:
    try:
        return load(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"warning: {escape_text(line)}", err=True)


@click.group(cls=TdmguardGroup, context_settings=CONTEXT_SETTINGS)
def policy() -> None:
    """The copyright policy and the public crawler disclosure, both derived
    from tdmguard.toml and the settings the crawlers run with.

    \b
    Example:
        tdmguard policy init
        tdmguard policy render --format html --output policy.html
        tdmguard policy disclosure --output-dir public/crawlers
        tdmguard policy check --policy policy.html --published public/crawlers
    """


@policy.command(context_settings=CONTEXT_SETTINGS)
@click.option("--output", metavar="FILE", default="tdmguard.toml", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the starter file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(output: str, force: bool) -> None:
    """Write a commented starter tdmguard.toml (every field, with example values
    to replace).

    \b
    Example:
        tdmguard policy init --output tdmguard.toml
    """
    from tdmguard.policy.render import TEMPLATES

    if os.path.exists(output) and not force:
        raise fail(f"{output} exists: give --force to overwrite it")
    try:
        Path(output).write_text((TEMPLATES / "tdmguard.toml").read_text(encoding="utf-8"),
                                encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {output}: replace the example values, then run "
               "tdmguard policy render", err=True)


@policy.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md",
              show_default=True, help="Markdown or HTML.")
@click.option("--output", metavar="FILE", default=None, type=click.Path(dir_okay=False),
              help="Write the document here (default: standard output).")
@click.option("--public-summary", "public", is_flag=True,
              help="The shorter public summary instead of the full policy.")
@click.option("--db", "dbs", multiple=True, metavar="PATH", type=click.Path(),
              help="Ledgers whose crawls fill the training-content template's sections "
              "2.3 and 3.1 (repeatable; a directory gives its *.db files).")
@click.option("--domains", "domains_out", metavar="FILE", default=None,
              type=click.Path(dir_okay=False),
              help="Where to write the most-relevant-domains CSV (default with --db and "
              "--output: top-domains.csv beside the document).")
@click.option("--history", "history_file", metavar="FILE", default=None,
              type=click.Path(dir_okay=False),
              help="The version history (default: policy.history of tdmguard.toml).")
@templates_option
@date_option
def render(config_path: str | None, fmt: str, output: str | None, public: bool,
           dbs: tuple[str, ...], domains_out: str | None, history_file: str | None,
           templates: str | None, when: str | None) -> None:
    """Render the copyright policy: one section per Measure 1.1 to 1.5, saying
    which protocols are honoured in which mode, what fails closed, which
    blocklists apply, how complaints are handled and who is responsible, with
    its version, date and change log. A render whose content changed adds a
    version to the history; the same inputs give the same bytes.

    \b
    Example:
        tdmguard policy render --format html --output policy.html --db ledger.db
        tdmguard policy render --public-summary --output summary.md
    """
    from tdmguard.policy.render import render_policy

    cfg = read_config(config_path)
    ledgers = open_ledgers(dbs) if dbs else []
    domains_path = domains_out
    if ledgers and domains_path is None and output:
        domains_path = str(Path(output).with_name("top-domains.csv"))
    link = None
    if domains_path:
        link = (os.path.relpath(domains_path, os.path.dirname(os.path.abspath(output)))
                if output else domains_path)
    try:
        text, warnings, csv_text = render_policy(
            cfg, fmt, public=public, ledgers=ledgers, templates=templates,
            history_file=history_file, when=when, domains_file=link)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    warn(warnings)
    try:
        if domains_path and csv_text is not None:
            Path(domains_path).write_text(csv_text, encoding="utf-8")
        if output:
            Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {exc.filename}: {exc.strerror}") from None
    if output:
        click.echo(f"Wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@policy.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--output-dir", "directory", metavar="DIR", required=True,
              type=click.Path(file_okay=False),
              help="Where the disclosure is written and its last published state kept.")
@templates_option
@date_option
def disclosure(config_path: str | None, directory: str, templates: str | None,
               when: str | None) -> None:
    """Write the public crawler information: an HTML page (how to block each
    crawler, what it does with the data, whether pages are rendered, the
    protocols honoured, contact, how to verify it), a JAFAR IP-range file and
    a Signature Agent Card JSON per crawler, and an Atom feed with one entry
    per change since the last run in DIR.

    \b
    Example:
        tdmguard policy disclosure --output-dir public/crawlers
    """
    from tdmguard.policy.disclosure import publish

    cfg = read_config(config_path)
    try:
        changes, warnings = publish(cfg, directory, when=when, templates=templates)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    warn(warnings)
    if changes:
        click.echo(f"Published {directory}: {len(changes)} change(s) in a new feed entry",
                   err=True)
        for line in changes:
            click.echo(f"  {escape_text(line)}", err=True)
    else:
        click.echo(f"{directory} is up to date: no change, no new feed entry", err=True)


@policy.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--published", metavar="DIR", default=None, type=click.Path(file_okay=False),
              help="A directory written by tdmguard policy disclosure.")
@click.option("--policy", "policies", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A document written by tdmguard policy render (repeatable).")
@click.pass_context
def check(ctx: click.Context, config_path: str | None, published: str | None,
          policies: tuple[str, ...]) -> None:
    """Compare the published policy and disclosure with the configuration now:
    exit 1 naming each difference (a protocol switched off, a blocklist edition
    changed, a crawler token added, a response time changed); exit 0 when
    they match.

    \b
    Example:
        tdmguard policy check --policy policy.html --published public/crawlers
    """
    from tdmguard.policy.check import check as run_check

    if not published and not policies:
        raise click.UsageError("give --policy FILE and/or --published DIR")
    cfg = read_config(config_path)
    try:
        problems = run_check(cfg, published, policies)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    for line in problems:
        click.echo(escape_text(line))
    if problems:
        click.echo(f"{len(problems)} difference(s): re-render and re-publish", err=True)
        ctx.exit(EXIT_PROBLEM)
    click.echo("The published documents match the configuration.", err=True)


try:  # helper S's `policy keys` (Web Bot Auth signing keys)
    from tdmguard.crawler.policy_keys_cli import keys
except ImportError:  # pragma: no cover - not there yet
    pass
else:
    policy.add_command(keys)
