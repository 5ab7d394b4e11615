"""What the ledgers say for the Commission's public summary of training content.

:func:`summary` reads one ledger or several and answers the crawl-related
parts of the template (AI Act Art. 53(1)(d)): section 2.3 (crawler names,
user agents, purposes, behaviour, collection period, the most relevant
domains by bytes fetched: the top 10 %, or for an SME the top 5 % or 1,000)
and section 3.1 (the opt-out protocols and lawful-access measures every
recorded crawl had on, from the protocol registry over each crawl's recorded
settings; what was switched off; pages refused before download and dropped
after it, per protocol). ``tdmguard summary`` prints it; ``policy render
--db`` puts it in the policy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from tdmguard.middlewares import describe, registry
from tdmguard.middlewares.vocab import BLOCKING_VERDICTS

__all__ = ["honoured_protocols", "summary"]


def honoured_protocols(settings_per_crawl: list[dict[str, Any]],
                       kind: str = registry.OPT_OUT) -> list[str]:
    """Protocols every recorded crawl had switched on, each with where it was
    read, from the protocol registry (an unrecorded switch counts as on)."""
    return describe.honoured(list(settings_per_crawl), kind)


def _bytes_by_domain(dbs: list[sqlite_utils.Database]) -> list[dict[str, Any]]:
    """Bytes and pages fetched (2xx) per registrable domain, summed over every
    ledger, most bytes first (ties by domain)."""
    totals: dict[str, dict[str, Any]] = {}
    for d in dbs:
        for r in d.query(
                "SELECT domain, SUM(content_length) AS bytes, COUNT(*) AS pages FROM decisions "
                "WHERE allowed = 1 AND stage = 'fetched' AND status BETWEEN 200 AND 299 "
                "GROUP BY domain"):
            t = totals.setdefault(r["domain"], {"domain": r["domain"], "bytes": None,
                                                "pages": 0})
            if r["bytes"] is not None:  # SQL SUM: NULL when no length was known
                t["bytes"] = (t["bytes"] or 0) + r["bytes"]
            t["pages"] += r["pages"]
    return sorted(totals.values(), key=lambda t: (-(t["bytes"] or 0), str(t["domain"])))


def _month(ts: str | None) -> str:
    return f"{ts[5:7]}/{ts[0:4]}" if ts else ""


def summary(db: sqlite_utils.Database | Sequence[sqlite_utils.Database],
            sme: bool = False) -> dict[str, Any]:
    """The crawl-related parts of the Commission's public summary template,
    over every crawl of one ledger or of several (``db`` a list)."""
    dbs = [db] if isinstance(db, sqlite_utils.Database) else list(db)
    crawls = [c for d in dbs for c in d.query("SELECT * FROM crawls ORDER BY id")]
    tokens = sorted({t for c in crawls for t in json.loads(c["tokens"] or "[]")})
    user_agents = sorted({c["user_agent"] for c in crawls if c["user_agent"]})
    purposes = sorted({c["purpose"] for c in crawls if c["purpose"]})
    starts = [c["started_at"] for c in crawls if c["started_at"]]
    ends = [c["finished_at"] or c["started_at"] for c in crawls if c["started_at"]]
    by_bytes = _bytes_by_domain(dbs)
    n = len(by_bytes)
    top_n = max(1, -(-n * 10 // 100)) if n else 0
    if sme:
        top_n = min(max(1, -(-n * 5 // 100)), 1000) if n else 0
    # Refused before download (never requested) and dropped after download
    # (received, never passed on) are different facts: counted apart.
    refused: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for row in (r for d in dbs for r in d.query("SELECT stage, reasons FROM decisions "
                                                "WHERE allowed = 0")):
        counter = dropped if row["stage"] == "dropped" else refused
        if row["stage"] not in ("refused", "dropped"):
            continue  # a failed download is not a refusal by any protocol
        for p in {r["protocol"] for r in json.loads(row["reasons"])
                  if r["verdict"] in BLOCKING_VERDICTS}:
            counter[p] += 1
    recorded = [json.loads(c["settings"] or "{}") for c in crawls]
    honoured = honoured_protocols(recorded)
    behaviour = describe.behaviour(tokens, [(c["mode"] or "strict", settings)
                                            for c, settings in zip(crawls, recorded,
                                                                   strict=True)])
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
            "lawful_access_measures": honoured_protocols(recorded, registry.LAWFUL),
            "protocols_switched_off": describe.switched_off(recorded),
            "pages_refused_by_protocol": dict(sorted(refused.items())),
            "pages_dropped_by_protocol": dict(sorted(dropped.items())),
        },
    }
