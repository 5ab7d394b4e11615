"""Read-only queries over a ledger: evidence for a URL or domain, summaries."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlite_utils


def _snapshot(db: sqlite_utils.Database, sha: str, kind: str) -> dict[str, Any]:
    rows = list(db.query("SELECT kind, url, fetched_at, status, error, body, sha256 "
                         "FROM snapshots WHERE sha256 = ?", [sha]))
    if not rows:
        return {"kind": kind, "sha256": sha, "missing": True}
    r = rows[0]
    body = r["body"] or b""
    return {"kind": r["kind"], "url": r["url"], "fetched_at": r["fetched_at"],
            "status": r["status"], "error": r["error"], "sha256": r["sha256"],
            "body": body.decode("utf-8", "replace")}


def evidence_for_url(db: sqlite_utils.Database, url: str) -> dict[str, Any]:
    records = []
    for row in db.query("SELECT * FROM decisions WHERE url = ? ORDER BY at DESC, id DESC",
                        [url]):
        snaps = json.loads(row["snapshots"] or "{}")
        records.append({
            "id": row["id"], "at": row["at"], "allowed": bool(row["allowed"]),
            "stage": row["stage"], "reasons": json.loads(row["reasons"]),
            "snapshots": [_snapshot(db, sha, kind) for kind, sha in sorted(snaps.items())],
            "status": row["status"], "content_sha256": row["content_sha256"],
            "user_agent": row["user_agent"], "purpose": row["purpose"],
            "crawl_id": row["crawl_id"], "hash": row["hash"],
        })
    return {"url": url, "records": records}


def evidence_for_domain(db: sqlite_utils.Database, domain: str) -> dict[str, Any]:
    verdicts: Counter[str] = Counter()
    protocols: Counter[str] = Counter()
    urls = set()
    for row in db.query("SELECT url, allowed, stage, reasons FROM decisions WHERE domain = ?",
                        [domain.lower().rstrip(".")]):
        urls.add(row["url"])
        verdicts[row["stage"] if not row["allowed"] else "allowed"] += 1
        for reason in json.loads(row["reasons"]):
            protocols[f"{reason['protocol']}/{reason['verdict']}"] += 1
    return {"domain": domain, "decisions": sum(verdicts.values()), "urls": len(urls),
            "by_verdict": dict(verdicts), "by_protocol": dict(sorted(protocols.items()))}


def render_url_evidence(ev: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(ev, indent=2)
    out = []
    md = fmt == "md"
    out.append(f"# Evidence for {ev['url']}" if md else f"Evidence for {ev['url']}")
    if not ev["records"]:
        out.append("No decision recorded for this URL.")
    for rec in ev["records"]:
        verdict = "ALLOWED" if rec["allowed"] else f"REFUSED ({rec['stage']})"
        out.append(("\n## " if md else "\n") + f"{rec['at']}  {verdict}  status={rec['status']}"
                   f"  decision #{rec['id']}")
        for r in rec["reasons"]:
            out.append(f"{'- ' if md else '  '}{r['protocol']} {r['verdict']}: {r['detail']}"
                       f" [{r['rule']}]")
        for s in rec["snapshots"]:
            out.append(f"{'### ' if md else '  -- '}{s['kind']} {s.get('url', '')} fetched "
                       f"{s.get('fetched_at')} status {s.get('status')} sha256 {s['sha256']}")
            body = s.get("body", "")
            out.append("```\n" + body + "\n```" if md else
                       "\n".join("     | " + line for line in body.splitlines()))
    return "\n".join(out)


#: Each protocol the summary can name, and the settings that must all be on.
PROTOCOL_SWITCHES = [
    ("robots.txt (RFC 9309)", ("TDMGUARD_ROBOTSTXT_ENABLED",)),
    ("TDMRep (W3C CG report 2024-05-10): tdmrep.json, headers, HTML meta, EPUB/PDF",
     ("TDMGUARD_TDMREP_ENABLED",)),
    ("IETF AI preferences Content-Usage (vocab-07, attach-05): robots.txt and header",
     ("TDMGUARD_LOCATION_ENABLED",)),
    ("Cloudflare Content-Signal: robots.txt and header", ("TDMGUARD_LOCATION_ENABLED",)),
    ("DisallowAITraining: robots.txt, X-Robots-Tag and meta", ("TDMGUARD_LOCATION_ENABLED",)),
    ("RSL 1.0 licences named by robots.txt", ("TDMGUARD_RSL_ENABLED",
                                              "TDMGUARD_LOCATION_ENABLED")),
    ("RSL 1.0 licences named by a page (Link header, <link rel=license>, inline)",
     ("TDMGUARD_RSL_ENABLED", "TDMGUARD_RESPONSE_SIGNALS_ENABLED")),
    ("Spawning ai.txt", ("TDMGUARD_AITXT_ENABLED", "TDMGUARD_LOCATION_ENABLED")),
    ("noai / noimageai / noml in X-Robots-Tag and meta robots",
     ("TDMGUARD_RESPONSE_SIGNALS_ENABLED",)),
    ("IPTC plus:DataMining and C2PA/CAWG training-mining assertions in assets",
     ("TDMGUARD_ASSETS_ENABLED", "TDMGUARD_RESPONSE_SIGNALS_ENABLED")),
]


def honoured_protocols(settings_per_crawl: list[dict[str, Any]]) -> list[str]:
    """Protocols every recorded crawl had switched on (a switch left unrecorded
    counts as its default, on)."""
    return [name for name, switches in PROTOCOL_SWITCHES
            if all(s.get(k, True) is not False for s in settings_per_crawl
                   for k in switches)]


def _month(ts: str | None) -> str:
    return f"{ts[5:7]}/{ts[0:4]}" if ts else ""


def summary(db: sqlite_utils.Database, sme: bool = False) -> dict[str, Any]:
    """The crawl-related parts of the Commission's public summary template."""
    crawls = list(db.query("SELECT * FROM crawls ORDER BY id"))
    tokens = sorted({t for c in crawls for t in json.loads(c["tokens"] or "[]")})
    user_agents = sorted({c["user_agent"] for c in crawls if c["user_agent"]})
    purposes = sorted({c["purpose"] for c in crawls if c["purpose"]})
    starts = [c["started_at"] for c in crawls if c["started_at"]]
    ends = [c["finished_at"] or c["started_at"] for c in crawls if c["started_at"]]
    modes = sorted({c["mode"] for c in crawls if c["mode"]})
    by_bytes = list(db.query(
        "SELECT domain, SUM(content_length) AS bytes, COUNT(*) AS pages FROM decisions "
        "WHERE allowed = 1 AND stage = 'fetched' AND status BETWEEN 200 AND 299 "
        "GROUP BY domain ORDER BY bytes DESC"))
    n = len(by_bytes)
    top_n = max(1, -(-n * 10 // 100)) if n else 0
    if sme:
        top_n = min(max(1, -(-n * 5 // 100)), 1000) if n else 0
    refused: Counter[str] = Counter()
    for row in db.query("SELECT reasons FROM decisions WHERE allowed = 0"):
        for p in {r["protocol"] for r in json.loads(row["reasons"])
                  if r["verdict"] in ("reserved", "unreadable")}:
            refused[p] += 1
    honoured = honoured_protocols([json.loads(c["settings"] or "{}") for c in crawls])
    behaviour = (
        f"Identifies itself with the product token(s) {', '.join(tokens)} in every "
        "User-Agent header; reads robots.txt before any other request to an origin and "
        "follows it as RFC 9309 specifies (complete disallow when it is unreachable, "
        f"re-read at least every 24 hours); mode {', '.join(modes)}; never sends credentials."
    )
    return {
        "section_2_3": {
            "crawler_names": tokens, "user_agents": user_agents, "purposes": purposes,
            "crawler_behaviour": behaviour,
            "collection_period": {"from": _month(min(starts) if starts else None),
                                  "to": _month(max(ends) if ends else None)},
            "top_domains_rule": "top 5% or 1,000, whichever is lower (SME)" if sme
            else "top 10% of domains by bytes fetched",
            "top_domains": [{"domain": r["domain"], "bytes": r["bytes"], "pages": r["pages"]}
                            for r in by_bytes[:top_n]],
            "domains_crawled": n,
        },
        "section_3_1": {
            "opt_out_protocols_honoured": honoured,
            "pages_refused_by_protocol": dict(sorted(refused.items())),
        },
    }
