"""Evidence bundles: one zip a rightsholder or an auditor can check without
the ledger and without tdmguard.

``tdmguard evidence URL|--domain D --db ... --bundle FILE.zip`` writes, per
ledger (``ledger-1/``, ...): the decisions the bundle is about
(``decisions.jsonl``, readable), the exact bytes of every rights document
they cite (``documents/<sha256>``), and the stretch of the ledger's hash
chain that holds them and everything they cite (``chain.jsonl``); plus a
``manifest.json``, a README with the recipe, and ``verify.py``, a
standard-library checker (the very code ``tdmguard verify --bundle`` runs).
"""

from __future__ import annotations

import json
import runpy
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from tdmguard.middlewares.chain import CHAINED, body_bytes, encode
from tdmguard.middlewares.settings import tdmguard_version
from tdmguard.middlewares.snapshots import utcnow

VERIFIER = Path(__file__).parent / "data" / "bundle_verify.py"

README = """# tdmguard evidence bundle

Subject: {subject}
Written: {created_at} by tdmguard {version}

- `manifest.json`: what the bundle holds, per ledger: the decisions it is about,
  the stretch of the hash chain (first and last seq, last hash) and the column
  names of each chained table.
- `ledger-N/decisions.jsonl`: the decisions, one JSON object a line.
- `ledger-N/documents/<sha256>`: each rights document they cite, exact bytes.
- `ledger-N/chain.jsonl`: the chain records, one a line:
  `{{"seq", "table", "prev_hash", "hash", "values", "links"}}`.

Check it with nothing but Python 3:

    python verify.py this-bundle.zip

The recipe `verify.py` applies (read it: it is short):

    hash = sha256(utf8(json([prev_hash, seq, table, values])))
      # a decision appends its sorted [kind, snapshot_id, fetch_id] links;
      # compact JSON: separators "," and ":", keys sorted, no ASCII escaping
    document sha256 = sha256(f"{{kind}}\\n{{status}}\\n{{error or ''}}\\n".encode() + body)

Each record's prev_hash is the hash of the record before it, so the stretch
proves its records were written in this order and not changed since. To tie it
to the whole ledger, compare the last hash with a checkpoint the operator
published (`tdmguard checkpoint`), or run `tdmguard verify --db LEDGER
--checkpoint FILE` on the ledger.
"""


class BundleError(Exception):
    """The bundle cannot be written; one line for the user."""


def _segment(db: sqlite_utils.Database, lo: int, hi: int) -> list[dict[str, Any]]:
    out = []
    for table, cols in CHAINED.items():
        for rec in db.execute(
                f"SELECT seq, prev_hash, hash, {', '.join(cols)} FROM {table} "
                "WHERE seq BETWEEN ? AND ?", [lo, hi]):
            out.append({"seq": rec[0], "table": table, "prev_hash": rec[1], "hash": rec[2],
                        "values": list(rec[3:])})
    out.sort(key=lambda r: r["seq"])
    links: dict[int, list[list[Any]]] = {}
    ids = [r["values"][0] for r in out if r["table"] == "decisions"]
    if ids:
        for did, kind, sid, fid in db.execute(
                "SELECT decision_id, kind, snapshot_id, fetch_id FROM decision_snapshots "
                "WHERE decision_id BETWEEN ? AND ?", [min(ids), max(ids)]):
            links.setdefault(did, []).append([kind, sid, fid])
    for r in out:
        if r["table"] == "decisions":
            r["links"] = sorted(links.get(r["values"][0], []))
    return out


def _cited_seqs(db: sqlite_utils.Database, ids: list[int]) -> tuple[int, int]:
    """The lowest and highest seq among the decisions, everything they cite
    and their crawls' rows."""
    lo, hi = None, None
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        row = db.execute(
            f"SELECT MIN(s), MAX(s) FROM ("
            f" SELECT seq AS s FROM decisions WHERE id IN ({marks})"
            f" UNION ALL SELECT sn.seq FROM decision_snapshots l"
            f"  JOIN snapshots sn ON sn.id = l.snapshot_id WHERE l.decision_id IN ({marks})"
            f" UNION ALL SELECT f.seq FROM decision_snapshots l"
            f"  JOIN snapshot_fetches f ON f.id = l.fetch_id WHERE l.decision_id IN ({marks})"
            f" UNION ALL SELECT c.seq FROM decisions d JOIN crawls c ON c.id = d.crawl_id"
            f"  WHERE d.id IN ({marks}))", chunk * 4).fetchone()
        if row[0] is None:
            continue
        lo = row[0] if lo is None else min(lo, row[0])
        hi = row[1] if hi is None else max(hi, row[1])
    if lo is None or hi is None:
        raise BundleError("the decisions predate the ledger's one chain (migration 004): "
                          "check them with tdmguard verify on the ledger itself")
    return lo, hi


def write_bundle(path: str, subject: dict[str, Any],
                 ledgers: Sequence[tuple[str, sqlite_utils.Database, list[int]]]
                 ) -> dict[str, Any]:
    """Write the bundle for ``(name, db, decision ids)`` per ledger; returns the manifest."""
    manifest: dict[str, Any] = {
        "format": "tdmguard-evidence-bundle", "version": 1, "subject": subject,
        "created_at": utcnow(), "tdmguard_version": tdmguard_version(),
        "columns": {t: list(c) for t, c in CHAINED.items()}, "ledgers": [],
    }
    try:
        out = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    except OSError as exc:
        raise BundleError(f"cannot write the bundle {path}: {exc.strerror or exc}") from None
    with out:
        for n, (name, db, ids) in enumerate(ledgers, 1):
            if not ids:
                continue
            where = f"ledger-{n}"
            lo, hi = _cited_seqs(db, ids)
            segment = _segment(db, lo, hi)
            out.writestr(f"{where}/chain.jsonl", "".join(encode(r) + "\n" for r in segment))
            wanted = set(ids)
            rows = [r for r in db.query("SELECT * FROM decisions WHERE seq BETWEEN ? AND ?",
                                        [lo, hi]) if r["id"] in wanted]
            out.writestr(f"{where}/decisions.jsonl",
                         "".join(encode(r) + "\n" for r in rows))
            cited = {sid for r in segment if r["table"] == "decisions"
                     and r["values"][0] in wanted for _kind, sid, _fetch in r["links"]}
            for sid in sorted(cited):
                sha, body = db.execute("SELECT sha256, body FROM snapshots WHERE id = ?",
                                       [sid]).fetchone()
                out.writestr(f"{where}/documents/{sha}", body_bytes(body))
            manifest["ledgers"].append({
                "dir": where, "ledger": name, "decisions": sorted(wanted),
                "first_seq": lo, "last_seq": hi, "records": len(segment),
                "last_hash": segment[-1]["hash"] if segment else None,
            })
        out.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        subject_text = subject.get("url") or subject.get("domain") or ""
        out.writestr("README.md", README.format(subject=subject_text,
                                                created_at=manifest["created_at"],
                                                version=manifest["tdmguard_version"]))
        out.write(VERIFIER, "verify.py")
    return manifest


def verify_bundle(path: str) -> tuple[bool, str]:
    """Run the bundle's own checker (the file shipped as ``verify.py``)."""
    checker = runpy.run_path(str(VERIFIER))
    ok, message, _figures = checker["check"](path)
    return ok, message
