"""Read-only queries over a ledger: evidence for a URL or domain, summaries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

from tdmguard.middlewares.escape import escape_lines, escape_md, escape_text, fence


def _body_text(body: Any) -> str:
    body = body or b""
    return body if isinstance(body, str) else body.decode("utf-8", "replace")


def _has_warc(db: sqlite_utils.Database) -> bool:
    """The ledger knows where WARC records are (migration 006, ``TDMGUARD_WARC``)."""
    return bool(db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                           "name = 'warc_records'").fetchone())


def _warc_record(db: sqlite_utils.Database, where: str, args: list[Any]
                 ) -> dict[str, Any] | None:
    """Where a WARC file holds a record: ``filename``, ``offset``, ``length``,
    ``record_id`` (e.g. ``warcio extract FILENAME OFFSET``)."""
    for r in db.query("SELECT filename, offset, length, record_id FROM warc_records "
                      f"WHERE {where} ORDER BY id DESC LIMIT 1", args):
        return dict(r)
    return None


def _snapshots_of(db: sqlite_utils.Database, row: dict[str, Any],
                  warc: bool = False) -> list[dict[str, Any]]:
    """The rights documents a decision cites, each with ITS fetch (the URL and
    time this crawl fetched it), not the first URL the same bytes were seen at."""
    linked = list(db.query(
        "SELECT ds.kind, s.kind AS doc_kind, s.sha256, s.status, s.error, s.body, "
        "COALESCE(f.url, s.url) AS url, COALESCE(f.fetched_at, s.fetched_at) AS fetched_at "
        "FROM decision_snapshots ds JOIN snapshots s ON s.id = ds.snapshot_id "
        "LEFT JOIN snapshot_fetches f ON f.id = ds.fetch_id "
        "WHERE ds.decision_id = ? ORDER BY ds.kind", [row["id"]]))
    found = {r["kind"]: r for r in linked}
    out = []
    for kind, sha in sorted(json.loads(row["snapshots"] or "{}").items()):
        r = found.get(kind)
        if r is None:
            out.append({"kind": kind, "sha256": sha, "missing": True})
            continue
        doc = {"kind": r["doc_kind"], "cited_as": kind, "url": r["url"],
               "fetched_at": r["fetched_at"],
               "status": r["status"], "error": r["error"], "sha256": r["sha256"],
               "body": _body_text(r["body"])}
        if warc:
            doc["warc"] = _warc_record(db, "sha256 = ? AND target_uri = ? AND warc_date = ?",
                                       [r["sha256"], r["url"], r["fetched_at"]])
        out.append(doc)
    return out


def lookup_forms(url: str) -> list[str]:
    """The forms a decision's URL may be stored in for the URL a person asks
    about: as given, as Scrapy requests it (``safe_url_string``), and
    canonicalised the way w3lib does (scheme and host lower-cased, default
    port dropped, fragment dropped); the first is the canonical form."""
    from w3lib.url import canonicalize_url, safe_url_string

    given = url.strip()
    forms: list[str] = []
    try:
        safe = safe_url_string(given)
        parts = urlsplit(safe)
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        scheme = parts.scheme.lower()
        netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
        if parts.username or parts.password:
            netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
        canonical = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        forms += [canonical, urlunsplit((scheme, netloc, parts.path or "/", parts.query,
                                         parts.fragment)), safe,
                  canonicalize_url(safe, keep_fragments=False)]
    except ValueError:
        pass
    forms.append(given)
    return list(dict.fromkeys(f for f in forms if f))


DEFAULT_PORTS = {"http": 80, "https": 443}


def evidence_for_url(db: sqlite_utils.Database, url: str,
                     prefix: bool = False) -> dict[str, Any]:
    """Every decision for ``url`` (any stored form of it, see
    :func:`lookup_forms`), or with ``prefix`` under that URL prefix, newest first."""
    if prefix:
        start = url
        # Every string that starts with the prefix sorts in [prefix, prefix+1):
        # a range over the url index, not a LIKE scan.
        stop = url[:-1] + chr(ord(url[-1]) + 1) if url else "\U0010ffff"
        rows = db.query("SELECT * FROM decisions WHERE url >= ? AND url < ? "
                        "ORDER BY at DESC, id DESC", [start, stop])
        looked_up = [url]
    else:
        looked_up = lookup_forms(url)
        marks = ", ".join("?" for _ in looked_up)
        rows = db.query(f"SELECT * FROM decisions WHERE url IN ({marks}) "
                        "ORDER BY at DESC, id DESC", looked_up)
    records = []
    warc = _has_warc(db)
    for row in rows:
        records.append({
            "id": row["id"], "url": row["url"], "at": row["at"],
            "allowed": bool(row["allowed"]),
            "stage": row["stage"], "reasons": json.loads(row["reasons"]),
            "snapshots": _snapshots_of(db, row, warc),
            "status": row["status"], "content_sha256": row["content_sha256"],
            "error": row["error"], "redirect_urls": json.loads(row["redirect_urls"] or "[]"),
            "user_agent": row["user_agent"], "purpose": row["purpose"],
            "crawl_id": row["crawl_id"], "hash": row["hash"],
        })
        if warc:
            records[-1]["warc"] = _warc_record(db, "decision_id = ?", [row["id"]])
    return {"url": url, "looked_up": looked_up, "prefix": prefix, "records": records}


def evidence_across(ledgers: Sequence[tuple[str, sqlite_utils.Database]],
                    url: str, prefix: bool = False) -> dict[str, Any]:
    """Every decision for ``url`` (or under it, ``prefix``) in all ``(name,
    db)`` ledgers, newest first; each record names its ``ledger``."""
    found = [(name, evidence_for_url(db, url, prefix)) for name, db in ledgers]
    records = [{"ledger": name, **rec} for name, ev in found for rec in ev["records"]]
    records.sort(key=lambda r: (r["at"] or "", r["id"]), reverse=True)
    looked_up = found[0][1]["looked_up"] if found else [url]
    return {"url": url, "looked_up": looked_up, "prefix": prefix, "records": records}


def evidence_for_domain(db: sqlite_utils.Database | Sequence[sqlite_utils.Database],
                        domain: str) -> dict[str, Any]:
    """Decisions under a registrable domain counted by verdict and by
    protocol/verdict, over one ledger or several."""
    verdicts: Counter[str] = Counter()
    protocols: Counter[str] = Counter()
    urls = set()
    for d in [db] if isinstance(db, sqlite_utils.Database) else db:
        for row in d.query("SELECT url, allowed, stage, reasons FROM decisions "
                           "WHERE domain = ?", [domain.lower().rstrip(".")]):
            urls.add(row["url"])
            verdicts[row["stage"] if not row["allowed"] else "allowed"] += 1
            for reason in json.loads(row["reasons"]):
                protocols[f"{reason['protocol']}/{reason['verdict']}"] += 1
    return {"domain": domain, "decisions": sum(verdicts.values()), "urls": len(urls),
            "by_verdict": dict(verdicts), "by_protocol": dict(sorted(protocols.items()))}


def domain_counts(ev: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`evidence_for_domain` as records, one per count."""
    rows = [{"domain": ev["domain"], "count_of": "decisions", "count": ev["decisions"]},
            {"domain": ev["domain"], "count_of": "urls", "count": ev["urls"]}]
    rows += [{"domain": ev["domain"], "count_of": f"verdict/{k}", "count": v}
             for k, v in sorted(ev["by_verdict"].items())]
    rows += [{"domain": ev["domain"], "count_of": f"protocol/{k}", "count": v}
             for k, v in ev["by_protocol"].items()]
    return rows


