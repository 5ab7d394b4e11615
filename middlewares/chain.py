"""The ledger's hash chain: the recipe, ``verify`` and checkpoints.

One chain covers every record that is evidence, in append order: ``crawls``,
``crawl_finishes``, ``snapshots``, ``snapshot_fetches`` and ``decisions`` rows
each carry ``seq`` (1, 2, 3... across all five tables), ``prev_hash`` and
``hash``, where::

    hash = sha256(utf8(json([prev_hash, seq, table, [the table's CHAINED columns]])))

with compact JSON (``,`` and ``:``, no ASCII escaping); a decision's list is
followed by its ``decision_snapshots`` links, ``[[kind, snapshot_id,
fetch_id], ...]`` sorted. The first ``prev_hash`` is the end of the
decisions-only chain of ledgers written before migration 004 (64 zeros on a
new ledger). README, "The ledger", gives the same recipe for plain Python.

A checkpoint may be signed with Ed25519; the key files it is signed and
checked with are written and read by :mod:`tdmguard.middlewares.checkpoint_keys`.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from tdmguard.middlewares.snapshots import document_hash

GENESIS = "0" * 64

#: Columns each chained table's hash covers, in this order.
CHAINED: dict[str, tuple[str, ...]] = {
    "crawls": ("id", "started_at", "tdmguard_version", "user_agent", "tokens", "mode",
               "purpose", "settings", "blocklists", "psl_version"),
    "crawl_finishes": ("id", "crawl_id", "finished_at", "reason", "decisions"),
    "snapshots": ("id", "sha256", "kind", "url", "origin", "fetched_at", "status", "headers",
                  "error", "redirects"),
    "snapshot_fetches": ("id", "snapshot_id", "crawl_id", "sha256", "kind", "url", "origin",
                         "fetched_at", "headers", "redirects"),
    "decisions": ("id", "crawl_id", "at", "url", "origin", "domain", "user_agent", "tokens",
                  "purpose", "allowed", "stage", "reasons", "snapshots", "status",
                  "content_sha256", "content_length", "redirect_urls", "error"),
}

#: Decision columns of the decisions-only chain written before migration 004.
HASHED = CHAINED["decisions"][1:]


class LedgerError(Exception):
    """The file is missing, unusable, not a tdmguard ledger, or a checkpoint
    or key is unusable: the message is one line for the user."""


# One encoder, built once: json.dumps with options builds a new one per call.
encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def record_hash(prev: str, seq: int, table: str, values: Iterable[Any],
                links: Iterable[Iterable[Any]] | None = None) -> str:
    """The reference definition of a record's hash (see the module docstring)."""
    payload: list[Any] = [prev, seq, table, list(values)]
    if table == "decisions":
        payload.append(sorted(list(link) for link in links or ()))
    return hashlib.sha256(encode(payload).encode("utf-8")).hexdigest()


