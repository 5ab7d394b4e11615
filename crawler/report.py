"""``tdmguard report``: one self-contained HTML page over one ledger or several.

The page (``crawler/data/templates/report.html.j2``) shows the totals,
refusals by protocol, the most refused domains, decisions over time, the
crawls with their recorded settings, a table of domains linking to the
evidence section of each of the most refused ones, and, when a ledger holds
audits, their figures and history flags beside the crawl's. It needs no
network and no script to read: CSS is inline and the charts are inline SVG
written by the template from numbers (:mod:`tdmguard.crawler.report_svg`).

Safety: every string from the web or a ledger goes through Jinja2's
autoescape (SVG text included), after its control characters are made
visible (:func:`tdmguard.crawler.output.escape_text`); nothing from a ledger
is marked safe, and no URL from a ledger becomes a link (it could be
``javascript:``); in-page links use anchors the report numbers itself.

Speed: every count is an SQL aggregate, one pass over the decisions each
(outcomes per origin and crawl, per time bucket, refusal protocols), run at
once on their own read-only connections; only the top ``sections`` domains
get an evidence section (their latest refusals by the domain index, the
latest fetch of each rights document); the page is streamed to the file.

Why it is long: the page has many sections (totals, refusals by protocol, the
most refused domains, decisions over time, crawls, audits, the domain table,
one evidence section per domain), and each needs its own SQL aggregate and its
own shaping for the template; :func:`gather` joins them into the one context
the template renders. The drawing already lives in
:mod:`tdmguard.crawler.report_svg`; what is left shares the read-only
connections and the outcome and JSON helpers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from tdmguard.crawler import report_svg
from tdmguard.middlewares import describe
from tdmguard.middlewares.escape import escape_text
from tdmguard.middlewares.vocab import BLOCKING_VERDICTS

TEMPLATES = Path(__file__).parent / "data" / "templates"
#: Domains with an evidence section (the most refused first).
SECTIONS = 50
#: Rows of the domain table (most decisions first).
TABLE_ROWS = 1000
#: Latest refusals shown per evidence section.
SAMPLES = 10
#: Origins named, and rights documents shown, per evidence section.
ORIGINS, DOCUMENTS = 20, 12
#: Characters of each rights document shown (the ledger keeps them all).
BODY_CHARS = 20_000
#: Domains per audit in the crawled-and-used table.
USED_ROWS = 200
#: Bars of the top-refused-domains and protocol charts.
CHART_ROWS = 15

OUTCOME_KEYS = ("allowed", "refused", "dropped", "failed", "other")
#: One row's outcome counts, as SQL aggregates over the decisions.
_OUTCOME_SQL = ("count(*), sum(allowed = 1), sum(allowed = 0 AND stage = 'refused'), "
                "sum(allowed = 0 AND stage = 'dropped'), sum(allowed = 0 AND stage = 'failed')")


# -- the passes over the decisions: each an SQL aggregate, each on its own connection ----


def _connect(path: str) -> sqlite3.Connection:
    """A read-only connection of its own, usable from a worker thread."""
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _outcomes(row: Sequence[Any]) -> Counter[str]:
    """``count, allowed, refused, dropped, failed`` as a Counter with ``other``."""
    n, allowed, refused, dropped, failed = (int(v or 0) for v in row)
    return Counter({"allowed": allowed, "refused": refused, "dropped": dropped,
                    "failed": failed, "other": n - allowed - refused - dropped - failed})


def _pass_origins(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Outcomes, pages and bytes per (origin, crawl); each origin's domain."""
    return conn.execute(
        f"SELECT origin, min(domain), crawl_id, {_OUTCOME_SQL}, "
        "sum(CASE WHEN allowed = 1 AND stage = 'fetched' AND status BETWEEN 200 AND 299 "
        "THEN 1 ELSE 0 END), "
        "sum(CASE WHEN allowed = 1 AND stage = 'fetched' AND status BETWEEN 200 AND 299 "
        "THEN content_length END) "
        "FROM decisions NOT INDEXED GROUP BY origin, crawl_id").fetchall()


def _pass_time(conn: sqlite3.Connection, width: int) -> list[tuple[Any, ...]]:
    """Decisions per time bucket (the first ``width`` characters of ``at``),
    allowed and stage (a plain count sorts faster than conditional sums)."""
    return conn.execute("SELECT substr(at, 1, ?) AS bucket, allowed, stage, count(*) "
                        "FROM decisions NOT INDEXED GROUP BY bucket, allowed, stage",
                        [width]).fetchall()


