"""Listings and the register report, from the non-personal columns only (so a
purge changes none of the figures).

:func:`register_report` gives what the copyright-policy document can publish:
complaints received, acknowledged and decided on time, outcomes by reason;
:func:`report_markdown` renders it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import median
from typing import Any

from tdmguard.policy.complaints.config import ComplaintsConfig
from tdmguard.policy.complaints.register import Register, deadlines, parse_time, utc

#: Columns of ``complaints list`` (no personal data).
LIST_COLUMNS = ("reference", "received_at", "channel", "capacity", "commitment", "status",
                "reason", "duplicate_of", "urls", "domains", "acknowledge_by", "decide_by",
                "overdue")
#: Columns of ``complaints export`` (personal data included until purged).
EXPORT_COLUMNS = ("reference", "received_at", "channel", "complainant_name",
                  "complainant_organisation", "complainant_email", "capacity",
                  "rightsholder", "commitment", "description", "evidence_links", "language",
                  "status", "reason", "duplicate_of", "acknowledged_at", "decided_at",
                  "closed_at", "purged_at", "urls", "domains", "acknowledge_by", "decide_by",
                  "overdue")


def overdue(row: dict[str, Any], ack_by: str, decide_by: str, now: str) -> str | None:
    """What is late for a complaint at *now*: ``acknowledgement``, ``decision`` or None."""
    if row["decided_at"] is None and now > decide_by:
        return "decision"
    if row["acknowledged_at"] is None and row["decided_at"] is None and now > ack_by:
        return "acknowledgement"
    return None


def records(register: Register, config: ComplaintsConfig, *, now: datetime | None = None,
            only_overdue: bool = False, personal: bool = False) -> list[dict[str, Any]]:
    """Every complaint, oldest first, with its deadlines and what is overdue at *now*."""
    at = utc(now)
    out = []
    for row in register.rows():
        ack_by, decide_by = deadlines(row["received_at"], config.acknowledge_days,
                                      config.decide_days)
        late = overdue(row, ack_by, decide_by, at)
        if only_overdue and late is None:
            continue
        row = row | {"acknowledge_by": ack_by, "decide_by": decide_by, "overdue": late}
        cols = EXPORT_COLUMNS if personal else LIST_COLUMNS
        if personal:
            import json

            row["evidence_links"] = json.loads(row["evidence_links"] or "[]")
        out.append({c: row.get(c) for c in cols})
    return out


def register_report(register: Register, config: ComplaintsConfig, *,
                    now: datetime | None = None) -> dict[str, Any]:
    """Figures for the policy document: received, acknowledged and decided (on
    time or late), open and overdue, outcomes by reason, by commitment,
    capacity and channel, and reservations added and withdrawn."""
    at = utc(now)
    rows = list(register.rows())
    ack = Counter[str]()
    dec = Counter[str]()
    days_to_decide = []
    outcomes = Counter[str]()
    for row in rows:
        ack_by, decide_by = deadlines(row["received_at"], config.acknowledge_days,
                                      config.decide_days)
        if row["acknowledged_at"]:
            ack["on_time" if row["acknowledged_at"] <= ack_by else "late"] += 1
        if row["decided_at"]:
            dec["on_time" if row["decided_at"] <= decide_by else "late"] += 1
            days_to_decide.append((parse_time(row["decided_at"])
                                   - parse_time(row["received_at"])).total_seconds() / 86400)
            outcomes["upheld" if row["reason"] is None else f"rejected/{row['reason']}"] += 1
        late = overdue(row, ack_by, decide_by, at)
        if late:
            (ack if late == "acknowledgement" else dec)["overdue"] += 1
    events = register.action_counts()
    received = [r["received_at"] for r in rows]
    return {
        "as_of": at,
        "period": {"from": min(received) if received else None,
                   "to": max(received) if received else None},
        "acknowledge_days": config.acknowledge_days, "decide_days": config.decide_days,
        "received": len(rows),
        "acknowledged": {"on_time": ack["on_time"], "late": ack["late"],
                         "overdue": ack["overdue"]},
        "decided": {"on_time": dec["on_time"], "late": dec["late"], "overdue": dec["overdue"],
                    "median_days": round(median(days_to_decide), 1) if days_to_decide
                    else None},
        "open": sum(1 for r in rows if r["decided_at"] is None),
        "outcomes": dict(sorted(outcomes.items())),
        "by_status": dict(sorted(Counter(r["status"] for r in rows).items())),
        "by_commitment": dict(sorted(Counter(r["commitment"] for r in rows).items())),
        "by_capacity": dict(sorted(Counter(r["capacity"] for r in rows).items())),
        "by_channel": dict(sorted(Counter(r["channel"] for r in rows).items())),
        "duplicates_flagged": sum(1 for r in rows if r["duplicate_of"]),
        "reservations": {"added": events.get("reservation-added", 0),
                         "withdrawn": events.get("reservation-withdrawn", 0)},
        "purged": sum(1 for r in rows if r["purged_at"]),
    }


def report_markdown(rep: dict[str, Any]) -> str:
    """The register report as a Markdown section (no personal data in it)."""
    a, d = rep["acknowledged"], rep["decided"]
    period = (f"{rep['period']['from'][:10]} to {rep['period']['to'][:10]}"
              if rep["received"] else "none yet")
    out = [
        "## Complaints register", "",
        f"As of {rep['as_of']}; complaints received {period}.", "",
        "| Figure | Count |", "|---|---|",
        f"| Received | {rep['received']} |",
        f"| Acknowledged within {rep['acknowledge_days']} days | {a['on_time']} |",
        f"| Acknowledged late | {a['late']} |",
        f"| Decided within {rep['decide_days']} days | {d['on_time']} |",
        f"| Decided late | {d['late']} |",
        f"| Open | {rep['open']} |",
        f"| Overdue now (acknowledgement / decision) | {a['overdue']} / {d['overdue']} |",
        f"| Flagged as identical to an answered complaint | {rep['duplicates_flagged']} |",
        f"| Reservations added / withdrawn after complaints | "
        f"{rep['reservations']['added']} / {rep['reservations']['withdrawn']} |",
    ]
    if d["median_days"] is not None:
        out.append(f"| Median days to decide | {d['median_days']} |")
    out += ["", "Outcomes:", ""]
    out += [f"- {k}: {v}" for k, v in rep["outcomes"].items()] or ["- none yet"]
    out += ["", "By commitment concerned:", ""]
    out += [f"- Measure {k}: {v}" if k != "other" else f"- other: {v}"
            for k, v in rep["by_commitment"].items()] or ["- none yet"]
    return "\n".join(out)
