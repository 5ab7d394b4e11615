"""``tdmguard complaints`` reading and upkeep: ``list``, ``export``,
``report``, ``show`` (with ``--db``, what the ledgers hold), ``bundle`` (the
evidence bundle), ``verify`` (the register's hash chain) and ``purge``
(personal data past its keeping time).
"""

from __future__ import annotations

import functools
import json

import click

from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    fail,
    ledgers_option,
    open_ledgers,
    write_bundle,
)
from tdmguard.crawler.complaints_common import (
    actor,
    by_option,
    config_option,
    now_option,
    open_register,
    parse_now,
)
from tdmguard.crawler.complaints_evidence import domain_ids, ledger_evidence, show_document
from tdmguard.crawler.output import emit, output_options, render
from tdmguard.middlewares.escape import escape_text


@click.command("list", context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--overdue", is_flag=True, help="Only complaints whose acknowledgement or "
              "decision is past its deadline.")
@click.option("--status", type=click.Choice(["received", "acknowledged", "under-review",
                                             "upheld", "rejected", "closed"]),
              default=None, help="Only complaints in this status.")
@output_options
@now_option
def list_(config_path: str | None, overdue: bool, status: str | None, fmt: str,
          now_text: str | None) -> None:
    """The complaints, oldest first, with their deadlines (complaints.acknowledge_days
    and decide_days after receipt) and what is overdue; no personal data.

    \b
    Example:
        tdmguard complaints list --overdue
        tdmguard complaints list --format csv
    """
    from tdmguard.policy.complaints.report import LIST_COLUMNS, records

    cfg, register = open_register(config_path)
    rows = records(register, cfg, now=parse_now(now_text), only_overdue=overdue)
    if status:
        rows = [r for r in rows if r["status"] == status]
    emit(render(rows, fmt, columns=LIST_COLUMNS))


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@output_options(default="json")
@now_option
def export(config_path: str | None, fmt: str, now_text: str | None) -> None:
    """Every complaint with its personal data (until purged), for a data
    subject's request or an archive.

    \b
    Example:
        tdmguard complaints export --format csv > complaints.csv
    """
    from tdmguard.policy.complaints.report import EXPORT_COLUMNS, records

    cfg, register = open_register(config_path)
    rows = records(register, cfg, now=parse_now(now_text), personal=True)
    emit(render(rows, fmt, columns=EXPORT_COLUMNS))


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True, help="A Markdown section for the policy document, or JSON.")
@now_option
def report(config_path: str | None, fmt: str, now_text: str | None) -> None:
    """Figures for the policy document: complaints received, acknowledged and
    decided on time, outcomes by reason (no personal data).

    \b
    Example:
        tdmguard complaints report --format md
    """
    from tdmguard.policy.complaints.report import register_report, report_markdown

    cfg, register = open_register(config_path)
    rep = register_report(register, cfg, now=parse_now(now_text))
    emit(json.dumps(rep, indent=2) if fmt == "json" else report_markdown(rep))


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@functools.partial(ledgers_option, required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table",
              show_default=True, help="A plain-text or Markdown document, or one JSON object.")