def _outcome(allowed: Any, stage: Any) -> str:
    if allowed == 1:
        return "allowed"
    return stage if stage in ("refused", "dropped", "failed") else "other"


def _pass_protocols(conn: sqlite3.Connection) -> Counter[tuple[str, str, str]]:
    """Refusals (before download) and drops (after) per (domain, stage,
    protocol), each decision counted once per protocol that reserved it (as
    ``summary`` counts them). Decisions of one domain mostly share their
    reasons, so each distinct reasons text is parsed once."""
    groups = Counter(conn.execute(
        "SELECT domain, stage, reasons FROM decisions NOT INDEXED "
        "WHERE allowed = 0 AND stage IN ('refused', 'dropped')"))
    parsed: dict[str, frozenset[str]] = {}
    out: Counter[tuple[str, str, str]] = Counter()
    for (domain, stage, reasons), n in groups.items():
        protocols = parsed.get(reasons)
        if protocols is None:
            protocols = parsed[reasons] = _blocking_protocols(reasons)
        for p in protocols:
            out[(domain or "", stage, p)] += n
    return out


def _blocking_protocols(reasons: Any) -> frozenset[str]:
    try:
        items = json.loads(reasons or "[]")
        return frozenset(str(r.get("protocol")) for r in items
                         if isinstance(r, dict) and r.get("verdict") in BLOCKING_VERDICTS)
    except (ValueError, TypeError, AttributeError):
        return frozenset({"(unreadable reasons)"})


# -- time buckets -------------------------------------------------------------------------

#: Bucket widths (characters of an ISO 8601 time) and how to read them.
_LEVELS = {19: "%Y-%m-%dT%H:%M:%S", 16: "%Y-%m-%dT%H:%M", 13: "%Y-%m-%dT%H",
           10: "%Y-%m-%d", 7: "%Y-%m"}
_NAMES = {19: "second", 16: "minute", 13: "hour", 10: "day", 7: "month"}
MAX_BARS = 120


def _parse(key: str, width: int) -> datetime | None:
    try:
        return datetime.strptime(key, _LEVELS[width]).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _step(t: datetime, width: int) -> datetime:
    if width == 7:
        return t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)
    seconds = {19: 1, 16: 60, 13: 3600, 10: 86400}[width]
    return t + timedelta(seconds=seconds)


def _buckets(rows: Iterable[tuple[Any, ...]], width: int) -> tuple[dict[datetime, Counter[str]],
                                                                    Counter[str]]:
    dated: dict[datetime, Counter[str]] = defaultdict(Counter)
    undated: Counter[str] = Counter()
    for key, allowed, stage, n in rows:
        t = _parse(key, width) if isinstance(key, str) and len(key) == width else None
        (undated if t is None else dated[t])[_outcome(allowed, stage)] += n
    return dated, undated


def _roll_up(dated: dict[datetime, Counter[str]], width: int) -> dict[datetime, Counter[str]]:
    out: dict[datetime, Counter[str]] = defaultdict(Counter)
    for t, c in dated.items():
        t = t.replace(day=1, hour=0) if width == 7 else t.replace(hour=0)
        out[t].update(c)
    return out


