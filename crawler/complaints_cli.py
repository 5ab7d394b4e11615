"""``tdmguard complaints``: the complaints register (Code of Practice, Measure 1.5).

Intake (``add``, bulk ``--from-json``/``--from-csv``), the lifecycle
(``acknowledge``, ``review``, ``uphold``, ``reject``, ``close``), reservations
fed back into crawling (``uphold --reserve``, ``reserve``,
``withdraw-reservation``), evidence from the ledgers (``show --db``,
``bundle``), reporting (``list``, ``export``, ``report``) and data protection
(``purge``, ``verify``). The register itself is
:mod:`tdmguard.policy.complaints`; this module is the click group, its commands
live in :mod:`tdmguard.crawler.complaints_intake_cli` (``add``),
:mod:`tdmguard.crawler.complaints_decide_cli` (lifecycle and reservations) and
:mod:`tdmguard.crawler.complaints_records_cli` (reading, evidence from the
ledgers, ``verify``, ``purge``), sharing :mod:`tdmguard.crawler.complaints_common`.

Every command reads the ``[complaints]`` table of ``--config`` (default
``./tdmguard.toml``). Exit status: 0 done; 1 ``verify`` found an edit, or a
bulk intake rejected some rows; 2 bad input or an impossible transition.
"""

from __future__ import annotations

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS
from tdmguard.crawler.complaints_decide_cli import (
    acknowledge,
    close,
    reject,
    reserve,
    review,
    uphold,
    withdraw_reservation,
)
from tdmguard.crawler.complaints_intake_cli import add
from tdmguard.crawler.complaints_records_cli import (
    bundle,
    export,
    list_,
    purge,
    report,
    show,
    verify,
)


@click.group(context_settings=CONTEXT_SETTINGS)
def complaints() -> None:
    """The complaints register: intake, lifecycle with deadlines, evidence
    from the ledgers, reservations fed back into crawling, reports, purge.

    \b
    Example:
        tdmguard complaints add --name "A. Author" --email a@example.org \\
            --capacity rightsholder --work "My novel" --url https://site.example/copy \\
            --commitment 1.3 --description "Copied despite robots.txt" --good-faith
        tdmguard complaints list --overdue
        tdmguard complaints show TDMC-2026-000001 --db ledger.db
    """


for _command in (add, acknowledge, review, uphold, reject, close, reserve, withdraw_reservation,
                 list_, export, report, show, bundle, verify, purge):
    complaints.add_command(_command)
