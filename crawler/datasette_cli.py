"""``tdmguard datasette-metadata``: Datasette metadata for ledgers.

Datasette (``datasette ledger.db -m metadata.json``) then shows each table
with a description and offers the canned queries a compliance officer needs
(``crawler/data/datasette-queries.json``): every decision for a domain with
the robots.txt in force, refusals by protocol and month, pages fetched
before a reservation was added, the crawls and their settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, fail
from tdmguard.middlewares.settings import tdmguard_version

QUERIES = Path(__file__).parent / "data" / "datasette-queries.json"

TABLES = {
    "crawls": "One row per crawl: when, who (user agent, tokens), mode, purpose, every "
              "TDMGUARD_* setting in force and the blocklists with their editions.",
    "crawl_finishes": "How and when each crawl ended (finished, shutdown, forced, error).",
    "snapshots": "Each distinct rights document (robots.txt, tdmrep.json, ai.txt, RSL), "
                 "stored once per sha256; text bodies are readable as text.",
    "snapshot_fetches": "Every fetch of a rights document, with its own URL, origin and time.",
    "decisions": "One decision per request: allowed or not, at which stage, why (reasons), "
                 "under which documents (snapshots), hash-chained.",
    "decision_snapshots": "Which documents each decision cites, and which fetch of each.",
}


def metadata(stems: list[str]) -> dict[str, Any]:
    """Datasette metadata naming each ledger database (file stem)."""
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))
    tables = {name: {"description": text} for name, text in TABLES.items()}
    tables["decisions"]["sort_desc"] = "id"
    return {
        "title": "tdmguard ledger",
        "description": "Every crawl decision with the rights documents in force, "
                       "hash-chained: check with `tdmguard verify`.",
        "source": f"tdmguard {tdmguard_version()}",
        "databases": {stem: {"tables": tables, "queries": queries} for stem in stems},
    }


@click.command("datasette-metadata", context_settings=CONTEXT_SETTINGS)
@click.option("--db", "dbs", multiple=True, required=True, metavar="PATH",
              help="A ledger file Datasette will serve (repeatable); its file name "
              "without .db names the database.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the metadata here instead of standard output.")
def datasette_metadata(dbs: tuple[str, ...], output: str | None) -> None:
    """Datasette metadata for ledgers: table descriptions and canned queries.

    \b
    Example:
        tdmguard datasette-metadata --db ledger.db -o metadata.json
        datasette serve -i ledger.db -m metadata.json --host 127.0.0.1
    """
    text = json.dumps(metadata([Path(p).stem for p in dbs]), indent=2)
    if output is None:
        click.echo(text)
        return
    try:
        Path(output).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
