"""``tdmguard complaints`` lifecycle commands: ``acknowledge``, ``review``,
``uphold``, ``reject``, ``close``, and the reservations a decision feeds back
into crawling (``uphold --reserve``, ``reserve``, ``withdraw-reservation``).

Each change is one transition of the register
(:mod:`tdmguard.policy.complaints.register`); a decision writes its email to
the outbox (:mod:`tdmguard.policy.complaints.mail`) unless ``--no-email``.
"""

from __future__ import annotations

from typing import Any

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, fail
from tdmguard.crawler.complaints_common import (
    actor,
    by_option,
    config_option,
    now_option,
    open_register,
    parse_now,
    report_sent,
    send_acknowledgement,
    why_option,
)
from tdmguard.middlewares.escape import escape_text


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@by_option
@now_option
def acknowledge(reference: str, config_path: str | None, by: str | None,
                now_text: str | None) -> None:
    """Confirm receipt: write the acknowledgement to the outbox (and send it
    when SMTP is configured) and record it.

    \b
    Example:
        tdmguard complaints acknowledge TDMC-2026-000001 --by alice
    """
    from tdmguard.policy.complaints.register import RegisterError

    cfg, register = open_register(config_path)
    try:
        send_acknowledgement(register, reference, cfg, actor(by), parse_now(now_text))
    except RegisterError as exc:
        raise fail(str(exc)) from None


def _move(reference: str, config_path: str | None, action: str, by: str | None,
          why: str | None, reason: str | None, now_text: str | None) -> Any:
    from tdmguard.policy.complaints.register import RegisterError

    cfg, register = open_register(config_path)
    try:
        status = register.transition(reference, action, by=actor(by), why=why, reason=reason,
                                     now=parse_now(now_text))
    except RegisterError as exc:
        raise fail(str(exc)) from None
    click.echo(f"{reference.upper()}: {status}", err=True)
    return cfg, register


def _transition_command(action: str, help_text: str) -> click.Command:
    """The command ``complaints ACTION REFERENCE``, which only moves a complaint
    on by *action* (its options: --config, --by, --why)."""

    @click.command(action, context_settings=CONTEXT_SETTINGS, help=help_text)
    @click.argument("reference")
    @config_option
    @by_option
    @why_option
    @now_option
    def command(reference: str, config_path: str | None, by: str | None, why: str | None,
                now_text: str | None) -> None:
        _move(reference, config_path, action, by, why, None, now_text)

    return command


review = _transition_command("review", """Start reviewing a complaint (status under-review).

    \b
    Example:
        tdmguard complaints review TDMC-2026-000001 --by alice
    """)

close = _transition_command("close", """Close a decided complaint.

    \b
    Example:
        tdmguard complaints close TDMC-2026-000001 --by alice
    """)


def _notify(register: Any, reference: str, cfg: Any, by: str | None,
            now_text: str | None) -> None:
    from tdmguard.policy.complaints.mail import decision
    from tdmguard.policy.complaints.register import RegisterError

    try:
        sent = decision(register, reference, cfg, by=actor(by), now=parse_now(now_text))
    except RegisterError as exc:
        raise fail(str(exc)) from None
    report_sent(reference.upper(), "decision", sent)


