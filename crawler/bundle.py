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
import re
import runpy
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from tdmguard.middlewares.chain import CHAINED, body_bytes
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
- `ledger-N/chain.jsonl`: the chain records, one JSON array a line:
  `[seq, table, prev_hash, hash, values, links]` (`links` only for decisions).

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


def _segment_lines(db: sqlite_utils.Database, lo: int, hi: int) -> tuple[list[str], str | None]:
    """The chain records with seq in [lo, hi], in seq order, each as one JSON
    line ``[seq, table, prev_hash, hash, values, links]``, built by SQLite in
    one pass (the checker re-encodes ``values`` its own way to hash them);
    and the last record's hash."""
    parts = []
    for table, cols in CHAINED.items():
        links = "NULL"
        if table == "decisions":
            links = ("(SELECT json_group_array(json_array(kind, snapshot_id, fetch_id)) FROM "
                     "(SELECT kind, snapshot_id, fetch_id FROM decision_snapshots "
                     "WHERE decision_id = t.id ORDER BY kind))")
        parts.append(f"SELECT seq, hash, json_array(seq, '{table}', prev_hash, hash, "
                     f"json_array({', '.join('t.' + c for c in cols)}), json({links})) "
                     f"FROM {table} t WHERE seq BETWEEN :lo AND :hi")
    sql = " UNION ALL ".join(parts) + " ORDER BY seq"
    rows = db.execute(sql, {"lo": lo, "hi": hi}).fetchall()
    return [line + "\n" for _seq, _hash, line in rows], (rows[-1][1] if rows else None)


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
        out = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    except OSError as exc:
        raise BundleError(f"cannot write the bundle {path}: {exc.strerror or exc}") from None
    with out:
        for n, (name, db, ids) in enumerate(ledgers, 1):
            if not ids:
                continue
            where = f"ledger-{n}"
            lo, hi = _cited_seqs(db, ids)
            lines, last_hash = _segment_lines(db, lo, hi)
            out.writestr(f"{where}/chain.jsonl", "".join(lines))
            # Column names come from the file: only plain identifiers are
            # spliced into SQL (a crafted ledger cannot inject any).
            cols = [row[1] for row in db.execute("PRAGMA table_info(decisions)")
                    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", row[1])]
            as_object = ", ".join(f"'{c}', \"{c}\"" for c in cols)
            wanted = set(ids)
            rows = [line for did, line in db.execute(
                f"SELECT id, json_object({as_object}) FROM decisions "
                "WHERE seq BETWEEN ? AND ? ORDER BY id", [lo, hi]) if did in wanted]
            out.writestr(f"{where}/decisions.jsonl", "".join(r + "\n" for r in rows))
            cited = sorted({sid for did, sid in db.execute(
                "SELECT l.decision_id, l.snapshot_id FROM decision_snapshots l JOIN decisions d "
                "ON d.id = l.decision_id WHERE d.seq BETWEEN ? AND ?", [lo, hi])
                if did in wanted})
            for sid in cited:
                sha, body = db.execute("SELECT sha256, body FROM snapshots WHERE id = ?",
                                       [sid]).fetchone()
                out.writestr(f"{where}/documents/{sha}", body_bytes(body))
            manifest["ledgers"].append({
                "dir": where, "ledger": name, "decisions": sorted(wanted),
                "first_seq": lo, "last_seq": hi, "records": len(lines),
                "last_hash": last_hash,
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
