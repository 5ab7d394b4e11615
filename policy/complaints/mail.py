"""The complainant's emails: the acknowledgement (as DSA Art. 16(4): confirm
receipt) and the decision (Art. 16(5): the outcome, its reasons and the
redress available), written with the standard library's :mod:`email`.

Each message is written to the outbox folder (``<REF>-<kind>.eml``, mode
0600: it holds personal data) and, when ``complaints.smtp_host`` is set, sent
over SMTP. Sending and its outcome are recorded in the complaint's history;
a failed send is recorded, not raised (the message stays in the outbox).
"""

from __future__ import annotations

import os
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from tdmguard.policy.complaints.config import ComplaintsConfig
from tdmguard.policy.complaints.intake import COMMITMENTS
from tdmguard.policy.complaints.register import (
    REASONS,
    Register,
    RegisterError,
    deadlines,
    parse_time,
    utc,
)

SHOWN_LOCATIONS = 20


def _base(record: dict[str, Any], config: ComplaintsConfig, subject: str,
          now: datetime | None) -> EmailMessage:
    if not record.get("complainant_email"):
        raise RegisterError(f"{record['reference']}: no email address (personal data purged)")
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = formataddr((record["complainant_name"] or "", record["complainant_email"]))
    msg["Subject"] = f"[{record['reference']}] {subject}"
    msg["Date"] = format_datetime(parse_time(utc(now)))
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-TDMGuard-Complaint"] = record["reference"]
    return msg


def _locations(record: dict[str, Any]) -> list[str]:
    found = [f"  - {u}" for w in record["works"] for u in w["urls"]]
    found += [f"  - {d} (domain)" for w in record["works"] for d in w["domains"]]
    more = len(found) - SHOWN_LOCATIONS
    return found[:SHOWN_LOCATIONS] + ([f"  - and {more} more"] if more > 0 else [])


def _contact(config: ComplaintsConfig) -> str:
    return config.contact_email + (f" ({config.contact_url})" if config.contact_url else "")


def acknowledgement_message(record: dict[str, Any], config: ComplaintsConfig,
                            now: datetime | None = None) -> EmailMessage:
    """The confirmation of receipt for a complaint (a :meth:`Register.get` record)."""
    _ack_by, decide_by = deadlines(record["received_at"], config.acknowledge_days,
                                   config.decide_days)
    lines = [
        f"Dear {record['complainant_name']},", "",
        f"we received your complaint on {record['received_at']} (UTC). Its reference is "
        f"{record['reference']}: please quote it in any reply.", "",
        f"It concerns {COMMITMENTS.get(record['commitment'], record['commitment'])}, "
        "at these locations:", *_locations(record), "",
    ]
    if record.get("duplicate_of"):
        lines += [f"It appears identical to complaint {record['duplicate_of']}, which we "
                  "have already answered.", ""]
    lines += [
        f"We will decide on it by {decide_by} and tell you the outcome and our reasons.", "",
        f"Point of contact: {_contact(config)}", "",
        "This message confirms receipt of your complaint (Code of Practice, Measure 1.5).",
    ]
    msg = _base(record, config, "We received your complaint", now)
    msg.set_content("\n".join(lines))
    msg["Content-Language"] = record.get("language") or "en"
    return msg


def decision_message(record: dict[str, Any], config: ComplaintsConfig,
                     now: datetime | None = None) -> EmailMessage:
    """The decision on a complaint (upheld or rejected), with its reasons and redress."""
    decided = [h for h in record["history"] if h["action"] in ("uphold", "reject")]
    if not decided:
        raise RegisterError(f"{record['reference']} has no decision yet")
    last = decided[-1]
    outcome = "upheld" if last["action"] == "uphold" else "rejected"
    lines = [f"Dear {record['complainant_name']},", "",
             f"we have decided on your complaint {record['reference']} of "
             f"{record['received_at']} (UTC): it is {outcome.upper()}.", ""]
    if last["reason"]:
        lines += [f"Reason ({last['reason']}): {REASONS[last['reason']]}."]
        if last["reason"] == "duplicate" and record.get("duplicate_of"):
            lines += [f"The earlier complaint is {record['duplicate_of']}."]
    if last["note"]:
        lines += ["", "Our reasons:", last["note"]]
    active = [r for r in record.get("reservations", []) if not r["withdrawn"]]
    if active:
        lines += ["", "From now on, our crawlers treat these as reserved and do not "
                  "request them:"]
        lines += [f"  - {r['pattern']} ({r['kind']})" for r in active]
    lines += ["", f"Decided on {last['at']} (UTC) by {last['actor']}, a person reviewing "
              "the complaint; no automated means took the decision.", "",
              "Redress:", config.redress, "", f"Point of contact: {_contact(config)}"]
    msg = _base(record, config, f"Decision on your complaint: {outcome}", now)
    msg.set_content("\n".join(lines))
    msg["Content-Language"] = record.get("language") or "en"
    return msg


def write_outbox(msg: EmailMessage, outbox: str, name: str) -> str:
    """Write *msg* as ``<outbox>/<name>.eml`` (``-2``, ``-3``... if taken), mode 0600."""
    os.makedirs(outbox, mode=0o700, exist_ok=True)
    data = bytes(msg)
    for n in range(1, 1000):
        path = os.path.join(outbox, f"{name}{'' if n == 1 else f'-{n}'}.eml")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    raise RegisterError(f"too many messages named {name} in {outbox}")


def send(msg: EmailMessage, config: ComplaintsConfig) -> str | None:
    """Send over SMTP when configured: None when sent (or not configured), else the error."""
    if not config.smtp_host:
        return None
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def deliver(msg: EmailMessage, config: ComplaintsConfig, name: str) -> dict[str, Any]:
    """Write to the outbox and send; what happened, as recorded in the history."""
    path = write_outbox(msg, config.outbox, name)
    error = send(msg, config)
    return {"message_id": msg["Message-ID"], "file": os.path.basename(path),
            "to": msg["To"], "smtp": config.smtp_host and ("sent" if error is None else "failed"),
            "error": error}


def acknowledgement(register: Register, reference: str, config: ComplaintsConfig, *,
                    by: str = "tdmguard", now: datetime | None = None) -> dict[str, Any]:
    """Acknowledge a received complaint: write (and send) the confirmation of
    receipt and record the ``acknowledged`` transition with it."""
    register.can(reference, "acknowledge")
    record = register.get(reference)
    msg = acknowledgement_message(record, config, now)
    sent = deliver(msg, config, f"{record['reference']}-acknowledgement")
    register.transition(record["reference"], "acknowledge", by=by, now=now,
                        why="receipt confirmed to the complainant", data={"email": sent})
    return sent


def decision(register: Register, reference: str, config: ComplaintsConfig, *,
             by: str = "tdmguard", now: datetime | None = None) -> dict[str, Any]:
    """Notify the complainant of the decision already recorded (a ``notified`` record)."""
    record = register.get(reference)
    msg = decision_message(record, config, now)
    sent = deliver(msg, config, f"{record['reference']}-decision")
    register.record(record["reference"], "notified", by=by, now=now,
                    why="decision sent to the complainant", data={"email": sent})
    return sent


def remove_from_outbox(outbox: str, references: list[str]) -> int:
    """Delete the outbox messages of *references* (purged personal data); how many."""
    if not references or not os.path.isdir(outbox):
        return 0
    wanted = tuple(f"{r}-" for r in references)
    n = 0
    for name in os.listdir(outbox):
        if name.startswith(wanted) and name.endswith(".eml"):
            os.remove(os.path.join(outbox, name))
            n += 1
    return n
