"""What the ``tdmguard complaints`` commands share: their options, the clock
and the actor they record, opening the register, reporting a written email.

The group is :mod:`tdmguard.crawler.complaints_cli`; its commands live in
:mod:`tdmguard.crawler.complaints_intake_cli`,
:mod:`tdmguard.crawler.complaints_decide_cli` and
:mod:`tdmguard.crawler.complaints_records_cli`, which import this module.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from tdmguard.crawler.clitools import fail
from tdmguard.middlewares.escape import escape_text


def config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH``: the tdmguard.toml whose ``[complaints]`` table is used."""
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, metavar="PATH",
                        help="tdmguard.toml with a [complaints] table (default "
                        "./tdmguard.toml).")(f)


def now_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """A hidden ``--now`` (ISO 8601 UTC) so tests and replays fix the clock."""
    return click.option("--now", "now_text", default=None, hidden=True)(f)


def by_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--by", default=None, metavar="WHO",
                        help="Who makes the change (default: your login name).")(f)


def why_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--why", default=None, metavar="TEXT",
                        help="Why: recorded in the history (and sent in a decision).")(f)


def parse_now(text: str | None) -> datetime | None:
    """*text* (``--now``, ISO 8601; UTC when it names no zone) as a time, or None."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--now {text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def actor(by: str | None) -> str:
    """Who makes a change: ``--by``, else the login name, else ``operator``."""
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"


def open_register(config_path: str | None) -> tuple[Any, Any]:
    """The config and the register, closed when the command ends."""
    from tdmguard.policy.complaints.config import ComplaintsConfigError, load
    from tdmguard.policy.complaints.register import Register, RegisterError
    from tdmguard.policy.complaints.reservations import ReservationError, ensure

    try:
        cfg = load(config_path)
        ensure(cfg.reservations)
        register = Register(cfg.register)
    except (ComplaintsConfigError, RegisterError, ReservationError) as exc:
        raise fail(str(exc)) from None
    click.get_current_context().call_on_close(register.close)
    return cfg, register


def send_acknowledgement(register: Any, ref: str, cfg: Any, by: str,
                         now: datetime | None) -> None:
    """Acknowledge *ref*: write (and send) the confirmation of receipt, record it."""
    from tdmguard.policy.complaints.mail import acknowledgement

    sent = acknowledgement(register, ref, cfg, by=by, now=now)
    report_sent(ref, "acknowledgement", sent)


def report_sent(ref: str, what: str, sent: dict[str, Any]) -> None:
    where = f"outbox {sent['file']}"
    if sent["smtp"] == "sent":
        where += ", sent by SMTP"
    elif sent["smtp"] == "failed":
        where += f"; SMTP FAILED: {sent['error']}"
    click.echo(f"{ref}: {what} written ({escape_text(where)})", err=True)
