"""The ``tdmguard`` command line: the group, assembled from one module per topic.

- :mod:`tdmguard.crawler.crawl_cli`: ``check``, ``crawl``, ``demo``
- :mod:`tdmguard.crawler.ledger_cli`: ``evidence``, ``verify``, ``summary``
- :mod:`tdmguard.crawler.blocklist_cli`: ``blocklist check``, ``blocklist list``
- :mod:`tdmguard.crawler.checkpoint_cli`: ``checkpoint``
- :mod:`tdmguard.crawler.datasette_cli`: ``datasette-metadata``

Shared options, errors and exit codes live in :mod:`tdmguard.crawler.clitools`,
output formats in :mod:`tdmguard.crawler.output`; neither imports this module.
"""

from __future__ import annotations

import sys

import click

from tdmguard.crawler.blocklist_cli import blocklist
from tdmguard.crawler.checkpoint_cli import checkpoint
from tdmguard.crawler.clitools import CONTEXT_SETTINGS, TdmguardGroup
from tdmguard.crawler.crawl_cli import check, crawl, demo
from tdmguard.crawler.datasette_cli import datasette_metadata
from tdmguard.crawler.ledger_cli import evidence, summary, verify
from tdmguard.middlewares.settings import tdmguard_version


@click.group(cls=TdmguardGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(tdmguard_version(), prog_name="tdmguard")
def cli() -> None:
    """tdmguard: lawful, provable crawling for AI training.

    Enforces RFC 9309 robots.txt (fail-closed) and records every decision.
    Exit status: 0 success; 1 a check found a problem (verify); 2 usage or
    bad input; 130 interrupted.
    """


for command in (check, crawl, demo, evidence, verify, summary, blocklist):
    cli.add_command(command)
cli.add_command(checkpoint)
cli.add_command(datasette_metadata)


def main() -> None:  # pragma: no cover
    sys.exit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
