"""``tdmguard checkpoint``, and the ``--checkpoint``/``--key`` options of ``verify``.

A checkpoint is the ledger's current sequence number and head hash (README,
"The ledger"), optionally signed with an Ed25519 key; kept elsewhere, it lets
``verify --checkpoint`` prove the ledger still holds that prefix unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, fail


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--db", required=True, metavar="PATH", envvar="TDMGUARD_DB",
              help="The ledger file (env TDMGUARD_DB).")
@click.option("--key", metavar="KEY.pem",
              help="Sign with this Ed25519 private key (PEM, unencrypted).")
@click.option("--new-key", is_flag=True,
              help="Create --key first (and KEY.pub.pem, the public key to publish).")
@click.option("--output", "-o", metavar="FILE", help="Write the checkpoint here, not stdout.")
def checkpoint(db: str, key: str | None, new_key: bool, output: str | None) -> None:
    """Verify the ledger, then print its checkpoint: sequence number, head
    hash, decision count and time, signed with --key when given. Publish it
    (or keep it anywhere the ledger's writers cannot change); later
    ``tdmguard verify --db PATH --checkpoint FILE [--key KEY.pub.pem]``
    proves the ledger still holds everything up to it, unchanged.

    \b
    Example:
        tdmguard checkpoint --db ledger.db --key ops.pem --new-key -o cp-2026-12-01.json
        tdmguard verify --db ledger.db --checkpoint cp-2026-12-01.json --key ops.pub.pem
    """
    from tdmguard.middlewares.checkpoint_keys import generate_key, load_key
    from tdmguard.middlewares.ledger import LedgerError, open_existing
    from tdmguard.middlewares.ledger import checkpoint as make_checkpoint

    if new_key and not key:
        raise fail("--new-key needs --key KEY.pem (where to write it)")
    try:
        private = (generate_key(key) if new_key else load_key(key, private=True)) if key \
            else None
        ledger = open_existing(db)
        try:
            cp = make_checkpoint(ledger, private)
        finally:
            ledger.close()
    except LedgerError as exc:
        raise fail(str(exc)) from None
    text = json.dumps(cp, indent=2)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"checkpoint at seq {cp['seq']} ({cp['decisions']} decisions) written to "
                   f"{output}", err=True)
    else:
        click.echo(text)


def checkpoint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--checkpoint FILE`` and ``--key PEM`` for ``verify`` (parameters
    ``checkpoint_file``, ``key``)."""
    f = click.option("--key", "key", metavar="PUBLIC.pem",
                     help="With --checkpoint: the Ed25519 public key (or private key) the "
                     "checkpoint must be signed with.")(f)
    return click.option("--checkpoint", "checkpoint_file", metavar="FILE",
                        help="A checkpoint (tdmguard checkpoint): also prove the ledger "
                        "still holds everything up to it, unchanged.")(f)


def checkpoint_args(checkpoint_file: str | None, key: str | None,
                    ledgers: int) -> dict[str, Any]:
    """The keyword arguments of ``verify`` for these options (a one-line
    error, exit 2, for an unreadable file or key)."""
    from tdmguard.middlewares.chain import LedgerError
    from tdmguard.middlewares.checkpoint_keys import load_key

    if not checkpoint_file:
        if key:
            raise fail("--key goes with --checkpoint FILE")
        return {}
    if ledgers != 1:
        raise fail("--checkpoint checks one ledger: give one --db file")
    try:
        with open(checkpoint_file, encoding="utf-8") as fh:
            cp = json.load(fh)
    except OSError as exc:
        raise fail(f"cannot read the checkpoint {checkpoint_file}: {exc.strerror}") from None
    except ValueError:
        raise fail(f"{checkpoint_file} is not a checkpoint (not JSON)") from None
    try:
        public = load_key(key, private=False) if key else None
    except LedgerError as exc:
        raise fail(str(exc)) from None
    return {"checkpoint": cp, "public_key": public}