def _reservation_args(reserve: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    from tdmguard.policy.complaints.reservations import KINDS, ReservationError, normalise

    out = []
    for kind, pattern in reserve:
        if kind not in KINDS:
            raise fail(f"--reserve {kind}: the kind is url-prefix or domain")
        try:
            normalise(kind, pattern)
        except ReservationError as exc:
            raise fail(f"--reserve {kind} {pattern}: {exc}") from None
        out.append((kind, pattern))
    return out


def _reserve(register: Any, cfg: Any, reference: str, kind: str, pattern: str,
             by: str | None, why: str | None, now_text: str | None) -> None:
    """Add *pattern* to the rightsholder-reservations list for the complaint."""
    from tdmguard.policy.complaints.register import RegisterError
    from tdmguard.policy.complaints.reservations import ReservationError
    from tdmguard.policy.complaints.reservations import reserve as add_reservation

    try:
        entry = add_reservation(register, reference, kind, pattern, path=cfg.reservations,
                                by=actor(by), why=why, now=parse_now(now_text))
    except (RegisterError, ReservationError) as exc:
        raise fail(str(exc)) from None
    click.echo(f"reserved {escape_text(entry['pattern'])} ({kind}) in "
               f"{escape_text(cfg.reservations)}", err=True)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@by_option
@why_option
@click.option("--reserve", nargs=2, multiple=True, metavar="KIND PATTERN",
              help="Add to the rightsholder-reservations list (KIND url-prefix or domain): "
              "every later crawl, check and audit refuses it (repeatable).")
@click.option("--no-email", is_flag=True, help="Record the decision without writing the "
              "decision email.")
@now_option
def uphold(reference: str, config_path: str | None, by: str | None, why: str | None,
           reserve: tuple[tuple[str, str], ...], no_email: bool, now_text: str | None) -> None:
    """Uphold a complaint under review; optionally add URL prefixes or domains
    to the rightsholder-reservations list (complaints.reservations), each
    line naming the complaint, then write the decision email with redress.

    \b
    Example:
        tdmguard complaints uphold TDMC-2026-000001 --by alice \\
            --why "robots.txt disallowed it" --reserve url-prefix https://site.example/books/
    """
    wanted = _reservation_args(reserve)
    cfg, register = _move(reference, config_path, "uphold", by, why, None, now_text)
    for kind, pattern in wanted:
        _reserve(register, cfg, reference, kind, pattern, by, why, now_text)
    if not no_email:
        _notify(register, reference, cfg, by, now_text)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@click.option("--reason", required=True,
              type=click.Choice(["manifestly-unfounded", "insufficiently-precise",
                                 "duplicate", "outside-chapter"]),
              help="Why the complaint is rejected.")
@by_option
@why_option
@click.option("--no-email", is_flag=True, help="Record the decision without writing the "
              "decision email.")
@now_option
def reject(reference: str, config_path: str | None, reason: str, by: str | None,
           why: str | None, no_email: bool, now_text: str | None) -> None:
    """Reject a complaint with a reason code, then write the decision email
    with the reasons and the redress available.

    \b
    Example:
        tdmguard complaints reject TDMC-2026-000002 --reason duplicate --by alice
    """
    cfg, register = _move(reference, config_path, "reject", by, why, reason, now_text)
    if not no_email:
        _notify(register, reference, cfg, by, now_text)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@click.argument("kind", type=click.Choice(["url-prefix", "domain"]))
@click.argument("pattern")
@config_option
@by_option
@why_option
@now_option
def reserve(reference: str, kind: str, pattern: str, config_path: str | None,
            by: str | None, why: str | None, now_text: str | None) -> None:
    """Add a URL prefix or domain to the rightsholder-reservations list for an
    upheld complaint (as ``uphold --reserve`` does).

    \b
    Example:
        tdmguard complaints reserve TDMC-2026-000001 domain site.example --by alice
    """
    cfg, register = open_register(config_path)
    _reserve(register, cfg, reference, kind, pattern, by, why, now_text)


@click.command("withdraw-reservation", context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@click.argument("pattern")
@config_option
@by_option
@why_option
@now_option
def withdraw_reservation(reference: str, pattern: str, config_path: str | None,
                         by: str | None, why: str | None, now_text: str | None) -> None:
    """Withdraw a reservation a complaint added: a "withdrawn" line in the
    reservations list, recorded in the complaint's history.

    \b
    Example:
        tdmguard complaints withdraw-reservation TDMC-2026-000001 site.example --by alice
    """
    from tdmguard.policy.complaints.register import RegisterError
    from tdmguard.policy.complaints.reservations import ReservationError, withdraw

    cfg, register = open_register(config_path)
    try:
        entry = withdraw(register, reference, pattern, path=cfg.reservations, by=actor(by),
                         why=why, now=parse_now(now_text))
    except (RegisterError, ReservationError) as exc:
        raise fail(str(exc)) from None
    click.echo(f"withdrew {escape_text(entry['pattern'])} ({entry['kind']}) in "
               f"{escape_text(cfg.reservations)}", err=True)
