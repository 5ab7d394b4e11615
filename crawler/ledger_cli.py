"""The commands that read ledgers: ``evidence``, ``verify`` and ``summary``.

Each takes ``--db`` once or more (a ledger file, or a directory of ``*.db``
ledgers) and answers for all of them as one. Ledgers are opened read-only and
closed when the command ends.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import click

from tdmguard.crawler.checkpoint_cli import checkpoint_args, checkpoint_options
from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    fail,
    ledgers_option,
    open_ledgers,
    write_bundle,
)
from tdmguard.crawler.output import emit, output_options, render
from tdmguard.middlewares.escape import escape_md, escape_text

#: Columns of an evidence record in csv and md output (nested ones JSON-encoded).
EVIDENCE_COLUMNS = ("ledger", "id", "at", "allowed", "stage", "status", "reasons",
                    "snapshots", "content_sha256", "user_agent", "purpose", "crawl_id",
                    "hash", "warc")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("url", required=False)
@ledgers_option
@click.option("--domain", help="All decisions under this registrable domain, with counts.")
@click.option("--prefix", is_flag=True,
              help="URL is a prefix: every decision for a URL that starts with it.")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False), default=None,
              help="Also write an evidence bundle (zip): the decisions, every rights "
              "document they cite, the chain stretch that holds them, and a plain-Python "
              "checker (tdmguard verify --bundle FILE).")
@output_options(help="URL: table and md print a document with each rights document's "
                "text, json one object, jsonl and csv one record per decision. --domain: "
                "json one object, the others one row per count.")
def evidence(url: str | None, dbs: tuple[str, ...], domain: str | None, prefix: bool,
             bundle_path: str | None, fmt: str) -> None:
    """Every decision for URL, newest first, with its reasons and the full text
    of each rights document in force at the time. With several ledgers, the
    records of all of them, each naming its ledger. URL is looked up in every
    form a crawl stores it in (scheme and host case, default port and fragment
    do not matter) and the output says which forms were looked up.

    \b
    Example:
        tdmguard evidence https://example.com/a --db ledger.db --format md
        tdmguard evidence https://example.com/a --db ledgers/ --db old.db --format csv
        tdmguard evidence https://example.com/news/ --prefix --db ledger.db
        tdmguard evidence --domain example.com --db ledger.db
        tdmguard evidence --domain example.com --db ledger.db --bundle example.zip
    """
    from tdmguard.crawler.evidence import (
        domain_counts,
        evidence_across,
        evidence_for_domain,
        render_url_evidence,
    )

    if bool(url) == bool(domain):
        raise fail("give either a URL or --domain DOMAIN")
    if prefix and domain:
        raise fail("--prefix goes with a URL, not --domain")
    ledgers = open_ledgers(dbs)
    if bundle_path:
        write_evidence_bundle(bundle_path, ledgers, url, domain, prefix)
    if domain:
        ev = evidence_for_domain([db for _, db in ledgers], domain)
        ev["ledgers"] = [name for name, _ in ledgers]
        if fmt == "json":
            emit(json.dumps(ev, indent=2))
        elif fmt == "table":
            click.echo(f"{escape_text(ev['domain'])}: {ev['decisions']} decisions over "
                       f"{ev['urls']} URLs")
            for k, v in sorted(ev["by_verdict"].items()):
                click.echo(f"  {escape_text(k)}: {v}")
            for k, v in ev["by_protocol"].items():
                click.echo(f"  {escape_text(k)}: {v}")
        else:
            emit(render(domain_counts(ev), fmt))
        return
    ev = evidence_across(ledgers, url or "", prefix=prefix)
    if fmt in ("table", "md", "json"):
        emit(render_url_evidence(ev, fmt))
    else:
        emit(render(ev["records"], fmt, columns=EVIDENCE_COLUMNS))


@click.command(context_settings=CONTEXT_SETTINGS)
@functools.partial(ledgers_option, required=False)
@output_options(help="table: one line per ledger (failures on stderr); the others one "
                "record per ledger: ledger, ok, decisions, problem.")
@checkpoint_options
@click.option("--strict", is_flag=True,
              help="Exit 1 also when a crawl did not finish (no finish record).")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False), default=None,
              help="Check an evidence bundle instead of ledgers (no --db needed).")
@click.pass_context
def verify(ctx: click.Context, dbs: tuple[str, ...], fmt: str, checkpoint_file: str | None,
           key: str | None, strict: bool, bundle_path: str | None) -> None:
    """Recompute each ledger's hash chain and every snapshot's sha256, and
    report per ledger. Exit 0 when all are intact; 1 when any is not, naming
    its first bad row. A crawl with no finish time (killed, or still running)
    is reported as "did not finish" with how many seconds of decisions may be
    missing (its flush interval); with --strict that is exit 1 too.

    \b
    Example:
        tdmguard verify --db ledger.db
        tdmguard verify --db ledgers/ --format json
        tdmguard verify --bundle evidence.zip
    """
    from tdmguard.middlewares.ledger import verify as verify_chain

    if bundle_path:
        from tdmguard.crawler.bundle import verify_bundle

        if dbs:
            raise fail("give either --bundle FILE or --db, not both")
        if not Path(bundle_path).is_file():
            raise fail(f"no bundle at {bundle_path}")
        ok, message = verify_bundle(bundle_path)
        click.echo(escape_text(message), err=not ok)
        ctx.exit(0 if ok else EXIT_PROBLEM)
    if not dbs:
        raise fail("give --db LEDGER (repeatable) or --bundle FILE")

    results: list[dict[str, Any]] = []
    ledgers = open_ledgers(dbs)
    against = checkpoint_args(checkpoint_file, key, len(ledgers))
    for name, db in ledgers:
        ok, count, problem = verify_chain(db, **against)
        results.append({"ledger": name, "ok": ok, "decisions": count,
                        "problem": None if ok else problem,
                        "unfinished": unfinished_crawls(db)})
    if fmt == "table":
        for r in results:
            where = escape_text(r["ledger"])
            if r["ok"]:
                click.echo(f"OK: {r['decisions']} decisions, hash chain intact in {where}")
            else:
                click.echo(f"TAMPERED: {escape_text(r['problem'])} ({r['decisions']} "
                           f"decisions verified before it) in {where}", err=True)
            for c in r["unfinished"]:
                started = escape_text(c["started_at"])
                click.echo(f"WARNING: crawl {c['crawl_id']} (started {started})"
                           f" did not finish: up to {c['up_to_seconds']:g} s of decisions may be "
                           f"missing in {where}", err=True)
    else:
        emit(render(results, fmt))
    if not all(r["ok"] for r in results):
        ctx.exit(EXIT_PROBLEM)
    if strict and any(r["unfinished"] for r in results):
        ctx.exit(EXIT_PROBLEM)


def write_evidence_bundle(path: str, ledgers: list[tuple[str, Any]], url: str | None,
                          domain: str | None, prefix: bool) -> None:
    from tdmguard.crawler.evidence import evidence_for_url

    chosen = []
    for name, db in ledgers:
        if domain:
            ids = [i for (i,) in db.execute("SELECT id FROM decisions WHERE domain = ? "
                                            "ORDER BY id", [domain.lower().rstrip(".")])]
        else:
            ids = sorted(r["id"] for r in evidence_for_url(db, url or "", prefix)["records"])
        chosen.append((name, db, ids))
    subject = {"domain": domain} if domain else {"url": url, "prefix": prefix}
    write_bundle(path, subject, chosen,
                 "nothing recorded for " + (f"--domain {domain}" if domain else repr(url)))


def unfinished_crawls(db: Any) -> list[dict[str, Any]]:
    """Crawls with no finish record: killed (SIGKILL, power loss) or still
    running; each may miss up to its flush interval of decisions."""
    out = []
    for row in db.query("SELECT id, started_at, settings FROM crawls "
                        "WHERE finished_at IS NULL ORDER BY id"):
        settings = json.loads(row["settings"] or "{}")
        out.append({"crawl_id": row["id"], "started_at": row["started_at"],
                    "up_to_seconds": float(settings.get("TDMGUARD_DB_FLUSH_INTERVAL") or 1.0)})
    return out


@click.command(context_settings=CONTEXT_SETTINGS)
@ledgers_option
@output_options(default="md", help="md: the summary as Markdown; json: the whole summary "
                "as one object; table, jsonl, csv: the top-domains list alone.")
@click.option("--sme", is_flag=True, help="SME rule: top 5% or 1,000 domains, the lower.")
def summary(dbs: tuple[str, ...], fmt: str, sme: bool) -> None:
    """Crawl-related content of the Commission's public training-content
    summary template (sections 2.3 and 3.1), over every crawl of every ledger.

    \b
    Example:
        tdmguard summary --db ledger.db --format md
        tdmguard summary --db ledgers/ --format csv
    """
    from tdmguard.policy.training_summary import summary as make_summary

    s = make_summary([db for _, db in open_ledgers(dbs)], sme=sme)
    if fmt == "json":
        emit(json.dumps(s, indent=2))
    elif fmt == "md":
        emit(summary_md(s))
    else:
        emit(render(s["section_2_3"]["top_domains"], fmt, columns=("domain", "bytes", "pages")))


def summary_md(s: dict[str, Any]) -> str:
    a, b = s["section_2_3"], s["section_3_1"]
    e = escape_md
    out = ["## 2.3 Data crawled and scraped from online sources", "",
           f"- Crawler names: {', '.join(e(x) for x in a['crawler_names'])}",
           f"- User agents: {'; '.join(e(x) for x in a['user_agents'])}",
           f"- Purposes: {', '.join(e(x) for x in a['purposes'])}",
           f"- Behaviour: {e(a['crawler_behaviour'])}",
           (f"- Collection period: {e(a['collection_period']['from'])} to "
            f"{e(a['collection_period']['to'])}"),
           (f"- Most relevant domains ({e(a['top_domains_rule'])}, of "
            f"{a['domains_crawled']}):")]
    out += [f"  - {e(d['domain'])} ({d['bytes']} bytes, {d['pages']} pages)"
            for d in a["top_domains"]]
    out += ["", "## 3.1 Respect of reservation of rights", "",
            f"- Protocols honoured: {', '.join(e(p) for p in b['opt_out_protocols_honoured'])}"]
    out += [f"  - {e(p)}: {n} pages refused before download"
            for p, n in b["pages_refused_by_protocol"].items()]
    out += [f"  - {e(p)}: {n} pages dropped after download"
            for p, n in b["pages_dropped_by_protocol"].items()]
    return "\n".join(out)
