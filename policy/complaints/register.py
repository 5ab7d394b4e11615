"""The complaints register: its own SQLite file (mode 0600: it holds personal data).

Every change is one ``BEGIN IMMEDIATE`` transaction that appends to the
hash-chained ``history`` (schema: :mod:`tdmguard.policy.complaints.schema`),
so many threads and processes can submit at once (each waits up to
``busy_timeout`` for the write lock) and a complaint is stored whole or not at
all. The chain recipe, like the ledger's::

    hash = sha256(utf8(json([prev_hash, seq, [reference, at, actor, action,
                                              status, reason, note, data]])))

(compact JSON, keys sorted, no ASCII escaping). The ``submitted`` record's
``data`` holds the complaint's non-personal fields and ``personal``, a salted
sha256 of its personal fields, so ``verify`` detects an edit of either while
``purge`` can empty the personal fields (and drop the salt) without breaking
the chain: the purge is itself a chained record.

Lifecycle: received -> acknowledged -> under-review -> upheld | rejected ->
closed (a manifestly unfounded, imprecise, duplicate or out-of-scope complaint
may be rejected before review). Reservation records (added, withdrawn) and
notifications change no status.

Why it is long: the register is one hash-chained file with one write
discipline: submit, each lifecycle transition, reservation and notification
records and purge all append through the same ``BEGIN IMMEDIATE`` chain-head
transaction, and :meth:`Register.verify` re-derives from those records every
column the writers set (statuses, dates, the public fields, the personal-data
digest). The writers and their checker are kept side by side so they cannot
drift apart.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from tdmguard.middlewares import sqlitefile
from tdmguard.middlewares.migrate import apply_pending
from tdmguard.policy.complaints.intake import CHANNELS, Submission
from tdmguard.policy.complaints.schema import GENESIS, MIGRATIONS

REGISTER_TABLES = frozenset({"complaints", "history"})

#: Reason codes for a rejection.
REASONS = {
    "manifestly-unfounded": "the complaint is manifestly unfounded",
    "insufficiently-precise": "the complaint is not sufficiently precise or substantiated",
    "duplicate": "we have already answered an identical complaint from you",
    "outside-chapter": "the complaint does not concern a commitment of the copyright chapter",
}

#: action -> (the statuses it may follow, the status it leads to).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("received",), "acknowledged"),
    "review": (("received", "acknowledged"), "under-review"),
    "uphold": (("under-review",), "upheld"),
    "reject": (("received", "acknowledged", "under-review"), "rejected"),
    "close": (("upheld", "rejected"), "closed"),
}
STATUSES = ("received", "acknowledged", "under-review", "upheld", "rejected", "closed")
DECIDED = ("upheld", "rejected", "closed")
#: Records that change no status.
EVENTS = ("reservation-added", "reservation-withdrawn", "notified", "purged")
PERSONAL = ("complainant_name", "complainant_organisation", "complainant_email",
            "rightsholder", "description", "evidence_links", "salt", "fingerprint")

encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class RegisterError(Exception):
    """The register is unusable, or a request on it is not possible: one line."""


def utc(now: datetime | None = None) -> str:
    """*now* (default: the current time) as ISO 8601 UTC to the second, ``...Z``."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def deadlines(received_at: str, acknowledge_days: int, decide_days: int) -> tuple[str, str]:
    """When the complaint must be acknowledged and decided."""
    t = parse_time(received_at)
    return utc(t + timedelta(days=acknowledge_days)), utc(t + timedelta(days=decide_days))


def record_hash(prev: str, seq: int, values: list[Any]) -> str:
    """The reference definition of a history record's hash (module docstring)."""
    return hashlib.sha256(encode([prev, seq, values]).encode("utf-8")).hexdigest()


HASHED = ("reference", "at", "actor", "action", "status", "reason", "note", "data")


def fingerprint(sub: Submission) -> str:
    """What makes two complaints identical: the same complainant and
    rightsholder, commitment, locations and (white space and case aside) text."""
    text = " ".join(sub.description.lower().split())
    return hashlib.sha256(encode([
        sub.complainant_email.lower(), sub.rightsholder.lower(), sub.commitment,
        sorted(sub.urls()), sorted(sub.domains()), text]).encode("utf-8")).hexdigest()


def _personal_digest(row: dict[str, Any], works: list[list[Any]],
                     files: list[list[Any]]) -> str:
    values = [row[c] for c in PERSONAL if c != "fingerprint"] + [row["fingerprint"]]
    return hashlib.sha256(encode([values, works, files]).encode("utf-8")).hexdigest()