def timeline(conns: Sequence[sqlite3.Connection],
             hourly: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """Decisions per bucket, the bucket a month, day, hour, minute or second,
    whichever gives a readable number of bars; empty buckets included."""
    def span(dated: dict[datetime, Counter[str]]) -> timedelta:
        return max(dated) - min(dated)

    width = 13
    dated, undated = _buckets(hourly, width)
    if dated and span(dated) > timedelta(days=3):
        width = 10 if span(dated) <= timedelta(days=MAX_BARS) else 7
        dated = _roll_up(dated, width)
    elif dated and span(dated) <= timedelta(hours=2):
        # A short crawl: one more pass, by minute, or by second within two minutes.
        width = 16
        dated, undated = _buckets([r for c in conns for r in _pass_time(c, width)], width)
        if dated and span(dated) <= timedelta(minutes=2):
            width = 19
            dated, undated = _buckets([r for c in conns for r in _pass_time(c, width)], width)
    labels: list[str] = []
    values: list[Counter[str]] = []
    day = None
    if dated:
        t, end = min(dated), max(dated)
        # Within one day, a bar's label is its time of day; the day is said once.
        day = t.strftime("%Y-%m-%d") if width > 10 and t.date() == end.date() else None
        fmt = _LEVELS[width].split("T")[1] if day else _LEVELS[width]
        while t <= end and len(labels) <= 2000:
            labels.append(t.strftime(fmt).replace("T", " "))
            values.append(dated.get(t, Counter()))
            t = _step(t, width)
    chart = report_svg.stacked_columns(labels, values) if labels else None
    return {"unit": _NAMES[width], "day": day, "chart": chart, "undated": sum(undated.values()),
            "rows": [{"label": lab, **{k: v.get(k, 0) for k in OUTCOME_KEYS}}
                     for lab, v in zip(labels, values, strict=True) if sum(v.values())]}


# -- gathering ----------------------------------------------------------------------------


def _run_passes(ledgers: Sequence[tuple[str, Any]]
                ) -> tuple[list[sqlite3.Connection], list[list[Any]]]:
    """The three passes over every ledger, at once (SQLite releases the GIL
    while it steps, so the passes use every core)."""
    conns = [_connect(path) for path, _db in ledgers for _ in range(3)]
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    for i in range(len(ledgers)):
        c = conns[3 * i: 3 * i + 3]
        jobs += [(_pass_origins, (c[0],)), (_pass_time, (c[1], 13)), (_pass_protocols, (c[2],))]
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(3, os.cpu_count() or 1))) as pool:
            results = [f.result() for f in [pool.submit(fn, *args) for fn, args in jobs]]
    except BaseException:
        for conn in conns:
            conn.close()
        raise
    return conns, [results[3 * i: 3 * i + 3] for i in range(len(ledgers))]


def _columns(db: Any, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def _json(text: Any, default: Any) -> Any:
    try:
        value = json.loads(text) if text else default
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, type(default)) else default


def _crawls(name: str, db: Any, counts: dict[Any, Counter[str]]) -> list[dict[str, Any]]:
    out = []
    cur = db.execute("SELECT * FROM crawls ORDER BY id")
    names = [d[0] for d in cur.description]
    for row in cur.fetchall():
        c = dict(zip(names, row, strict=True))
        settings = _json(c.get("settings"), {})
        lists = [b for b in _json(c.get("blocklists"), []) if isinstance(b, dict)]
        got = counts.get(c["id"], Counter())
        out.append({
            "ledger": name, "id": c["id"], "started_at": c.get("started_at"),
            "finished_at": c.get("finished_at"), "finish_reason": c.get("finish_reason"),
            "user_agent": c.get("user_agent"), "tokens": ", ".join(
                str(t) for t in _json(c.get("tokens"), [])),
            "mode": c.get("mode"), "purpose": c.get("purpose"),
            "version": c.get("tdmguard_version"), "psl_version": c.get("psl_version"),
            "decisions": sum(got.values()), "outcomes": got,
            "blocklists": [{"name": b.get("name"), "edition": b.get("edition"),
                            "kind": b.get("kind"), "entries": b.get("entries")} for b in lists],
            "switched_off": describe.switched_off([settings]),
            "settings": [{"name": k, "value": v if isinstance(v, str) else json.dumps(v)}
                         for k, v in sorted(settings.items())],
        })
    return out


def _latest_fetches(db: Any) -> dict[str, list[dict[str, Any]]]:
    """The latest fetch of each rights document kind, per origin."""
    if "origin" in _columns(db, "snapshot_fetches"):
        sql = ("SELECT origin, kind, url, max(fetched_at), snapshot_id FROM snapshot_fetches "
               "GROUP BY origin, kind")
    else:  # a ledger from before migration 004
        sql = "SELECT origin, kind, url, max(fetched_at), id FROM snapshots GROUP BY origin, kind"
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for origin, kind, url, at, sid in db.execute(sql).fetchall():
        out[origin or ""].append({"kind": kind, "url": url, "fetched_at": at,
                                  "snapshot_id": sid})
    return out


