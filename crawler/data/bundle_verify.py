"""Check a tdmguard evidence bundle with plain Python (standard library only).

Usage: python verify.py BUNDLE.zip     (exit 0: intact; 1: not, naming why)

The same file is run by ``tdmguard verify --bundle``. What it proves, for
each ledger in the bundle (``ledger-N/``):

1. ``chain.jsonl`` (one ``[seq, table, prev_hash, hash, values, links]``
   array a line) is an unbroken stretch of the ledger's hash chain: each
   record's ``hash`` is ``sha256(utf8(json([prev_hash, seq, table, values])))``
   (a decision appends its sorted ``[kind, snapshot_id, fetch_id]`` links),
   with compact JSON (``,`` ``:`` separators, keys sorted, no ASCII escaping);
   each record's ``prev_hash`` is the hash before it and ``seq`` counts up by one.
2. Every decision the bundle is about is a record of that stretch, and so is
   every rights document and fetch it cites.
3. Every document file's bytes are the document the chain names:
   ``sha256(f"{kind}\\n{status}\\n{error or ''}\\n".encode() + body)`` equals
   the snapshot record's ``sha256``.

To tie the stretch to the whole ledger, compare its last hash with a
checkpoint published earlier (``tdmguard checkpoint``), or run ``tdmguard
verify --db LEDGER --checkpoint FILE`` on the ledger itself.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from typing import Any

ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def record_hash(prev: str, seq: int, table: str, values: list[Any],
                links: list[list[Any]] | None) -> str:
    payload: list[Any] = [prev, seq, table, values]
    if table == "decisions":
        payload.append(sorted(links or []))
    return hashlib.sha256(ENCODE(payload).encode("utf-8")).hexdigest()


def document_hash(kind: str, status: Any, error: Any, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{kind}\n{status}\n{error or ''}\n".encode())
    h.update(body)
    return h.hexdigest()


def check(path: str) -> tuple[bool, str, dict[str, Any]]:
    """(ok, the first problem or a one-line summary, figures)."""
    try:
        bundle = zipfile.ZipFile(path)
        manifest = json.loads(bundle.read("manifest.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        return False, f"not a tdmguard evidence bundle: {exc}", {}
    if manifest.get("format") != "tdmguard-evidence-bundle":
        return False, "not a tdmguard evidence bundle (manifest format)", {}
    columns: dict[str, list[str]] = manifest["columns"]
    figures = {"ledgers": 0, "records": 0, "decisions": 0, "documents": 0}
    for led in manifest["ledgers"]:
        where = led["dir"]
        figures["ledgers"] += 1
        records: dict[tuple[str, int], dict[str, Any]] = {}
        prev: str | None = None
        last_seq: int | None = None
        for n, line in enumerate(bundle.read(f"{where}/chain.jsonl").splitlines(), 1):
            seq, table, prev_hash, stored, values, links = json.loads(line)
            rec = {"prev_hash": prev_hash, "hash": stored, "values": values, "links": links}
            if prev is not None and rec["prev_hash"] != prev:
                return False, f"{where}/chain.jsonl line {n}: chain broken (prev_hash)", figures
            if last_seq is not None and seq != last_seq + 1:
                return False, f"{where}/chain.jsonl line {n}: seq {seq} after {last_seq}", figures
            want = record_hash(rec["prev_hash"], seq, table, rec["values"], rec.get("links"))
            if want != rec["hash"]:
                return False, (f"{where}/chain.jsonl line {n}: {table} record seq {seq} does "
                               "not match its hash (edited)"), figures
            prev, last_seq = rec["hash"], seq
            records[(table, rec["values"][0])] = dict(zip(columns[table], rec["values"],
                                                          strict=True)) | {"_links":
                                                                           rec.get("links")}
            figures["records"] += 1
        if led.get("last_hash") != prev:
            return False, f"{where}: the stretch does not end at the hash the manifest names", \
                figures
        for did in led["decisions"]:
            decision = records.get(("decisions", did))
            if decision is None:
                return False, f"{where}: decision {did} is not in the chain stretch", figures
            figures["decisions"] += 1
            for kind, sid, fid in decision["_links"] or []:
                snap = records.get(("snapshots", sid))
                if snap is None:
                    return False, (f"{where}: decision {did} cites document {sid} ({kind}), "
                                   "which is not in the chain stretch"), figures
                if fid is not None and ("snapshot_fetches", fid) not in records:
                    return False, f"{where}: decision {did} cites fetch {fid}, not in the " \
                        "chain stretch", figures
                try:
                    body = bundle.read(f"{where}/documents/{snap['sha256']}")
                except KeyError:
                    return False, f"{where}: document {snap['sha256']} is missing", figures
                if document_hash(snap["kind"], snap["status"], snap["error"], body) != \
                        snap["sha256"]:
                    return False, (f"{where}/documents/{snap['sha256']}: the bytes are not "
                                   "the document the chain names (edited)"), figures
                figures["documents"] += 1
    return True, (f"OK: {figures['decisions']} decisions, {figures['documents']} document "
                  f"citations and {figures['records']} chain records intact in "
                  f"{figures['ledgers']} ledger(s)"), figures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python verify.py BUNDLE.zip", file=sys.stderr)
        sys.exit(2)
    ok, message, _ = check(sys.argv[1])
    print(message, file=sys.stdout if ok else sys.stderr)
    sys.exit(0 if ok else 1)