def row_hash(prev: str, row: dict[str, Any], snapshot_hashes: Iterable[str]) -> str:
    """A decision's hash in the decisions-only chain of ledgers before migration 004."""
    payload = encode([prev, [row[c] for c in HASHED], sorted(snapshot_hashes)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def body_bytes(body: Any) -> bytes:
    """A stored document body as the exact bytes fetched (TEXT is UTF-8)."""
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _columns(db: sqlite_utils.Database, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _chained_rows(db: sqlite_utils.Database, table: str
                  ) -> Iterator[tuple[int, str, tuple[Any, ...]]]:
    cols = ", ".join(CHAINED[table])
    last = 0
    for rec in db.execute(f"SELECT seq, {cols}, prev_hash, hash FROM {table} "
                          "WHERE seq IS NOT NULL ORDER BY id"):
        seq = rec[0]
        if type(seq) is not int or seq <= last:
            # Written in seq order; a row out of order was put there by hand.
            yield (-1, table, rec)
            return
        last = seq
        yield (seq, table, rec)


def _links(db: sqlite_utils.Database, legacy: bool) -> Iterator[tuple[int, list[list[Any]]]]:
    """Each decision's links, in decision id order: those of decisions from
    before migration 004 (*legacy*), or all others (orphans included)."""
    which = "d.id IS NOT NULL AND d.seq IS NULL" if legacy else \
        "(d.seq IS NOT NULL OR d.id IS NULL)"
    cur_id: int | None = None
    group: list[list[Any]] = []
    for did, kind, sid, fid in db.execute(
            "SELECT l.decision_id, l.kind, l.snapshot_id, l.fetch_id FROM decision_snapshots l "
            f"LEFT JOIN decisions d ON d.id = l.decision_id WHERE {which} "
            "ORDER BY l.decision_id, l.kind"):
        if did != cur_id:
            if cur_id is not None:
                yield cur_id, group
            cur_id, group = did, []
        group.append([kind, sid, fid])
    if cur_id is not None:
        yield cur_id, group


def verify(db: sqlite_utils.Database, checkpoint: dict[str, Any] | None = None,
           public_key: Any = None) -> tuple[bool, int, str]:
    """Recompute every document hash and the chain: (ok, decisions checked,
    the first problem). With *checkpoint*, also prove that the ledger still
    holds that prefix unchanged (and, with *public_key*, that it was signed
    with that key)."""
    if checkpoint is not None:
        problem = check_signature(checkpoint, public_key)
        if problem:
            return False, 0, problem
    snaps: dict[str, int] = {}
    for sid, sha, kind, status, error, body in db.execute(
            "SELECT id, sha256, kind, status, error, body FROM snapshots ORDER BY id"):
        if document_hash(kind, status, error, body_bytes(body)) != sha:
            return False, 0, (f"snapshots id {sid}: document {str(sha)[:12]} no longer matches "
                              "its sha256 (body edited)")
        snaps[sha] = sid
    # Ledgers before migration 004: a decisions-only chain, then the one chain.
    has_seq = "seq" in _columns(db, "decisions")
    prev, n = GENESIS, 0
    old_links = _links(db, legacy=True) if has_seq else iter(())
    old_link = next(old_links, None)
    legacy_sql = (f"SELECT id, {', '.join(HASHED)}, prev_hash, hash FROM decisions "
                  + ("WHERE seq IS NULL " if has_seq else "") + "ORDER BY id")
    for rec in db.execute(legacy_sql):
        row_id, stored_prev, stored = rec[0], rec[-2], rec[-1]
        row = dict(zip(HASHED, rec[1:-2], strict=True))
        if stored_prev != prev:
            return False, n, (f"decisions id {row_id}: chain broken before it (a record was "
                              "deleted or inserted)")
        refs = json.loads(row["snapshots"] or "{}")
        for sha in refs.values():
            if sha not in snaps:
                return False, n, f"decisions id {row_id}: snapshot {sha[:12]} is missing"
        if row_hash(prev, row, refs.values()) != stored:
            return False, n, f"decisions id {row_id}: fields edited (hash mismatch)"
        if has_seq:  # links made by migration 004 from the hashed snapshots column
            linked: dict[str, Any] = {}
            if old_link is not None and old_link[0] == row_id:
                linked = {k: s for k, s, _f in old_link[1]}
                old_link = next(old_links, None)
            if linked != {k: snaps.get(s) for k, s in refs.items()}:
                return False, n, f"decisions id {row_id}: decision_snapshots do not match"
        prev, n = stored, n + 1
    if not has_seq:
        head, count = db.execute("SELECT hash, count FROM chain_head WHERE id = 1").fetchone()
        if head != prev or count != n:
            return False, n, (f"chain head says {count} decisions ending {head[:12]}, found "
                              f"{n}: records were deleted from the end")
        return _against_checkpoint(checkpoint, 0, prev, n)
    cp_seq = checkpoint["seq"] if checkpoint else None
    if checkpoint is not None and cp_seq == 0 and checkpoint["head_hash"] != prev:
        return False, n, "the ledger no longer starts as the checkpoint says"
    for table in ("crawls", "crawl_finishes", "snapshots", "snapshot_fetches"):
        row = db.execute(f"SELECT id FROM {table} WHERE seq IS NULL LIMIT 1").fetchone()
        if row:
            return False, n, f"{table} id {row[0]}: outside the chain (inserted)"
    streams = [_chained_rows(db, t) for t in CHAINED]
    if old_link is not None:
        return False, n, f"decision_snapshots for decision {old_link[0]}: links edited"
    links = _links(db, legacy=False)
    link = next(links, None)
    seq = 0
    for rec_seq, table, rec in heapq.merge(*streams, key=lambda r: r[0]):
        row_id = rec[1]
        where = f"{table} id {row_id}"
        if rec_seq == -1:
            return False, n, f"{where}: out of chain order (inserted or moved)"
        if rec_seq == seq:
            return False, n, f"{where}: seq {rec_seq} appears twice (a record was inserted)"
        if rec_seq != seq + 1:
            gap = f"record {seq + 1} is" if rec_seq == seq + 2 else \
                f"records {seq + 1}..{rec_seq - 1} are"
            return False, n, f"{where} (seq {rec_seq}): {gap} missing before it (deleted)"
        seq = rec_seq
        values, stored_prev, stored = rec[1:-2], rec[-2], rec[-1]
        if stored_prev != prev:
            return False, n, f"{where} (seq {seq}): chain broken before it (prev_hash edited)"
        own: list[list[Any]] = []
        if table == "decisions":
            if link is not None and link[0] < row_id:
                return False, n, f"decision_snapshots for decision {link[0]}: no such decision"
            if link is not None and link[0] == row_id:
                own = link[1]
                link = next(links, None)
            cited = json.loads(values[12] or "{}")
            for kind, sha in cited.items():
                if sha not in snaps:
                    return False, n, f"{where}: snapshot {sha[:12]} ({kind}) is missing"
        if record_hash(prev, seq, table, values, own) != stored:
            detail = "fields or its decision_snapshots links edited" if table == "decisions" \
                else "fields edited"
            return False, n, f"{where} (seq {seq}): {detail} (hash mismatch)"
        if table == "decisions":
            if {k: snaps.get(s) for k, s in cited.items()} != {k: s for k, s, _f in own}:
                return False, n, f"{where}: decision_snapshots do not match its snapshots"
            n += 1
        prev = stored
        if checkpoint is not None and seq == cp_seq and stored != checkpoint["head_hash"]:
            return False, n, (f"{where} (seq {seq}): differs from the checkpoint's head hash "
                              "(the ledger was rewritten)")
    head, head_seq, count = db.execute(
        "SELECT hash, seq, count FROM chain_head WHERE id = 1").fetchone()
    if head != prev or head_seq != seq or count != n:
        return False, n, (f"chain head says seq {head_seq}, {count} decisions, ending "
                          f"{str(head)[:12]}; found seq {seq}, {n} decisions: records were "
                          "deleted from the end")
    if link is not None:
        return False, n, f"decision_snapshots for decision {link[0]}: no such decision"
    problem = _finishes(db)
    if problem:
        return False, n, problem
    return _against_checkpoint(checkpoint, seq, prev, n)


def _finishes(db: sqlite_utils.Database) -> str:
    """``crawls``' finished_at/decisions/finish_reason copy its chained finish record."""
    for cid, fin, count, reason, f_at, f_count, f_reason in db.execute(
            "SELECT c.id, c.finished_at, c.decisions, c.finish_reason, f.finished_at, "
            "f.decisions, f.reason FROM crawls c LEFT JOIN crawl_finishes f "
            "ON f.crawl_id = c.id ORDER BY c.id"):
        if (fin, count, reason) != (f_at, f_count, f_reason):
            return (f"crawls id {cid}: finished_at/decisions/finish_reason differ from its "
                    "crawl_finishes record (edited)")
    return ""


def _against_checkpoint(checkpoint: dict[str, Any] | None, seq: int, head: str,
                        n: int) -> tuple[bool, int, str]:
    if checkpoint is not None and checkpoint["seq"] > seq:
        return False, n, (f"the ledger ends at seq {seq} but the checkpoint covers seq "
                          f"{checkpoint['seq']}: records were removed from the end")
    return True, n, ""


# -- checkpoints ----------------------------------------------------------------------

def checkpoint(db: sqlite_utils.Database, private_key: Any = None,
               check: bool = True) -> dict[str, Any]:
    """The current head: ``{"ledger", "recipe", "seq", "head_hash", "decisions",
    "at"}``, after verifying the chain (``check``); signed with an Ed25519
    *private_key* when given (``signature``: key id, public key, value)."""
    if "seq" not in _columns(db, "chain_head"):
        raise LedgerError("this ledger predates checkpoints: open it with a crawl "
                          "(or Ledger(path)) once to upgrade it")
    if check:
        ok, _n, problem = verify(db)
        if not ok:
            raise LedgerError(f"the ledger does not verify, so no checkpoint: {problem}")
    head, seq, count = db.execute("SELECT hash, seq, count FROM chain_head WHERE id = 1").fetchone()
    cp: dict[str, Any] = {"ledger": "tdmguard", "recipe": 2, "seq": seq, "head_hash": head,
                          "decisions": count,
                          "at": datetime.now(UTC).isoformat(timespec="seconds")[:-6] + "Z"}
    if private_key is not None:
        raw = _raw_public(private_key.public_key())
        cp["signature"] = {"alg": "Ed25519", "key_id": key_id(raw),
                           "public_key": base64.b64encode(raw).decode(),
                           "value": base64.b64encode(private_key.sign(signed_bytes(cp))).decode()}
    return cp


def signed_bytes(cp: dict[str, Any]) -> bytes:
    """What a signature covers: the checkpoint's compact JSON without ``signature``."""
    return encode({k: v for k, v in cp.items() if k != "signature"}).encode("utf-8")


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def _raw_public(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw: bytes = public_key.public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    return raw


def check_signature(cp: Any, public_key: Any = None) -> str:
    """'' when *cp* is a well-formed checkpoint whose signature (if any) holds,
    and was made with *public_key* when one is given; else the problem."""
    if not isinstance(cp, dict) or cp.get("ledger") != "tdmguard" or \
            type(cp.get("seq")) is not int or not isinstance(cp.get("head_hash"), str):
        return "not a tdmguard checkpoint (needs ledger, seq and head_hash)"
    sig = cp.get("signature")
    if sig is None:
        return "the checkpoint is not signed, but a key was given" if public_key else ""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(sig["public_key"], validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(raw)
        embedded.verify(base64.b64decode(sig["value"], validate=True), signed_bytes(cp))
    except InvalidSignature:
        return "the checkpoint's signature does not match its contents (edited)"
    except (KeyError, TypeError, ValueError):
        return "the checkpoint's signature is malformed"
    if public_key is not None:
        want = _raw_public(public_key)
        if want != raw:
            return (f"the checkpoint was signed with key {key_id(raw)}, not the given key "
                    f"{key_id(want)}")
    return ""