def _audits(name: str, db: Any) -> list[dict[str, Any]]:
    """The audits of one ledger (migration 005) with their rows counted per
    domain, verdict and history flag; none when the ledger has no audit table."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audits'"
                      ).fetchone() or "audit_id" not in _columns(db, "audit_rows"):
        return []
    cur = db.execute("SELECT * FROM audits ORDER BY id")
    names = [d[0] for d in cur.description]
    audits: dict[Any, dict[str, Any]] = {}
    for row in cur.fetchall():
        a = dict(zip(names, row, strict=True))
        summary = _json(a.get("summary"), {})
        reserved = next((v for v in (summary.get("reserved_by_protocol"),
                                     summary.get("reserved")) if isinstance(v, dict)), {})
        options = _json(a.get("options"), {})
        audits[a["id"]] = {
            "ledger": name, "id": a["id"], "key": a.get("key"),
            "started_at": a.get("started_at"), "finished_at": a.get("finished_at"),
            "inputs": [{"path": i.get("path"), "format": i.get("format"),
                        "column": i.get("column")}
                       for i in _json(a.get("inputs"), []) if isinstance(i, dict)],
            "options": [(k, v if isinstance(v, str) else json.dumps(v))
                        for k, v in sorted(options.items())],
            "crawl_ids": [c for c in _json(a.get("crawl_ids"), []) if isinstance(c, int)],
            "reserved_protocols": [{"protocol": str(p), "n": n}
                                   for p, n in sorted(reserved.items(),
                                                      key=lambda i: (-_int(i[1]), str(i[0])))],
            "verdicts": Counter(), "history": Counter(), "incomplete": 0,
            "domains": defaultdict(Counter)}
    # A row's domain is its own column when the audit filled it, else the
    # registrable domain of its origin (as the ledger computes decisions').
    for audit_id, key, is_domain, verdict, flag, n, incomplete in db.execute(
            "SELECT audit_id, coalesce(nullif(domain, ''), origin) AS key, "
            "nullif(domain, '') IS NOT NULL, verdict, history_flag, count(*), "
            "sum(allowed = 1 AND complete = 0) FROM audit_rows "
            "GROUP BY audit_id, key, verdict, history_flag").fetchall():
        found = audits.get(audit_id)
        if found is None:
            continue
        a = found
        domain = key if is_domain else _origin_domain(key or "")
        a["verdicts"][verdict or ""] += n
        if flag:
            a["history"][flag] += n
        a["incomplete"] += int(incomplete or 0)
        d = a["domains"][domain or ""]
        d["rows"] += n
        d[verdict or ""] += n
        if flag == "reserved at collection":
            d["at_collection"] += n
    return list(audits.values())


@lru_cache(maxsize=65536)
def _origin_domain(origin: str) -> str:
    from tdmguard.blocklists.domains import registrable_domain

    return registrable_domain(origin) if origin else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def gather(ledgers: Sequence[tuple[str, Any]], *, sections: int = SECTIONS,
           rows: int = TABLE_ROWS) -> dict[str, Any]:
    """Everything the page shows except the evidence sections' details."""
    conns, results = _run_passes(ledgers)
    audits = [a for name, db in ledgers for a in _audits(name, db)]
    audit_crawls = {(a["ledger"], c): a["id"] for a in audits for c in a["crawl_ids"]}
    domains: dict[str, dict[str, Any]] = {}
    crawled: dict[str, Counter[str]] = defaultdict(Counter)  # crawls that are not audits
    crawl_counts: list[dict[Any, Counter[str]]] = []
    protocols: Counter[tuple[str, str]] = Counter()
    per_domain_protocols: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    hourly: list[tuple[Any, ...]] = []
    for (name, _db), (origin_rows, time_rows, proto) in zip(ledgers, results, strict=True):
        by_crawl: dict[Any, Counter[str]] = defaultdict(Counter)
        for origin, domain, crawl_id, *rest in origin_rows:
            counts = _outcomes(rest[:5])
            pages, size = int(rest[5] or 0), rest[6]
            by_crawl[crawl_id].update(counts)
            d = domains.setdefault(domain or "", {
                "domain": domain or "", "outcomes": Counter(), "pages": 0, "bytes": None,
                "origins": set()})
            d["outcomes"].update(counts)
            d["pages"] += pages
            if size is not None:
                d["bytes"] = (d["bytes"] or 0) + int(size)
            d["origins"].add(origin or "")
            if (name, crawl_id) not in audit_crawls:
                c = crawled[domain or ""]
                c.update({"decisions": sum(counts.values()), "pages": pages,
                          "bytes": int(size or 0)})
        crawl_counts.append(by_crawl)
        hourly += time_rows
        for (domain, stage, p), n in proto.items():
            protocols[(stage, p)] += n
            per_domain_protocols[domain][(stage, p)] += n
    try:
        time_view = timeline(conns[1::3], hourly)
    finally:
        for conn in conns:
            conn.close()
    for d in domains.values():
        o = d["outcomes"]
        d.update({k: o.get(k, 0) for k in OUTCOME_KEYS})
        d["decisions"] = sum(o.values())
        d["reserved"] = d["refused"] + d["dropped"]
        top = per_domain_protocols.get(d["domain"], Counter()).most_common(1)
        d["top_protocol"] = top[0][0][1] if top else None
    ranked = sorted(domains.values(), key=lambda d: (-d["reserved"], -d["decisions"],
                                                     d["domain"]))
    chosen = [d for d in ranked if d["reserved"]][:sections]
    for n, d in enumerate(chosen, 1):
        d["anchor"] = f"dom-{n}"
    table = sorted(domains.values(), key=lambda d: (-d["decisions"], d["domain"]))
    totals: Counter[str] = Counter()
    for d in domains.values():
        totals.update(d["outcomes"])
    crawls = [c for (name, db), counts in zip(ledgers, crawl_counts, strict=True)
              for c in _crawls(name, db, counts)]
    for crawl in crawls:
        crawl["audit"] = audit_crawls.get((crawl["ledger"], crawl["id"]))
    for a in audits:
        a["verdicts"] = [{"verdict": v, "n": n} for v, n in a["verdicts"].most_common()]
        a["history"] = [{"flag": f, "n": n} for f, n in a["history"].most_common()]
        used = sorted(a.pop("domains").items(), key=lambda i: (-i[1]["rows"], i[0]))
        a["used"] = [{"domain": dom, "anchor": domains.get(dom, {}).get("anchor"),
                      "rows": u["rows"], "allowed": u["allowed"], "reserved": u["reserved"],
                      "unreachable": u["unreachable"], "at_collection": u["at_collection"],
                      "crawled_decisions": crawled.get(dom, Counter())["decisions"],
                      "crawled_pages": crawled.get(dom, Counter())["pages"],
                      "crawled_bytes": crawled[dom]["bytes"] if dom in crawled else None}
                     for dom, u in used[:USED_ROWS]]
        a["used_more"] = max(0, len(used) - USED_ROWS)
    proto_rows = sorted({p for _s, p in protocols},
                        key=lambda p: (-(protocols[("refused", p)] + protocols[("dropped", p)]),
                                       p))
    by_protocol: list[dict[str, Any]] = [{"protocol": p, "refused": protocols[("refused", p)],
                    "dropped": protocols[("dropped", p)]} for p in proto_rows]
    reserve_series = [("refused", "refused before download", "s-refused"),
                      ("dropped", "dropped after download", "s-dropped")]
    top_refused = [d for d in ranked if d["reserved"]][:CHART_ROWS]
    return {
        "totals": {**{k: totals.get(k, 0) for k in OUTCOME_KEYS},
                   "decisions": sum(totals.values()), "domains": len(domains),
                   "origins": sum(len(d["origins"]) for d in domains.values()),
                   "pages": sum(d["pages"] for d in domains.values()),
                   "bytes": sum(d["bytes"] or 0 for d in domains.values()),
                   "crawls": len(crawls), "audit_crawls": len(audit_crawls),
                   "audits": len(audits),
                   "documents": sum(db.execute("SELECT count(*) FROM snapshots").fetchone()[0]
                                    for _n, db in ledgers)},
        "timeline": time_view,
        "protocols": by_protocol,
        "protocol_chart": report_svg.stacked_rows(
            [(r["protocol"], r) for r in by_protocol[:CHART_ROWS]], reserve_series),
        "top_refused": top_refused,
        "top_refused_chart": report_svg.stacked_rows(
            [(d["domain"], d) for d in top_refused], reserve_series),
        "crawls": crawls, "audits": audits,
        "domains": table[:rows], "domains_more": max(0, len(table) - rows),
        "chosen": chosen, "per_domain_protocols": per_domain_protocols,
    }


