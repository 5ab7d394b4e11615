"""What the ledgers hold for a complaint, and a complaint as a document:
the evidence behind ``tdmguard complaints show --db`` and ``bundle``
(:mod:`tdmguard.crawler.complaints_records_cli`). No click: plain data in,
plain data or text out.
"""

from __future__ import annotations

from typing import Any

from tdmguard.middlewares.escape import escape_text


def domain_ids(db: Any, domain: str) -> list[int]:
    """Decisions whose host is *domain* or under it (or whose registrable domain it is)."""
    d = domain.lower().rstrip(".")
    return [i for (i,) in db.execute(
        "SELECT id FROM decisions WHERE domain = ? OR origin LIKE ? OR origin LIKE ? "
        "OR origin LIKE ? OR origin LIKE ? ORDER BY id",
        [d, f"%://{d}", f"%://{d}:%", f"%.{d}", f"%.{d}:%"])]


def _decision_summary(rec: dict[str, Any]) -> dict[str, Any]:
    return {"ledger": rec.get("ledger"), "decision": rec["id"], "url": rec["url"],
            "at": rec["at"], "allowed": rec["allowed"], "stage": rec["stage"],
            "status": rec["status"],
            "reasons": [{k: r.get(k) for k in ("protocol", "verdict", "rule", "detail")}
                        for r in rec["reasons"]],
            "rights_documents": [{k: s.get(k) for k in ("kind", "url", "fetched_at",
                                                        "status", "sha256")}
                                 for s in rec["snapshots"]]}


def ledger_evidence(ledgers: list[tuple[str, Any]], urls: list[str],
                    domains: list[str]) -> dict[str, Any]:
    """What the ledgers hold for each URL (every decision, with the rights
    documents in force) and each domain (counts, first and last decision)."""
    from tdmguard.crawler.evidence import evidence_across

    out: dict[str, Any] = {"ledgers": [name for name, _ in ledgers], "urls": [],
                           "domains": []}
    for url in urls:
        ev = evidence_across(ledgers, url)
        out["urls"].append({"url": url, "decisions": [_decision_summary(r)
                                                      for r in ev["records"]]})
    for domain in domains:
        counts: dict[str, int] = {}
        total, first, last, refused_urls = 0, None, None, set()
        for _name, db in ledgers:
            ids = domain_ids(db, domain)
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                for row in db.query(f"SELECT url, at, allowed, stage FROM decisions WHERE id "
                                    f"IN ({', '.join('?' * len(part))})", part):
                    total += 1
                    key = "allowed" if row["allowed"] else row["stage"]
                    counts[key] = counts.get(key, 0) + 1
                    first = min(first or row["at"], row["at"])
                    last = max(last or row["at"], row["at"])
                    if not row["allowed"]:
                        refused_urls.add(row["url"])
        out["domains"].append({"domain": domain, "decisions": total, "by_verdict": counts,
                               "first": first, "last": last,
                               "refused_urls": len(refused_urls)})
    return out


def show_document(rec: dict[str, Any], md: bool) -> str:
    """A complaint as plain text or Markdown; what complainants wrote is escaped."""
    from tdmguard.middlewares.escape import escape_md

    e = escape_md if md else escape_text
    h1, h2, item = ("# ", "\n## ", "- ") if md else ("", "\n", "  ")
    out = [f"{h1}Complaint {e(rec['reference'])}: {e(rec['status'])}"
           + (f" ({e(rec['reason'])})" if rec["reason"] else "")]
    fields = [("Received", rec["received_at"]), ("Channel", rec["channel"]),
              ("Complainant", ", ".join(x for x in (rec["complainant_name"],
                                                     rec["complainant_organisation"],
                                                     rec["complainant_email"]) if x)
               or "(purged)"),
              ("Capacity", rec["capacity"]), ("Rightsholder", rec["rightsholder"] or
                                              "(purged)"),
              ("Commitment", rec["commitment"]), ("Language", rec["language"]),
              ("Acknowledge by", rec["acknowledge_by"]), ("Decide by", rec["decide_by"])]
    if rec["overdue"]:
        fields.append(("OVERDUE", rec["overdue"]))
    if rec["duplicate_of"]:
        fields.append(("Identical to the answered complaint", rec["duplicate_of"]))
    out += [f"{item}{k}: {e(v)}" for k, v in fields]
    out.append(f"{h2}Description")
    out += [f"{item}{e(line)}" for line in (rec["description"] or "(purged)").split("\n")]
    out.append(f"{h2}Works concerned")
    for w in rec["works"]:
        out.append(f"{item}{e(w['description'] or '(purged)')}")
        out += [f"{item}  URL {e(u)}" for u in w["urls"]]
        out += [f"{item}  domain {e(d)}" for d in w["domains"]]
    if rec["evidence_links"] or rec["attachments"]:
        out.append(f"{h2}Supporting evidence")
        out += [f"{item}{e(link)}" for link in rec["evidence_links"]]
        out += [f"{item}{e(a['filename'])} ({a['size']} bytes, sha256 {a['sha256']})"
                for a in rec["attachments"]]
    out.append(f"{h2}History")
    for h in rec["history"]:
        extra = "".join(f" [{e(x)}]" for x in (h["reason"],) if x)
        note = f": {e(h['note'])}" if h["note"] else ""
        out.append(f"{item}{e(h['at'])} {e(h['action'])}{extra} by {e(h['actor'])}{note}")
    if rec["reservations"]:
        out.append(f"{h2}Reservations added")
        for r in rec["reservations"]:
            state = f"withdrawn {r['withdrawn']}" if r["withdrawn"] else "in force"
            out.append(f"{item}{e(r['pattern'])} ({e(r['kind'])}), added {e(r['added'])}, "
                       f"{e(state)}")
    ev = rec.get("evidence")
    if ev is not None:
        out.append(f"{h2}What the ledgers hold ({e(', '.join(ev['ledgers']))})")
        for u in ev["urls"]:
            out.append(f"{item}{e(u['url'])}: " + (f"{len(u['decisions'])} decisions"
                                                   if u["decisions"] else "never requested "
                                                   "or decided"))
            for d in u["decisions"]:
                verdict = "fetched" if d["allowed"] else f"REFUSED ({d['stage']})"
                out.append(f"{item}  {e(d['at'])} {e(verdict)} status {e(d['status'])} "
                           f"(decision #{d['decision']} in {e(d['ledger'])})")
                out += [f"{item}    {e(r['protocol'])} {e(r['verdict'])}: {e(r['detail'])}"
                        for r in d["reasons"]]
                out += [f"{item}    under {e(s['kind'])} {e(s['url'])} fetched "
                        f"{e(s['fetched_at'])} sha256 {e(s['sha256'])}"
                        for s in d["rights_documents"]]
        for d in ev["domains"]:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(d["by_verdict"].items()))
            out.append(f"{item}{e(d['domain'])} (domain): {d['decisions']} decisions"
                       + (f" from {e(d['first'])} to {e(d['last'])}: {e(counts)}"
                          if d["decisions"] else ""))
    return "\n".join(out)
