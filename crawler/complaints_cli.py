"""``tdmguard complaints``: the complaints register (Code of Practice, Measure 1.5).

Intake (``add``, bulk ``--from-json``/``--from-csv``), the lifecycle
(``acknowledge``, ``review``, ``uphold``, ``reject``, ``close``), reservations
fed back into crawling (``uphold --reserve``, ``reserve``,
``withdraw-reservation``), evidence from the ledgers (``show --db``,
``bundle``), reporting (``list``, ``export``, ``report``) and data protection
(``purge``, ``verify``). The register itself is
:mod:`tdmguard.policy.complaints`; this module adds what needs the ledgers
(:mod:`tdmguard.crawler.evidence`, :mod:`tdmguard.crawler.bundle`) and the CLI.

Every command reads the ``[complaints]`` table of ``--config`` (default
``./tdmguard.toml``). Exit status: 0 done; 1 ``verify`` found an edit, or a
bulk intake rejected some rows; 2 bad input or an impossible transition.
"""

from __future__ import annotations

import csv
import functools
import getpass
import io
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    fail,
    ledgers_option,
    open_ledgers,
)
from tdmguard.crawler.output import emit, escape_text, output_options, render

#: Columns of the per-row report of a bulk intake.
INTAKE_COLUMNS = ("row", "accepted", "reference", "duplicate_of", "errors")


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