# -- evidence sections --------------------------------------------------------------------


def _body(value: Any) -> tuple[list[str], bool]:
    """A document's first characters as lines (control characters made
    visible line by line), and whether it was cut."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
    cut = len(text) > BODY_CHARS
    return [escape_text(line) for line in text[:BODY_CHARS].splitlines()], cut


def _reasons(text: Any) -> list[dict[str, Any]]:
    items = _json(text, [])
    return [{k: r.get(k) for k in ("protocol", "verdict", "rule", "detail", "source")}
            for r in items if isinstance(r, dict)]


def evidence_sections(ledgers: Sequence[tuple[str, Any]], chosen: Sequence[dict[str, Any]],
                      per_domain_protocols: dict[str, Counter[tuple[str, str]]]
                      ) -> Iterator[dict[str, Any]]:
    """One evidence section per chosen domain, made when the page reaches it."""
    fetches = [_latest_fetches(db) for _name, db in ledgers]
    for d in chosen:
        domain = d["domain"]
        samples = []
        for name, db in ledgers:
            for rid, url, at, stage, status, reasons, error in db.execute(
                    "SELECT id, url, at, stage, status, reasons, error FROM decisions "
                    "WHERE domain = ? AND allowed = 0 ORDER BY id DESC LIMIT ?",
                    [domain, SAMPLES]).fetchall():
                samples.append({"ledger": name, "id": rid, "url": url, "at": at,
                                "stage": stage, "status": status, "error": error,
                                "reasons": _reasons(reasons)})
        samples.sort(key=lambda s: (str(s["at"] or ""), s["id"]), reverse=True)
        documents: list[dict[str, Any]] = []
        origins = sorted(d["origins"])
        for (name, db), latest in zip(ledgers, fetches, strict=True):
            wanted = [f for o in origins for f in latest.get(o, [])]
            for f in wanted[:DOCUMENTS - len(documents)]:
                snap = db.execute("SELECT status, error, sha256, substr(body, 1, ?), "
                                  "length(CAST(body AS BLOB)) FROM snapshots WHERE id = ?",
                                  [BODY_CHARS + 1, f["snapshot_id"]]).fetchone()
                if snap is None:
                    continue
                lines, cut = _body(snap[3])
                documents.append({**f, "ledger": name, "status": snap[0], "error": snap[1],
                                  "sha256": snap[2], "lines": lines, "cut": cut,
                                  "length": snap[4]})
        protos = per_domain_protocols.get(domain, Counter())
        yield {**d, "samples": samples[:SAMPLES], "documents": documents,
               "origins": origins[:ORIGINS], "origins_more": max(0, len(origins) - ORIGINS),
               "protocols": [{"protocol": p, "refused": protos[("refused", p)],
                              "dropped": protos[("dropped", p)]}
                             for p in sorted({p for _s, p in protos})]}


# -- rendering ----------------------------------------------------------------------------


def _visible(value: Any) -> Any:
    """Jinja2 ``finalize``: control characters in a string made visible, then
    autoescaped; the template's own markup (macro output) is left as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return escape_text(value)
    return value


