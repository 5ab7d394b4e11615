"""The register's schema: sqlite-utils migrations, append-only (set ``tdmguard-complaints``).

A public interface like the ledger's: tables and columns change only by a new
migration. :class:`~tdmguard.policy.complaints.register.Register` applies them
under one write lock, so processes opening a new file at once never race.

- ``complaints``: one row per complaint. Personal data (complainant name,
  organisation, email, the rightsholder, descriptions, evidence links, a salt
  and the duplicate fingerprint) sits in columns that ``purge`` empties; the
  rest (reference, times, channel, capacity, commitment, status, outcome) stays
  for the statistics. ``status``, ``reason``, ``acknowledged_at``,
  ``decided_at``, ``closed_at`` and ``purged_at`` copy the history.
- ``works`` and ``locations``: each work concerned and its URLs and domains.
- ``attachments`` (content by sha256, stored once) and
  ``complaint_attachments`` (which complaint cites which file, under what name).
- ``history``: the append-only, hash-chained record of every transition;
  ``chain_head`` its end.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

GENESIS = "0" * 64

MIGRATIONS = Migrations("tdmguard-complaints")


@MIGRATIONS(name="001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db.table("complaints").create({
        "id": int, "reference": str, "received_at": str, "channel": str, "capacity": str,
        "commitment": str, "language": str, "good_faith": int, "duplicate_of": str,
        "status": str, "reason": str, "acknowledged_at": str, "decided_at": str,
        "closed_at": str, "purged_at": str,
        "complainant_name": str, "complainant_organisation": str, "complainant_email": str,
        "rightsholder": str, "description": str, "evidence_links": str, "salt": str,
        "fingerprint": str,
    }, pk="id")
    db.table("complaints").create_index(["reference"], unique=True)
    db.table("complaints").create_index(["fingerprint"])
    db.table("complaints").create_index(["status"])
    db.table("works").create({"complaint_id": int, "work": int, "description": str},
                             pk=("complaint_id", "work"),
                             foreign_keys=[("complaint_id", "complaints", "id")])
    db.table("locations").create({"complaint_id": int, "work": int, "kind": str,
                                  "value": str},
                                 foreign_keys=[("complaint_id", "complaints", "id")])
    db.table("locations").create_index(["complaint_id"])
    db.table("locations").create_index(["value"])
    db.table("attachments").create({"sha256": str, "size": int, "content": bytes},
                                   pk="sha256")
    db.table("complaint_attachments").create({
        "complaint_id": int, "position": int, "sha256": str, "filename": str,
        "media_type": str, "size": int,
    }, pk=("complaint_id", "position"), foreign_keys=[("complaint_id", "complaints", "id")])
    db.table("history").create({
        "id": int, "seq": int, "complaint_id": int, "reference": str, "at": str,
        "actor": str, "action": str, "status": str, "reason": str, "note": str,
        "data": str, "prev_hash": str, "hash": str,
    }, pk="id")
    db.table("history").create_index(["seq"], unique=True)
    db.table("history").create_index(["reference"])
    db.table("chain_head").create({"id": int, "hash": str, "seq": int}, pk="id")
    db.table("chain_head").insert({"id": 1, "hash": GENESIS, "seq": 0})