def render_url_evidence(ev: dict[str, Any], fmt: str) -> str:
    """The evidence for one URL as a plain-text (``table``) or Markdown (``md``)
    document; ``json`` as one object. Web text is escaped, never printed raw."""
    if fmt == "json":
        return json.dumps(ev, indent=2)
    md = fmt == "md"
    text = escape_md if md else escape_text
    what = "under the prefix " if ev.get("prefix") else "for "
    out = [f"# Evidence {what}{text(ev['url'])}" if md else
           f"Evidence {what}{text(ev['url'])}"]
    others = [u for u in ev.get("looked_up", []) if u != ev["url"]]
    if others and not ev.get("prefix"):
        out.append(f"Looked up as stored by a crawl: {', '.join(text(u) for u in others)}")
    if not ev["records"]:
        out.append("No decision recorded for this URL." if not ev.get("prefix") else
                   "No decision recorded under this prefix.")
    for rec in ev["records"]:
        verdict = "ALLOWED" if rec["allowed"] else f"REFUSED ({text(rec['stage'])})"
        where = f" in {text(rec['ledger'])}" if rec.get("ledger") else ""
        if rec.get("url") and rec["url"] != ev["url"]:
            out.append(("\n## " if md else "\n") + text(rec["url"]))
        out.append(("\n## " if md else "\n") + f"{text(rec['at'])}  {verdict}  "
                   f"status={text(rec['status'])}  decision #{rec['id']}{where}")
        if rec.get("warc"):
            out.append(f"{'- ' if md else '  '}{_warc_line(rec['warc'], text)}")
        for r in rec["reasons"]:
            out.append(f"{'- ' if md else '  '}{text(r['protocol'])} {text(r['verdict'])}: "
                       f"{text(r['detail'])} [{text(r['rule'])}]")
        for s in rec["snapshots"]:
            out.append(f"{'### ' if md else '  -- '}{text(s['kind'])} {text(s.get('url', ''))} "
                       f"fetched {text(s.get('fetched_at'))} status {text(s.get('status'))} "
                       f"sha256 {text(s['sha256'])}")
            if s.get("warc"):
                out.append(f"{'' if md else '     '}{_warc_line(s['warc'], text)}")
            lines = escape_lines(s.get("body", ""))
            if md:
                body = "\n".join(lines)
                out.append(f"{fence(body)}\n{body}\n{fence(body)}")
            else:
                out.append("\n".join("     | " + line for line in lines))
    return "\n".join(out)


def _warc_line(w: dict[str, Any], text: Any) -> str:
    return (f"WARC record {text(w['record_id'])} in {text(w['filename'])} at offset "
            f"{w['offset']} ({w['length']} bytes)")
