"""The rightsholder-reservations list: what an upheld complaint feeds back into crawling.

A UTF-8 JSON Lines file, appended to and never rewritten; one object a line::

    {"pattern": "https://example.com/path" | "example.com",
     "kind": "url-prefix" | "domain", "complaint": "TDMC-2026-000123",
     "added": "2026-12-06T10:00:00Z", "withdrawn": null | "<ISO 8601 UTC>"}

The latest line per (kind, pattern, complaint) wins; a domain covers its
subdomains. Crawls read it through the ``TDMGUARD_RESERVATIONS`` setting (protocol
``rightsholder-reservation``). Each line is one ``write`` under an exclusive
``flock``, so concurrent writers never interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any
from urllib.parse import urlsplit

from tdmguard.policy.complaints.intake import normalise_domain, url_problem

KINDS = ("url-prefix", "domain")


class ReservationError(ValueError):
    """A pattern is unusable, or the file cannot be written: one line."""


def normalise(kind: str, pattern: str) -> str:
    """*pattern* as the list stores it, or :class:`ReservationError`."""
    if kind == "domain":
        domain = normalise_domain(pattern)
        if domain is None:
            raise ReservationError(f"not a domain name: {pattern!r}")
        return domain
    if kind == "url-prefix":
        problem = url_problem(pattern.strip())
        if problem:
            raise ReservationError(f"the URL prefix {problem.removeprefix('has ')}")
        parts = urlsplit(pattern.strip())
        host = (parts.hostname or "").rstrip(".")
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        rest = pattern.strip().split(parts.netloc, 1)[1]
        return f"{parts.scheme.lower()}://{netloc}{rest or '/'}"
    raise ReservationError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")


def ensure(path: str) -> None:
    """Create the list empty when it does not exist yet: crawls fail closed on a
    missing list, so it exists from the moment the register is used."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise ReservationError(f"cannot create the reservations list {path}: "
                               f"{exc.strerror}") from None
    os.close(fd)


def append(path: str, entry: dict[str, Any]) -> None:
    """Append one line to the list at *path* (created mode 0644 when new)."""
    line = (json.dumps(entry, ensure_ascii=False, separators=(", ", ": ")) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ReservationError(f"cannot write the reservations list {path}: "
                               f"{exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    except OSError as exc:
        raise ReservationError(f"cannot write the reservations list {path}: "
                               f"{exc.strerror}") from None
    finally:
        os.close(fd)


def read(path: str) -> list[dict[str, Any]]:
    """Every line of the list (the latest per pattern wins); [] when there is no file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def in_force(path: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(kind, pattern, complaint) -> the entry, for each whose latest line is not withdrawn."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in read(path):
        latest[(entry["kind"], entry["pattern"], entry["complaint"])] = entry
    return {k: e for k, e in latest.items() if not e.get("withdrawn")}


def reserve(register: Any, reference: str, kind: str, pattern: str, *, path: str, by: str,
            why: str | None = None, now: Any = None) -> dict[str, Any]:
    """Add *pattern* to the list at *path* for an upheld complaint: the line is
    appended inside the transaction that records ``reservation-added``."""
    from tdmguard.policy.complaints.register import RegisterError, utc

    norm = normalise(kind, pattern)
    at = utc(now)
    entry = {"pattern": norm, "kind": kind, "complaint": "", "added": at, "withdrawn": None}

    def write(row: dict[str, Any]) -> None:
        if row["status"] not in ("upheld", "closed") or row["decided_at"] is None or \
                row["reason"] is not None:
            raise RegisterError(f"{row['reference']} is {row['status']}: only an upheld "
                                "complaint adds a reservation")
        if (kind, norm, row["reference"]) in in_force(path):
            raise RegisterError(f"{norm} ({kind}) is already reserved for "
                                f"{row['reference']} in {path}")
        entry["complaint"] = row["reference"]
        append(path, entry)

    register.record(reference, "reservation-added", by=by, why=why, now=now,
                    data={"kind": kind, "pattern": norm, "file": os.path.abspath(path)},
                    also=write)
    return entry


def withdraw(register: Any, reference: str, pattern: str, *, path: str, by: str,
             why: str | None = None, now: Any = None) -> dict[str, Any]:
    """Withdraw a reservation the complaint added: a ``withdrawn`` line, recorded."""
    from tdmguard.policy.complaints.register import RegisterError, reservations_of, utc

    at = utc(now)
    record = register.get(reference)
    forms = {pattern.strip()}
    for kind in KINDS:
        try:
            forms.add(normalise(kind, pattern))
        except ReservationError:
            pass
    mine = [r for r in reservations_of(record["history"]) if not r["withdrawn"]
            and r["pattern"] in forms]
    if not mine:
        raise RegisterError(f"{record['reference']} added no reservation {pattern!r} that is "
                            "still in force")
    found = mine[0]
    entry = {"pattern": found["pattern"], "kind": found["kind"],
             "complaint": record["reference"], "added": found["added"], "withdrawn": at}
    register.record(reference, "reservation-withdrawn", by=by, why=why, now=now,
                    data={"kind": found["kind"], "pattern": found["pattern"],
                          "file": os.path.abspath(path)},
                    also=lambda _row: append(path, entry))
    return entry