def _now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--now {text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _by(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"


def _open(config_path: str | None) -> tuple[Any, Any]:
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


def _errors(exc: Exception) -> click.ClickException:
    return fail(str(exc))


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


# -- intake ---------------------------------------------------------------------------

def _read_bulk(path: str, kind: str) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    # Invalid UTF-8 fails only the fields that hold it (as lone surrogates).
    text = raw.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise fail(f"{path} is not JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("complaints"), list):
            data = data["complaints"]
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise fail(f"{path}: give a JSON array of complaints (or one object)")
        return data
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise fail(f"{path} is empty: the first line names the columns")
    rows = []
    for row in reader:
        extra = row.pop(None, None)
        clean: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
        if extra:
            clean["_extra_cells"] = extra
        rows.append(clean)
    return rows


@complaints.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--name", help="Complainant's name.")
@click.option("--organisation", help="Complainant's organisation.")
@click.option("--email", help="Complainant's email address.")
@click.option("--capacity", help="rightsholder, authorised-representative or cmo.")
@click.option("--rightsholder", help="The rightsholder represented (default: the "
              "complainant).")
@click.option("--work", "work_description", help="The work concerned.")
@click.option("--url", "urls", multiple=True, help="An exact URL concerned (repeatable).")
@click.option("--domain", "domains", multiple=True, help="A domain concerned (repeatable).")
@click.option("--commitment", help="Commitment allegedly breached: 1.2 (lawful access), "
              "1.3 (reservations), 1.4 (outputs) or other.")
@click.option("--description", help="What happened and why it breaches the commitment.")
@click.option("--evidence-link", "evidence_links", multiple=True, help="A link to supporting "
              "evidence (repeatable).")
@click.option("--attach", "attach", multiple=True, type=click.Path(dir_okay=False),
              help="A file of supporting evidence (repeatable; stored by sha256).")
@click.option("--good-faith", is_flag=True, help="The complainant states in good faith that "
              "the information is accurate and complete.")
@click.option("--language", default=None, help="Language of the complaint (default en).")
@click.option("--channel", type=click.Choice(["cli", "email", "file", "web"]), default=None,
              help="How it arrived (default cli; file for --from-json/--from-csv).")
@click.option("--from-json", "from_json", type=click.Path(dir_okay=False), default=None,
              help="Bulk: a JSON array of complaints, each validated on its own.")
@click.option("--from-csv", "from_csv", type=click.Path(dir_okay=False), default=None,
              help="Bulk: a CSV file with a header row of field names, one complaint a row.")
@click.option("--acknowledge", is_flag=True, help="Also acknowledge each complaint now "
              "(write and send the confirmation of receipt).")
@output_options(help="Bulk intake: the per-row report.")
@now_option
def add(config_path: str | None, name: str | None, organisation: str | None,
        email: str | None, capacity: str | None, rightsholder: str | None,
        work_description: str | None, urls: tuple[str, ...], domains: tuple[str, ...],
        commitment: str | None, description: str | None, evidence_links: tuple[str, ...],
        attach: tuple[str, ...], good_faith: bool, language: str | None, channel: str | None,
        from_json: str | None, from_csv: str | None, acknowledge: bool, fmt: str,
        now_text: str | None) -> None:
    """Add a complaint from options (its reference on stdout), or many from a
    file: each row is validated on its own, the valid ones are stored, and a
    report says per row what happened (exit 1 if any row was rejected).

    Field names for files: complainant_name, complainant_organisation,
    complainant_email, capacity, rightsholder, work_description, urls,
    domains (several separated by spaces), commitment, description,
    evidence_links, good_faith (yes), language; JSON may also nest
    complainant {name, organisation, email} and works [{description, urls,
    domains}], and attach files as {filename, content_base64}.

    \b
    Example:
        tdmguard complaints add --name "A. Author" --email a@example.org \\
            --capacity rightsholder --work "My novel" --url https://site.example/copy \\
            --commitment 1.3 --description "Copied despite robots.txt" --good-faith
        tdmguard complaints add --from-csv cmo-batch.csv --format csv
    """
    from tdmguard.policy.complaints.intake import validate
    from tdmguard.policy.complaints.register import RegisterError

    now = _now(now_text)
    single: dict[str, Any] = {"complainant_name": name, "complainant_organisation": organisation,
              "complainant_email": email, "capacity": capacity, "rightsholder": rightsholder,
              "work_description": work_description, "urls": list(urls),
              "domains": list(domains), "commitment": commitment, "description": description,
              "evidence_links": list(evidence_links), "good_faith": good_faith,
              "language": language}
    if from_json and from_csv:
        raise fail("give --from-json or --from-csv, not both")
    bulk = from_json or from_csv
    if bulk and any(v for v in single.values()) or (bulk and attach):
        raise fail("give the complaint as options or as a file (--from-json/--from-csv), "
                   "not both")
    cfg, register = _open(config_path)
    if not bulk:
        files = []
        for path in attach:
            try:
                with open(path, "rb") as fh:
                    files.append({"filename": os.path.basename(path), "content": fh.read()})
            except OSError as exc:
                raise fail(f"cannot read {path}: {exc.strerror}") from None
        single["attachments"] = files
        sub, errors = validate(single)
        if sub is None:
            raise fail("; ".join(f"{_option_name(k)}: {v}" for k, v in errors.items()))
        try:
            ref = register.submit(sub, channel=channel or "cli", now=now)
            dup = register.get(ref)["duplicate_of"]
            if acknowledge:
                _acknowledge(register, ref, cfg, "tdmguard", now)
        except RegisterError as exc:
            raise _errors(exc) from None
        click.echo(ref)
        if dup:
            click.echo(f"{ref} is identical to {dup}, which was already answered", err=True)
        return
    rows = _read_bulk(bulk, "json" if from_json else "csv")
    report = []
    for n, data in enumerate(rows, 1):
        if isinstance(data, dict) and "_extra_cells" in data:
            data.pop("_extra_cells")
            sub, errors = None, {"_": "this row has more cells than the header"}
        else:
            sub, errors = validate(data) if isinstance(data, dict) else \
                (None, {"_": "not an object of fields"})
        line: dict[str, Any] = {"row": n, "accepted": sub is not None, "reference": None,
                                "duplicate_of": None, "errors": errors or None}
        if sub is not None:
            try:
                ref = register.submit(sub, channel=channel or "file", now=now)
                line["reference"] = ref
                line["duplicate_of"] = register.get(ref)["duplicate_of"]
                if acknowledge:
                    _acknowledge(register, ref, cfg, "tdmguard", now)
            except RegisterError as exc:
                line.update(accepted=False, errors={"_": str(exc)})
        report.append(line)
    emit(render(report, fmt, columns=INTAKE_COLUMNS, table=_intake_table))
    rejected = sum(1 for r in report if not r["accepted"])
    click.echo(f"{len(report) - rejected} accepted, {rejected} rejected of {len(report)} "
               f"rows in {bulk}", err=True)
    if rejected:
        click.get_current_context().exit(EXIT_PROBLEM)


def _option_name(field: str) -> str:
    names = {"complainant_name": "--name", "complainant_email": "--email",
             "complainant_organisation": "--organisation", "work_description": "--work",
             "urls": "--url", "domains": "--domain", "evidence_links": "--evidence-link",
             "good_faith": "--good-faith", "attachments": "--attach"}
    return names.get(field, f"--{field.replace('_', '-')}" if "[" not in field else field)


def _intake_table(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        if r["accepted"]:
            dup = f" (identical to {r['duplicate_of']}, already answered)" \
                if r["duplicate_of"] else ""
            out.append(f"row {r['row']}: accepted as {r['reference']}{dup}")
        else:
            problems = "; ".join(f"{k}: {v}" for k, v in (r["errors"] or {}).items())
            out.append(f"row {r['row']}: REJECTED: {problems}")
    return "\n".join(out)


# -- lifecycle ------------------------------------------------------------------------

def _acknowledge(register: Any, ref: str, cfg: Any, by: str, now: datetime | None) -> None:
    from tdmguard.policy.complaints.mail import acknowledgement

    sent = acknowledgement(register, ref, cfg, by=by, now=now)
    _report_sent(ref, "acknowledgement", sent)


def _report_sent(ref: str, what: str, sent: dict[str, Any]) -> None:
    where = f"outbox {sent['file']}"
    if sent["smtp"] == "sent":
        where += ", sent by SMTP"
    elif sent["smtp"] == "failed":
        where += f"; SMTP FAILED: {sent['error']}"
    click.echo(f"{ref}: {what} written ({escape_text(where)})", err=True)


@complaints.command(context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    try:
        _acknowledge(register, reference, cfg, _by(by), _now(now_text))
    except RegisterError as exc:
        raise _errors(exc) from None


@complaints.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@by_option
@why_option
@now_option
def review(reference: str, config_path: str | None, by: str | None, why: str | None,
           now_text: str | None) -> None:
    """Start reviewing a complaint (status under-review).

    \b
    Example:
        tdmguard complaints review TDMC-2026-000001 --by alice
    """
    _move(reference, config_path, "review", by, why, None, now_text)


def _move(reference: str, config_path: str | None, action: str, by: str | None,
          why: str | None, reason: str | None, now_text: str | None) -> Any:
    from tdmguard.policy.complaints.register import RegisterError

    cfg, register = _open(config_path)
    try:
        status = register.transition(reference, action, by=_by(by), why=why, reason=reason,
                                     now=_now(now_text))
    except RegisterError as exc:
        raise _errors(exc) from None
    click.echo(f"{reference.upper()}: {status}", err=True)
    return cfg, register


def _notify(register: Any, reference: str, cfg: Any, by: str | None,
            now_text: str | None) -> None:
    from tdmguard.policy.complaints.mail import decision
    from tdmguard.policy.complaints.register import RegisterError

    try:
        sent = decision(register, reference, cfg, by=_by(by), now=_now(now_text))
    except RegisterError as exc:
        raise _errors(exc) from None
    _report_sent(reference.upper(), "decision", sent)


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


@complaints.command(context_settings=CONTEXT_SETTINGS)
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
    from tdmguard.policy.complaints.register import RegisterError
    from tdmguard.policy.complaints.reservations import ReservationError
    from tdmguard.policy.complaints.reservations import reserve as add_reservation

    wanted = _reservation_args(reserve)
    cfg, register = _move(reference, config_path, "uphold", by, why, None, now_text)
    for kind, pattern in wanted:
        try:
            entry = add_reservation(register, reference, kind, pattern, path=cfg.reservations,
                                    by=_by(by), why=why, now=_now(now_text))
        except (RegisterError, ReservationError) as exc:
            raise _errors(exc) from None
        click.echo(f"reserved {escape_text(entry['pattern'])} ({kind}) in "
                   f"{escape_text(cfg.reservations)}", err=True)
    if not no_email:
        _notify(register, reference, cfg, by, now_text)


@complaints.command(context_settings=CONTEXT_SETTINGS)
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


@complaints.command(context_settings=CONTEXT_SETTINGS)
@click.argument("reference")
@config_option
@by_option
@why_option
@now_option
def close(reference: str, config_path: str | None, by: str | None, why: str | None,
          now_text: str | None) -> None:
    """Close a decided complaint.

    \b
    Example:
        tdmguard complaints close TDMC-2026-000001 --by alice
    """
    _move(reference, config_path, "close", by, why, None, now_text)


@complaints.command(context_settings=CONTEXT_SETTINGS)
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
    from tdmguard.policy.complaints.register import RegisterError
    from tdmguard.policy.complaints.reservations import ReservationError
    from tdmguard.policy.complaints.reservations import reserve as add_reservation

    cfg, register = _open(config_path)
    try:
        entry = add_reservation(register, reference, kind, pattern, path=cfg.reservations,
                                by=_by(by), why=why, now=_now(now_text))
    except (RegisterError, ReservationError) as exc:
        raise _errors(exc) from None
    click.echo(f"reserved {escape_text(entry['pattern'])} ({kind}) in "
               f"{escape_text(cfg.reservations)}", err=True)


@complaints.command("withdraw-reservation", context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    try:
        entry = withdraw(register, reference, pattern, path=cfg.reservations, by=_by(by),
                         why=why, now=_now(now_text))
    except (RegisterError, ReservationError) as exc:
        raise _errors(exc) from None
    click.echo(f"withdrew {escape_text(entry['pattern'])} ({entry['kind']}) in "
               f"{escape_text(cfg.reservations)}", err=True)


# -- reading --------------------------------------------------------------------------

@complaints.command("list", context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    rows = records(register, cfg, now=_now(now_text), only_overdue=overdue)
    if status:
        rows = [r for r in rows if r["status"] == status]
    emit(render(rows, fmt, columns=LIST_COLUMNS))


@complaints.command(context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    rows = records(register, cfg, now=_now(now_text), personal=True)
    emit(render(rows, fmt, columns=EXPORT_COLUMNS))


@complaints.command(context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    rep = register_report(register, cfg, now=_now(now_text))
    emit(json.dumps(rep, indent=2) if fmt == "json" else report_markdown(rep))


def _domain_ids(db: Any, domain: str) -> list[int]:
    """Decisions whose host is *domain* or under it (or whose registrable domain it is)."""
    d = domain.lower().rstrip(".")
    return [i for (i,) in db.execute(
        "SELECT id FROM decisions WHERE domain = ? OR origin LIKE ? OR origin LIKE ? "
        "OR origin LIKE ? OR origin LIKE ? ORDER BY id",
        [d, f"%://{d}", f"%://{d}:%", f"%.{d}", f"%.{d}:%"])]


def _decision_summary(rec: dict[str, Any]) -> dict[str, Any]:
    return {"ledger": rec.get("ledger"), "decision": rec["id"], "url": rec["url"],
            "at": rec["at"], "allowed": rec["allowed"], "stage": rec["stage"],
            "status": rec["status"],
            "reasons": [{k: r.get(k) for k in ("protocol", "verdict", "rule", "detail")}
                        for r in rec["reasons"]],
            "rights_documents": [{k: s.get(k) for k in ("kind", "url", "fetched_at",
                                                        "status", "sha256")}
                                 for s in rec["snapshots"]]}


def ledger_evidence(ledgers: list[tuple[str, Any]], urls: list[str],
                    domains: list[str]) -> dict[str, Any]:
    """What the ledgers hold for each URL (every decision, with the rights
    documents in force) and each domain (counts, first and last decision)."""
    from tdmguard.crawler.evidence import evidence_across

    out: dict[str, Any] = {"ledgers": [name for name, _ in ledgers], "urls": [],
                           "domains": []}
    for url in urls:
        ev = evidence_across(ledgers, url)
        out["urls"].append({"url": url, "decisions": [_decision_summary(r)
                                                      for r in ev["records"]]})
    for domain in domains:
        counts: dict[str, int] = {}
        total, first, last, refused_urls = 0, None, None, set()
        for _name, db in ledgers:
            ids = _domain_ids(db, domain)
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                for row in db.query(f"SELECT url, at, allowed, stage FROM decisions WHERE id "
                                    f"IN ({', '.join('?' * len(part))})", part):
                    total += 1
                    key = "allowed" if row["allowed"] else row["stage"]
                    counts[key] = counts.get(key, 0) + 1
                    first = min(first or row["at"], row["at"])
                    last = max(last or row["at"], row["at"])
                    if not row["allowed"]:
                        refused_urls.add(row["url"])
        out["domains"].append({"domain": domain, "decisions": total, "by_verdict": counts,
                               "first": first, "last": last,
                               "refused_urls": len(refused_urls)})
    return out


@complaints.command(context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    try:
        rec = register.get(reference)
    except RegisterError as exc:
        raise _errors(exc) from None
    ack_by, decide_by = deadlines(rec["received_at"], cfg.acknowledge_days, cfg.decide_days)
    rec["acknowledge_by"], rec["decide_by"] = ack_by, decide_by
    rec["overdue"] = overdue(rec, ack_by, decide_by, utc(_now(now_text)))
    if dbs:
        urls = [u for w in rec["works"] for u in w["urls"]]
        domains = [d for w in rec["works"] for d in w["domains"]]
        rec["evidence"] = ledger_evidence(open_ledgers(dbs), urls, domains)
    if fmt == "json":
        emit(json.dumps(rec, indent=2, ensure_ascii=False))
    else:
        emit(show_document(rec, md=fmt == "md"))


def show_document(rec: dict[str, Any], md: bool) -> str:
    """A complaint as plain text or Markdown; what complainants wrote is escaped."""
    from tdmguard.crawler.output import escape_md

    e = escape_md if md else escape_text
    h1, h2, item = ("# ", "\n## ", "- ") if md else ("", "\n", "  ")
    out = [f"{h1}Complaint {e(rec['reference'])}: {e(rec['status'])}"
           + (f" ({e(rec['reason'])})" if rec["reason"] else "")]
    fields = [("Received", rec["received_at"]), ("Channel", rec["channel"]),
              ("Complainant", ", ".join(x for x in (rec["complainant_name"],
                                                     rec["complainant_organisation"],
                                                     rec["complainant_email"]) if x)
               or "(purged)"),
              ("Capacity", rec["capacity"]), ("Rightsholder", rec["rightsholder"] or
                                              "(purged)"),
              ("Commitment", rec["commitment"]), ("Language", rec["language"]),
              ("Acknowledge by", rec["acknowledge_by"]), ("Decide by", rec["decide_by"])]
    if rec["overdue"]:
        fields.append(("OVERDUE", rec["overdue"]))
    if rec["duplicate_of"]:
        fields.append(("Identical to the answered complaint", rec["duplicate_of"]))
    out += [f"{item}{k}: {e(v)}" for k, v in fields]
    out.append(f"{h2}Description")
    out += [f"{item}{e(line)}" for line in (rec["description"] or "(purged)").split("\n")]
    out.append(f"{h2}Works concerned")
    for w in rec["works"]:
        out.append(f"{item}{e(w['description'] or '(purged)')}")
        out += [f"{item}  URL {e(u)}" for u in w["urls"]]
        out += [f"{item}  domain {e(d)}" for d in w["domains"]]
    if rec["evidence_links"] or rec["attachments"]:
        out.append(f"{h2}Supporting evidence")
        out += [f"{item}{e(link)}" for link in rec["evidence_links"]]
        out += [f"{item}{e(a['filename'])} ({a['size']} bytes, sha256 {a['sha256']})"
                for a in rec["attachments"]]
    out.append(f"{h2}History")
    for h in rec["history"]:
        extra = "".join(f" [{e(x)}]" for x in (h["reason"],) if x)
        note = f": {e(h['note'])}" if h["note"] else ""
        out.append(f"{item}{e(h['at'])} {e(h['action'])}{extra} by {e(h['actor'])}{note}")
    if rec["reservations"]:
        out.append(f"{h2}Reservations added")
        for r in rec["reservations"]:
            state = f"withdrawn {r['withdrawn']}" if r["withdrawn"] else "in force"
            out.append(f"{item}{e(r['pattern'])} ({e(r['kind'])}), added {e(r['added'])}, "
                       f"{e(state)}")
    ev = rec.get("evidence")
    if ev is not None:
        out.append(f"{h2}What the ledgers hold ({e(', '.join(ev['ledgers']))})")
        for u in ev["urls"]:
            out.append(f"{item}{e(u['url'])}: " + (f"{len(u['decisions'])} decisions"
                                                   if u["decisions"] else "never requested "
                                                   "or decided"))
            for d in u["decisions"]:
                verdict = "fetched" if d["allowed"] else f"REFUSED ({d['stage']})"
                out.append(f"{item}  {e(d['at'])} {e(verdict)} status {e(d['status'])} "
                           f"(decision #{d['decision']} in {e(d['ledger'])})")
                out += [f"{item}    {e(r['protocol'])} {e(r['verdict'])}: {e(r['detail'])}"
                        for r in d["reasons"]]
                out += [f"{item}    under {e(s['kind'])} {e(s['url'])} fetched "
                        f"{e(s['fetched_at'])} sha256 {e(s['sha256'])}"
                        for s in d["rights_documents"]]
        for d in ev["domains"]:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(d["by_verdict"].items()))
            out.append(f"{item}{e(d['domain'])} (domain): {d['decisions']} decisions"
                       + (f" from {e(d['first'])} to {e(d['last'])}: {e(counts)}"
                          if d["decisions"] else ""))
    return "\n".join(out)


@complaints.command(context_settings=CONTEXT_SETTINGS)
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
    from tdmguard.crawler.bundle import BundleError, write_bundle
    from tdmguard.crawler.evidence import evidence_for_url
    from tdmguard.policy.complaints.register import RegisterError

    _cfg, register = _open(config_path)
    try:
        rec = register.get(reference)
    except RegisterError as exc:
        raise _errors(exc) from None
    urls = [u for w in rec["works"] for u in w["urls"]]
    domains = [d for w in rec["works"] for d in w["domains"]]
    chosen = []
    for name, db in open_ledgers(dbs):
        ids: set[int] = set()
        for url in urls:
            ids.update(r["id"] for r in evidence_for_url(db, url)["records"])
        for domain in domains:
            ids.update(_domain_ids(db, domain))
        chosen.append((name, db, sorted(ids)))
    if not any(ids for _n, _d, ids in chosen):
        raise fail(f"no decision to bundle: the ledgers hold nothing for the URLs and "
                   f"domains of {rec['reference']}")
    subject = {"complaint": rec["reference"], "urls": urls, "domains": domains}
    try:
        manifest = write_bundle(output, subject, chosen)
    except BundleError as exc:
        raise fail(str(exc)) from None
    n = sum(len(led["decisions"]) for led in manifest["ledgers"])
    click.echo(f"Wrote {output}: {n} decisions for {rec['reference']}; check it with: "
               f"tdmguard verify --bundle {output}", err=True)


@complaints.command(context_settings=CONTEXT_SETTINGS)
@config_option
@click.pass_context
def verify(ctx: click.Context, config_path: str | None) -> None:
    """Recompute the register's hash-chained history and check every complaint
    against it: exit 0 when intact, 1 naming the first edit, insertion or deletion.

    \b
    Example:
        tdmguard complaints verify
    """
    _cfg, register = _open(config_path)
    ok, n, problem = register.verify()
    if ok:
        click.echo(f"OK: {n} history records, hash chain intact in "
                   f"{escape_text(register.path)}")
    else:
        click.echo(f"TAMPERED: {escape_text(problem)} ({n} history records verified) in "
                   f"{escape_text(register.path)}", err=True)
        ctx.exit(EXIT_PROBLEM)


@complaints.command(context_settings=CONTEXT_SETTINGS)
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

    cfg, register = _open(config_path)
    try:
        done = register.purge(days, by=_by(by), now=_now(now_text))
    except RegisterError as exc:
        raise _errors(exc) from None
    mails = remove_from_outbox(cfg.outbox, done)
    click.echo(f"purged {len(done)} complaints ({mails} outbox emails deleted)", err=True)
    for ref in done:
        click.echo(ref)
