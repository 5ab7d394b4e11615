"""The ``tdmguard`` command line: the group, assembled from one module per topic.

- :mod:`tdmguard.crawler.crawl_cli`: ``check``, ``crawl``
- :mod:`tdmguard.crawler.demo_cli`: ``demo``
- :mod:`tdmguard.crawler.ledger_cli`: ``evidence``, ``verify``, ``summary``
- :mod:`tdmguard.crawler.blocklist_cli`: ``blocklist check``, ``blocklist list``
- :mod:`tdmguard.crawler.checkpoint_cli`: ``checkpoint``
- :mod:`tdmguard.crawler.datasette_cli`: ``datasette-metadata``
- :mod:`tdmguard.crawler.audit_cli`: ``audit``
- :mod:`tdmguard.crawler.report_cli`: ``report``
- :mod:`tdmguard.crawler.policy_cli`: ``policy init|render|disclosure|check|keys``
- :mod:`tdmguard.crawler.complaints_cli`: ``complaints ...`` (``serve`` from
  :mod:`tdmguard.crawler.complaints_serve_cli`)
- :mod:`tdmguard.crawler.ledger_merge_cli`: ``ledger merge``

Shared options, errors and exit codes live in :mod:`tdmguard.crawler.clitools`,
output formats in :mod:`tdmguard.crawler.output`; neither imports this module.
"""

from __future__ import annotations

import sys

import click

from tdmguard.crawler.audit_cli import audit
from tdmguard.crawler.blocklist_cli import blocklist
from tdmguard.crawler.checkpoint_cli import checkpoint
from tdmguard.crawler.clitools import CONTEXT_SETTINGS, TdmguardGroup
from tdmguard.crawler.complaints_cli import complaints
from tdmguard.crawler.complaints_serve_cli import serve
from tdmguard.crawler.crawl_cli import check, crawl
from tdmguard.crawler.datasette_cli import datasette_metadata
from tdmguard.crawler.demo_cli import demo
from tdmguard.crawler.ledger_cli import evidence, summary, verify
from tdmguard.crawler.ledger_merge_cli import ledger
from tdmguard.crawler.policy_cli import policy
from tdmguard.crawler.report_cli import report
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
cli.add_command(report)
cli.add_command(audit)
complaints.add_command(serve)
cli.add_command(complaints)
cli.add_command(policy)
cli.add_command(ledger)


def main() -> None:  # pragma: no cover
    sys.exit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