@now_option
def show(reference: str, config_path: str | None, dbs: tuple[str, ...], fmt: str,
         now_text: str | None) -> None:
    """One complaint: its fields, deadlines, history (who, when, why), the
    reservations it added and, with --db, what the ledgers hold for each URL
    and domain it names (when fetched or refused, under which rights documents).

    \b
    Example:
        tdmguard complaints show TDMC-2026-000001 --db ledger.db --format md
    """
    from tdmguard.policy.complaints.register import RegisterError, deadlines, utc
    from tdmguard.policy.complaints.report import overdue

    cfg, register = open_register(config_path)
    try:
        rec = register.get(reference)
    except RegisterError as exc:
        raise fail(str(exc)) from None
    ack_by, decide_by = deadlines(rec["received_at"], cfg.acknowledge_days, cfg.decide_days)
    rec["acknowledge_by"], rec["decide_by"] = ack_by, decide_by
    rec["overdue"] = overdue(rec, ack_by, decide_by, utc(parse_now(now_text)))
    if dbs:
        urls = [u for w in rec["works"] for u in w["urls"]]
        domains = [d for w in rec["works"] for d in w["domains"]]
        rec["evidence"] = ledger_evidence(open_ledgers(dbs), urls, domains)
    if fmt == "json":
        emit(json.dumps(rec, indent=2, ensure_ascii=False))
    else:
        emit(show_document(rec, md=fmt == "md"))


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@ledgers_option
@click.option("--output", "output", required=True, type=click.Path(dir_okay=False),
              help="The evidence bundle (zip) to write.")
def bundle(reference: str, config_path: str | None, dbs: tuple[str, ...],
           output: str) -> None:
    """Write the evidence bundle for every URL and domain the complaint names:
    the decisions, the rights documents they cite and the chain stretch that
    holds them, checkable without tdmguard (tdmguard verify --bundle FILE).

    \b
    Example:
        tdmguard complaints bundle TDMC-2026-000001 --db ledger.db --output answer.zip
    """
    from tdmguard.crawler.evidence import evidence_for_url
    from tdmguard.policy.complaints.register import RegisterError

    _cfg, register = open_register(config_path)
    try:
        rec = register.get(reference)
    except RegisterError as exc:
        raise fail(str(exc)) from None
    urls = [u for w in rec["works"] for u in w["urls"]]
    domains = [d for w in rec["works"] for d in w["domains"]]
    chosen = []
    for name, db in open_ledgers(dbs):
        ids: set[int] = set()
        for url in urls:
            ids.update(r["id"] for r in evidence_for_url(db, url)["records"])
        for domain in domains:
            ids.update(domain_ids(db, domain))
        chosen.append((name, db, sorted(ids)))
    subject = {"complaint": rec["reference"], "urls": urls, "domains": domains}
    write_bundle(output, subject, chosen,
                 f"the ledgers hold nothing for the URLs and domains of {rec['reference']}",
                 of=f" for {rec['reference']}")


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.pass_context
def verify(ctx: click.Context, config_path: str | None) -> None:
    """Recompute the register's hash-chained history and check every complaint
    against it: exit 0 when intact, 1 naming the first edit, insertion or deletion.

    \b
    Example:
        tdmguard complaints verify
    """
    _cfg, register = open_register(config_path)
    ok, n, problem = register.verify()
    if ok:
        click.echo(f"OK: {n} history records, hash chain intact in "
                   f"{escape_text(register.path)}")
    else:
        click.echo(f"TAMPERED: {escape_text(problem)} ({n} history records verified) in "
                   f"{escape_text(register.path)}", err=True)
        ctx.exit(EXIT_PROBLEM)


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True,
              metavar="DAYS", help="Purge decided complaints received more than DAYS ago.")
@by_option
@now_option
def purge(config_path: str | None, days: int, by: str | None, now_text: str | None) -> None:
    """Remove the personal data of decided complaints received more than DAYS
    ago (names, emails, descriptions, evidence links, attachments and their
    outbox emails); the anonymised figures and the chain stay verifiable.

    \b
    Example:
        tdmguard complaints purge --older-than 730
    """
    from tdmguard.policy.complaints.mail import remove_from_outbox
    from tdmguard.policy.complaints.register import RegisterError

    cfg, register = open_register(config_path)
    try:
        done = register.purge(days, by=actor(by), now=parse_now(now_text))
    except RegisterError as exc:
        raise fail(str(exc)) from None
    mails = remove_from_outbox(cfg.outbox, done)
    click.echo(f"purged {len(done)} complaints ({mails} outbox emails deleted)", err=True)
    for ref in done:
        click.echo(ref)
