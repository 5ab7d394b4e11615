"""``tdmguard complaints add``: intake of one complaint from options, or of
many from a JSON or CSV file (``--from-json``/``--from-csv``), each row
validated on its own and reported (exit 1 when some row was rejected).
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, EXIT_PROBLEM, fail
from tdmguard.crawler.complaints_common import (
    config_option,
    now_option,
    open_register,
    parse_now,
    send_acknowledgement,
)
from tdmguard.crawler.output import emit, output_options, render

#: Columns of the per-row report of a bulk intake.
INTAKE_COLUMNS = ("row", "accepted", "reference", "duplicate_of", "errors")

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


@click.command(context_settings=CONTEXT_SETTINGS)
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

    now = parse_now(now_text)
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
    cfg, register = open_register(config_path)
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
                send_acknowledgement(register, ref, cfg, "tdmguard", now)
        except RegisterError as exc:
            raise fail(str(exc)) from None
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
                    send_acknowledgement(register, ref, cfg, "tdmguard", now)
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
