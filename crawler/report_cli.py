"""``tdmguard report``: one self-contained HTML page over one ledger or several."""

from __future__ import annotations

import os
import sqlite3
import sys

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, fail, ledgers_option, open_ledgers
from tdmguard.middlewares.escape import escape_text


@click.command(context_settings=CONTEXT_SETTINGS)
@ledgers_option
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default="report.html",
              show_default=True, help="Where the HTML page goes (- for standard output).")
@click.option("--sections", type=click.IntRange(min=0), default=50, show_default=True,
              help="Domains given an evidence section of their own, the most refused first.")
@click.option("--rows", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Rows of the domain table, the domains with most decisions first.")
def report(dbs: tuple[str, ...], output: str, sections: int, rows: int) -> None:
    """One HTML page over every crawl and audit of the ledgers: totals,
    refusals by protocol, the most refused domains, decisions over time, the
    crawls with their settings, a domain table linking to each most-refused
    domain's evidence (its latest refusals and rights documents), and for
    audits the crawled-and-used figures and history flags. Self-contained:
    no script, no network, charts as inline SVG; every string from the web or
    a ledger is escaped.

    \b
    Example:
        tdmguard report --db ledger.db --output report.html
        tdmguard report --db ledgers/ --db audit.db -o report.html --sections 100
    """
    from tdmguard.crawler.report import write_report

    ledgers = open_ledgers(dbs)
    try:
        totals = write_report(ledgers, output, sections=sections, rows=rows)
    except BrokenPipeError:
        # standard output closed early (| head): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    except sqlite3.Error as exc:  # a damaged file that still opened as a ledger
        raise fail(f"cannot read the ledgers: {exc}") from None
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
    if output != "-":
        click.echo(f"Wrote {escape_text(output)}: {totals['decisions']:,} decisions, "
                   f"{totals['domains']:,} domains, {len(ledgers)} ledger"
                   f"{'s' if len(ledgers) != 1 else ''}, in {totals['seconds']:.1f} s", err=True)