def _num(value: Any) -> str:
    return f"{int(value or 0):,}"


def _size(value: Any) -> str:
    if value is None:
        return "\u2013"
    n = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


def _when(value: Any) -> str:
    """An ISO 8601 UTC time to the second, for narrow columns (the exact value
    goes in the cell's title)."""
    text = str(value or "")
    return text[:19].replace("T", " ") if len(text) >= 19 and text[10:11] == "T" else text


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, finalize=_visible,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, size=_size, when=_when)
    return env


def write_report(ledgers: Sequence[tuple[str, Any]], out: str, *, sections: int = SECTIONS,
                 rows: int = TABLE_ROWS, now: str | None = None) -> dict[str, Any]:
    """Write the report of ``ledgers`` (``(name, db)`` pairs) to ``out``
    (``-``: standard output) and return its totals. The file appears whole
    or not at all (written beside it, then renamed)."""
    from tdmguard.middlewares.settings import tdmguard_version

    started = time.perf_counter()
    data = gather(ledgers, sections=sections, rows=rows)
    page = environment().get_template("report.html.j2").generate(
        **data, sections=evidence_sections(ledgers, data["chosen"],
                                           data["per_domain_protocols"]),
        ledgers=[name for name, _db in ledgers], version=tdmguard_version(),
        generated_at=now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        section_limit=sections, outcomes=report_svg.OUTCOMES, body_chars=BODY_CHARS,
        documents_shown=DOCUMENTS)
    if out == "-":
        import sys

        for chunk in page:
            sys.stdout.write(chunk)
    else:
        target = Path(out)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(page)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return {**data["totals"], "seconds": time.perf_counter() - started}