def _public(row: dict[str, Any], locations: list[list[Any]]) -> dict[str, Any]:
    return {k: row[k] for k in ("reference", "received_at", "channel", "capacity",
                                "commitment", "language", "good_faith", "duplicate_of")} \
        | {"locations": locations}


def _create_private(path: str) -> None:
    """An empty file only its owner can read: SQLite's -wal and -shm copy its mode."""
    sqlitefile.check_path(path, "register", "a complaints register", RegisterError)
    sqlitefile.create_private(path, "register", RegisterError)


class Register:
    """The register at *path*, created (mode 0600) or migrated on opening.

    One instance may be shared by threads (calls take turns on its
    connection); processes each open their own.
    """

    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self.path = path
        _create_private(path)
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise RegisterError(f"cannot open the register {path}: {exc}") from None
        try:
            self._migrate(conn, busy_timeout)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except RegisterError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise RegisterError(f"cannot use the register {path}: {exc}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()

    def _migrate(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        try:
            apply_pending(conn, MIGRATIONS, busy_timeout, self._check_tables)
        except sqlite3.OperationalError:
            raise  # __init__ words these (a lock held past busy_timeout, ...)
        except sqlite3.DatabaseError as exc:
            raise RegisterError(f"{self.path} is not a usable SQLite file ({exc})") from None

    def _check_tables(self, names: set[str]) -> None:
        if names - {"_sqlite_migrations"} and not REGISTER_TABLES & names:
            raise RegisterError(f"{self.path} holds other tables "
                                f"({', '.join(sorted(names)[:5])}): not a "
                                "complaints register")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------

    def _write(self, work: Callable[[list[Any]], Any]) -> Any:
        """Run *work(head)* in one chained transaction."""
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                head = list(conn.execute("SELECT hash, seq FROM chain_head WHERE id = 1")
                            .fetchone())
                result = work(head)
                conn.execute("UPDATE chain_head SET hash = ?, seq = ? WHERE id = 1", head)
                conn.execute("COMMIT")
                return result
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise RegisterError(f"cannot write the register {self.path}: {exc}"
                                        ) from None
                raise

    def _append(self, head: list[Any], complaint_id: int, reference: str, at: str,
                actor: str, action: str, status: str | None, reason: str | None = None,
                note: str | None = None, data: dict[str, Any] | None = None) -> None:
        data_json = encode(data) if data is not None else None
        values = [reference, at, actor, action, status, reason, note, data_json]
        head[1] += 1
        digest = record_hash(head[0], head[1], values)
        self.conn.execute(
            "INSERT INTO history (seq, complaint_id, reference, at, actor, action, status, "
            "reason, note, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (head[1], complaint_id, *values, head[0], digest))
        head[0] = digest

    def submit(self, sub: Submission, channel: str = "cli", *,
               now: datetime | None = None) -> str:
        """Store *sub* whole (or not at all) and return its reference, e.g.
        ``TDMC-2026-000123``. A complaint identical to one already answered for
        the same complainant is stored with ``duplicate_of`` naming it."""
        if channel not in CHANNELS:
            raise RegisterError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
        at = utc(now)
        fp = fingerprint(sub)

        def work(head: list[Any]) -> str:
            conn = self.conn
            prefix = f"TDMC-{at[:4]}-"
            # A range over the reference index; history is append-only, so a
            # number is never given twice even if a complaint row is deleted.
            last = conn.execute(
                "SELECT MAX(CAST(substr(reference, 11) AS INTEGER)) FROM history "
                "WHERE reference >= ? AND reference < ? AND action = 'submitted'",
                (prefix, prefix[:-1] + ".")).fetchone()[0]
            reference = f"{prefix}{(last or 0) + 1:06d}"
            dup = conn.execute(
                "SELECT reference FROM complaints WHERE fingerprint = ? AND decided_at IS NOT "
                "NULL ORDER BY id LIMIT 1", (fp,)).fetchone()
            row: dict[str, Any] = {
                "reference": reference, "received_at": at, "channel": channel,
                "capacity": sub.capacity, "commitment": sub.commitment,
                "language": sub.language, "good_faith": 1 if sub.good_faith else 0,
                "duplicate_of": dup[0] if dup else None, "status": "received",
                "complainant_name": sub.complainant_name,
                "complainant_organisation": sub.complainant_organisation,
                "complainant_email": sub.complainant_email, "rightsholder": sub.rightsholder,
                "description": sub.description,
                "evidence_links": encode(list(sub.evidence_links)),
                "salt": secrets.token_hex(16), "fingerprint": fp,
            }
            cid = conn.execute(
                f"INSERT INTO complaints ({', '.join(row)}) VALUES "
                f"({', '.join('?' * len(row))})", list(row.values())).lastrowid
            assert cid is not None
            works, locations, files = [], [], []
            for n, w in enumerate(sub.works):
                conn.execute("INSERT INTO works VALUES (?, ?, ?)", (cid, n, w.description))
                works.append([n, w.description])
                for kind, values in (("url", w.urls), ("domain", w.domains)):
                    for v in values:
                        conn.execute("INSERT INTO locations VALUES (?, ?, ?, ?)",
                                     (cid, n, kind, v))
                        locations.append([n, kind, v])
            for n, a in enumerate(sub.attachments):
                sha = hashlib.sha256(a.content).hexdigest()
                conn.execute("INSERT OR IGNORE INTO attachments VALUES (?, ?, ?)",
                             (sha, len(a.content), a.content))
                conn.execute("INSERT INTO complaint_attachments VALUES (?, ?, ?, ?, ?, ?)",
                             (cid, n, sha, a.filename, a.media_type, len(a.content)))
                files.append([n, sha, a.filename, a.media_type, len(a.content)])
            data = _public(row, locations) | {"personal": _personal_digest(row, works, files)}
            self._append(head, cid, reference, at, channel, "submitted", "received",
                         data=data)
            return reference

        result: str = self._write(work)
        return result

    def _complaint(self, reference: str) -> dict[str, Any]:
        rows = list(self.db.query("SELECT * FROM complaints WHERE reference = ?",
                                  [reference.strip().upper()]))
        if not rows:
            raise RegisterError(f"no complaint {reference!r} in the register")
        return rows[0]

    def transition(self, reference: str, action: str, *, by: str, why: str | None = None,
                   reason: str | None = None, now: datetime | None = None,
                   data: dict[str, Any] | None = None) -> str:
        """Move a complaint on (``acknowledge``, ``review``, ``uphold``,
        ``reject`` with a reason code, ``close``); returns the new status."""
        if action not in TRANSITIONS:
            raise RegisterError(f"unknown action {action!r}")
        if action == "reject" and reason not in REASONS:
            raise RegisterError(f"a rejection needs a reason code: {', '.join(REASONS)}")
        if action != "reject" and reason is not None:
            raise RegisterError("only a rejection takes a reason code")
        if not by.strip():
            raise RegisterError("say who makes the change (by)")
        at = utc(now)
        allowed, status = TRANSITIONS[action]

        def work(head: list[Any]) -> str:
            row = self._complaint(reference)
            if row["status"] not in allowed:
                raise RegisterError(f"{row['reference']} is {row['status']}: cannot {action} "
                                    f"it (only when {' or '.join(allowed)})")
            self._append(head, row["id"], row["reference"], at, by, action, status, reason,
                         why, data)
            cols = {"status": status}
            if action == "acknowledge":
                cols["acknowledged_at"] = at
            if action in ("uphold", "reject"):
                cols["decided_at"] = at
                if reason:
                    cols["reason"] = reason
            if action == "close":
                cols["closed_at"] = at
            sets = ", ".join(f"{c} = ?" for c in cols)
            self.conn.execute(f"UPDATE complaints SET {sets} WHERE id = ?",
                              [*cols.values(), row["id"]])
            return status

        result: str = self._write(work)
        return result

    def can(self, reference: str, action: str) -> None:
        """Raise :class:`RegisterError` unless *action* is possible now."""
        with self._lock:
            row = self._complaint(reference)
        allowed = TRANSITIONS[action][0]
        if row["status"] not in allowed:
            raise RegisterError(f"{row['reference']} is {row['status']}: cannot {action} it "
                                f"(only when {' or '.join(allowed)})")

    def record(self, reference: str, event: str, *, by: str, why: str | None = None,
               now: datetime | None = None, data: dict[str, Any] | None = None,
               also: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Append an event that changes no status (a reservation, a
        notification); *also(complaint row)* runs inside the same transaction
        (a failure there rolls the record back)."""
        if event not in EVENTS:
            raise RegisterError(f"unknown event {event!r}")
        at = utc(now)

        def work(head: list[Any]) -> None:
            row = self._complaint(reference)
            if also is not None:
                also(row)
            self._append(head, row["id"], row["reference"], at, by, event, None, None, why,
                         data)

        self._write(work)

    # -- reading ------------------------------------------------------------------------

    def get(self, reference: str) -> dict[str, Any]:
        """The complaint with its works, locations, attachments (no content) and history."""
        with self._lock:
            return self._get(reference)

    def _get(self, reference: str) -> dict[str, Any]:
        row = self._complaint(reference)
        cid = row["id"]
        works = [dict(w, urls=[], domains=[]) for w in self.db.query(
            "SELECT work, description FROM works WHERE complaint_id = ? ORDER BY work", [cid])]
        by_n = {w["work"]: w for w in works}
        for loc in self.db.query("SELECT work, kind, value FROM locations WHERE complaint_id "
                                 "= ? ORDER BY rowid", [cid]):
            w = by_n.setdefault(loc["work"], {"work": loc["work"], "description": None,
                                              "urls": [], "domains": []})
            w["urls" if loc["kind"] == "url" else "domains"].append(loc["value"])
        out = {k: v for k, v in row.items() if k not in ("id", "salt", "fingerprint")}
        out["evidence_links"] = json.loads(row["evidence_links"] or "[]")
        out["works"] = sorted(by_n.values(), key=lambda w: w["work"])
        out["attachments"] = list(self.db.query(
            "SELECT position, sha256, filename, media_type, size FROM complaint_attachments "
            "WHERE complaint_id = ? ORDER BY position", [cid]))
        out["history"] = [dict(h, data=json.loads(h["data"]) if h["data"] else None)
                          for h in self.db.query(
                              "SELECT seq, at, actor, action, status, reason, note, data, hash "
                              "FROM history WHERE complaint_id = ? ORDER BY seq", [cid])]
        out["reservations"] = reservations_of(out["history"])
        return out

    def action_counts(self) -> dict[str, int]:
        """How many history records of each action (``submitted``, ``uphold``, ...)."""
        with self._lock:
            return dict(self.conn.execute("SELECT action, count(*) FROM history "
                                          "GROUP BY action").fetchall())

    def attachment(self, sha256: str) -> bytes | None:
        with self._lock:
            row = self.conn.execute("SELECT content FROM attachments WHERE sha256 = ?",
                                    (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def rows(self) -> list[dict[str, Any]]:
        """Every complaint row (no salt or fingerprint) with its URLs and domains, oldest first."""
        with self._lock:
            return list(self._rows())

    def _rows(self) -> Iterator[dict[str, Any]]:
        locs: dict[int, dict[str, list[str]]] = {}
        for cid, kind, value in self.conn.execute(
                "SELECT complaint_id, kind, value FROM locations ORDER BY rowid"):
            locs.setdefault(cid, {"url": [], "domain": []})[kind].append(value)
        for row in self.db.query("SELECT * FROM complaints ORDER BY id"):
            found = locs.get(row["id"], {"url": [], "domain": []})
            yield {k: v for k, v in row.items() if k not in ("salt", "fingerprint")} | {
                "urls": found["url"], "domains": found["domain"]}

    # -- purging ------------------------------------------------------------------------

    def purge(self, older_than_days: int, *, by: str = "tdmguard",
              now: datetime | None = None) -> list[str]:
        """Empty the personal data of decided complaints received more than
        *older_than_days* ago (their attachments too); statistics and the chain
        stay. Returns the references purged."""
        cutoff = utc((now or datetime.now(UTC)) - timedelta(days=older_than_days))
        at = utc(now)

        def work(head: list[Any]) -> list[str]:
            conn = self.conn
            done = []
            for cid, ref in conn.execute(
                    "SELECT id, reference FROM complaints WHERE purged_at IS NULL AND "
                    "received_at < ? AND decided_at IS NOT NULL ORDER BY id",
                    (cutoff,)).fetchall():
                conn.execute(f"UPDATE complaints SET {', '.join(c + ' = NULL' for c in PERSONAL)}"
                             ", purged_at = ? WHERE id = ?", (at, cid))
                conn.execute("UPDATE works SET description = NULL WHERE complaint_id = ?", (cid,))
                conn.execute("DELETE FROM complaint_attachments WHERE complaint_id = ?", (cid,))
                self._append(head, cid, ref, at, by, "purged", None, None,
                             f"personal data removed after {older_than_days} days",
                             {"older_than_days": older_than_days})
                done.append(ref)
            conn.execute("DELETE FROM attachments WHERE sha256 NOT IN "
                         "(SELECT sha256 FROM complaint_attachments)")
            return done

        with self._lock:
            self.conn.execute("PRAGMA secure_delete=ON")  # overwrite what is deleted
            try:
                done: list[str] = self._write(work)
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self.conn.execute("PRAGMA secure_delete=OFF")
        return done

    # -- verifying ----------------------------------------------------------------------

    def verify(self) -> tuple[bool, int, str]:
        """Recompute the chain and check every complaint against it: (ok,
        records checked, the first problem)."""
        with self._lock:
            return self._verify()

    def _verify(self) -> tuple[bool, int, str]:
        conn = self.conn
        prev, n = GENESIS, 0
        events: dict[str, list[dict[str, Any]]] = {}
        for rec in self.db.query(f"SELECT id, seq, {', '.join(HASHED)}, prev_hash, hash, "
                                 "complaint_id FROM history ORDER BY seq"):
            where = f"history seq {rec['seq']} ({rec['reference']} {rec['action']})"
            if rec["seq"] != n + 1:
                what = "missing before it (deleted)" if rec["seq"] > n + 1 else "repeated"
                return False, n, f"{where}: record {n + 1} is {what}"
            if rec["prev_hash"] != prev:
                return False, n, f"{where}: chain broken before it (prev_hash edited)"
            if record_hash(prev, rec["seq"], [rec[c] for c in HASHED]) != rec["hash"]:
                return False, n, f"{where}: fields edited (hash mismatch)"
            prev, n = rec["hash"], n + 1
            events.setdefault(rec["reference"], []).append(rec)
        head, seq = conn.execute("SELECT hash, seq FROM chain_head WHERE id = 1").fetchone()
        if head != prev or seq != n:
            return False, n, (f"chain head says {seq} records ending {str(head)[:12]}, found "
                              f"{n}: records were deleted from the end")
        seen = set()
        for row in self.db.query("SELECT * FROM complaints ORDER BY id"):
            ref = row["reference"]
            seen.add(ref)
            problem = self._check_complaint(row, events.get(ref, []))
            if problem:
                return False, n, f"complaint {ref}: {problem}"
        for ref in events:
            if ref not in seen:
                return False, n, f"complaint {ref}: in the history but not in the register " \
                    "(deleted)"
        for sha, content in conn.execute("SELECT sha256, content FROM attachments"):
            if hashlib.sha256(bytes(content or b"")).hexdigest() != sha:
                return False, n, f"attachment {sha[:12]}: content edited"
        return True, n, ""

    def _check_complaint(self, row: dict[str, Any], events: list[dict[str, Any]]) -> str:
        if not events or events[0]["action"] != "submitted":
            return "no submitted record in the history (inserted)"
        if any(e["complaint_id"] != row["id"] for e in events):
            return "history records point at another row (moved)"
        data = json.loads(events[0]["data"])
        cid = row["id"]
        locations = [list(r) for r in self.conn.execute(
            "SELECT work, kind, value FROM locations WHERE complaint_id = ? ORDER BY rowid",
            (cid,))]
        if _public(row, locations) != {k: v for k, v in data.items() if k != "personal"}:
            return "fields differ from its submitted record (edited)"
        state: dict[str, Any] = {"status": None, "reason": None, "acknowledged_at": None,
                                 "decided_at": None, "closed_at": None, "purged_at": None}
        for e in events:
            if e["status"] is not None:
                state["status"] = e["status"]
            action, at = e["action"], e["at"]
            if action == "acknowledge":
                state["acknowledged_at"] = at
            elif action in ("uphold", "reject"):
                state["decided_at"], state["reason"] = at, e["reason"]
            elif action == "close":
                state["closed_at"] = at
            elif action == "purged":
                state["purged_at"] = at
        for col, value in state.items():
            if row[col] != value:
                return f"{col} is {row[col]!r} but the history says {value!r} (edited)"
        if row["purged_at"] is not None:
            if any(row[c] is not None for c in PERSONAL):
                return "purged, yet holds personal data again (edited)"
            return ""
        works = [list(r) for r in self.conn.execute(
            "SELECT work, description FROM works WHERE complaint_id = ? ORDER BY work", (cid,))]
        files = [list(r) for r in self.conn.execute(
            "SELECT position, sha256, filename, media_type, size FROM complaint_attachments "
            "WHERE complaint_id = ? ORDER BY position", (cid,))]
        if _personal_digest(row, works, files) != data.get("personal"):
            return "personal fields, works or attachments differ from its submitted " \
                "record (edited)"
        return ""


def reservations_of(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reservations a complaint's history added, each with its withdrawal if any."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for h in history:
        data = h["data"] if isinstance(h["data"], dict) else json.loads(h["data"] or "null")
        if h["action"] == "reservation-added":
            out[(data["kind"], data["pattern"])] = {"kind": data["kind"],
                                                    "pattern": data["pattern"],
                                                    "added": h["at"], "withdrawn": None}
        elif h["action"] == "reservation-withdrawn":
            entry = out.get((data["kind"], data["pattern"]))
            if entry is not None:
                entry["withdrawn"] = h["at"]
    return list(out.values())


REFERENCE = re.compile(r"TDMC-\d{4}-\d{6,}")
