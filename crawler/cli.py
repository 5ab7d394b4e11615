"""The ``tdmguard`` command line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import click

from tdmguard.middlewares.settings import ConfigError, parse_tokens, tdmguard_version
from tdmguard.middlewares.vocab import MODES, PURPOSES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class UsageFailure(click.ClickException):
    """A one-line error with exit status 2 (bad input, never a traceback)."""

    exit_code = 2


def fail(message: str) -> UsageFailure:
    return UsageFailure(message)


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise fail(f"not a usable URL: {url!r} (bad port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"not a usable URL: {url!r} (give an absolute http:// or https:// URL)")
    if any(c.isspace() for c in url.strip()):
        raise fail(f"not a usable URL: {url!r} (contains white space)")
    return url.strip()


def tokens_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--user-agent", "user_agent", metavar="TOKEN",
        envvar="TDMGUARD_USER_AGENT",
        help="Your crawler's RFC 9309 product token(s), comma-separated "
        "(env TDMGUARD_USER_AGENT).",
    )(f)


def mode_option(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--mode", type=click.Choice(MODES), default=None,
                     help="strict (default): also honour groups naming AI-training "
                     "crawlers; rfc: RFC 9309 literally.")(f)
    return click.option("--purpose", type=click.Choice(PURPOSES), default=None,
                        help="What the crawl is for (default train-ai).")(f)


def settings_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-s", "--set", "scrapy_settings", multiple=True, metavar="NAME=VALUE",
                        help="A Scrapy or TDMGUARD_* setting for this run (repeatable).")(f)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise fail(f"-s {pair!r}: write NAME=VALUE")
        out[name.strip()] = value
    return out


def crawl_overrides(user_agent: str | None, mode: str | None,
                    purpose: str | None) -> dict[str, Any]:
    try:
        tokens = parse_tokens(user_agent)
    except ConfigError as exc:
        raise fail(str(exc).replace("TDMGUARD_USER_AGENT", "--user-agent")) from None
    out: dict[str, Any] = {"TDMGUARD_USER_AGENT": ",".join(tokens)}
    if mode:
        out["TDMGUARD_MODE"] = mode
    if purpose:
        out["TDMGUARD_PURPOSE"] = purpose
    return out


def run_checked(spidercls_path: str, overrides: dict[str, Any], **kwargs: Any) -> Any:
    """Validate the settings (one-line error, exit 2), then run the crawl."""
    from scrapy.utils.misc import load_object

    from tdmguard.crawler.run import base_settings, run_crawl
    from tdmguard.middlewares.settings import Config

    try:
        Config.from_settings(base_settings(overrides))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    from tdmguard.crawler.run import CrawlFailed

    try:
        return run_crawl(load_object(spidercls_path), overrides, **kwargs)
    except CrawlFailed as exc:
        raise fail(str(exc)) from None


def decision_rows(urls: list[str], decisions: list[Any]) -> list[dict[str, Any]]:
    by_url: dict[str, Any] = {}
    for d in decisions:
        for u in [*d.redirect_urls, d.url]:
            by_url.setdefault(u, d)
        by_url[d.redirect_urls[0] if d.redirect_urls else d.url] = d
    from scrapy import Request

    rows = []
    for url in urls:
        # Scrapy canonicalises what it requests (case, IDNA, escapes): look
        # the decision up under the URL as requested.
        d = by_url.get(url) or by_url.get(Request(url).url)
        if d is None:
            rows.append({"url": url, "allowed": False, "stage": "none", "status": None,
                         "reasons": [{"protocol": "tdmguard", "verdict": "unreadable",
                                      "rule": "", "source": "",
                                      "detail": "no decision was recorded"}]})
            continue
        row = d.to_dict()
        row["url"] = url
        if d.url != url:
            row["final_url"] = d.url
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row))
    else:
        click.echo(render_table(rows))


def render_table(rows: list[dict[str, Any]]) -> str:
    lines = []
    width = max((len(r["url"]) for r in rows), default=10)
    width = min(width, 60)
    for r in rows:
        verdict = "ALLOWED" if r["allowed"] else "REFUSED"
        if r.get("stage") == "dropped":
            verdict = "DROPPED"
        blocking = [x for x in r["reasons"] if x["verdict"] in ("reserved", "unreadable")]
        shown = (blocking or r["reasons"])[:1]
        why = "; ".join(f"{x['protocol']}: {x['detail']} [{x['rule']}]" for x in shown)
        if len(blocking) > 1:
            why += f" (+{len(blocking) - 1} more)"
        if r.get("error"):
            why += f" download failed: {r['error']}"
        lines.append(f"{verdict:8} {r['url']:<{width}}  {why}")
    return "\n".join(lines)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(tdmguard_version(), prog_name="tdmguard")
def cli() -> None:
    """tdmguard: lawful, provable crawling for AI training.

    Enforces RFC 9309 robots.txt (fail-closed) and records every decision.
    """


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("urls", nargs=-1, required=True)
@tokens_option
@mode_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl"]),
              default="table", show_default=True)
@click.option("--blocklist", "blocklists", multiple=True, metavar="PATH",
              help="A blocklist file of your own, added to the shipped lists "
              "(repeatable; TDMGUARD_BLOCKLISTS).")
@settings_option
def check(urls: tuple[str, ...], user_agent: str | None, mode: str | None,
          purpose: str | None,
          fmt: str, blocklists: tuple[str, ...], scrapy_settings: tuple[str, ...]) -> None:
    """Decide each URL exactly as a crawl would (the page is fetched, content
    discarded). Exit 0 whatever the verdicts; 2 on bad input.

    \b
    Example:
        tdmguard check https://example.com/a --user-agent ExampleBot --format json
    """
    checked = [check_url(u) for u in urls]
    overrides = {**parse_settings(scrapy_settings), **crawl_overrides(user_agent, mode, purpose)}
    overrides = with_blocklists(overrides, blocklists)
    result = run_checked("tdmguard.crawler.spiders.check.CheckSpider", overrides, urls=checked)
    render(decision_rows(checked, result.decisions), fmt)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("seeds", nargs=-1, required=True)
@tokens_option
@mode_option
@click.option("--max-pages", type=click.IntRange(min=0), default=0,
              help="Stop after N pages reach the spider (0: no limit).")
@click.option("--depth", type=click.IntRange(min=0), default=0,
              help="Follow links at most D levels deep (0: no limit).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the items the spider saw as JSON lines.")
@click.option("--decisions", "decisions_out", type=click.Path(dir_okay=False), default=None,
              help="Write every decision as JSON lines.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, envvar="TDMGUARD_DB",
              help="Ledger file (SQLite) to record decisions in.")
@click.option("--blocklist", "blocklists", multiple=True, metavar="PATH",
              help="A blocklist file of your own, added to the shipped lists "
              "(repeatable; TDMGUARD_BLOCKLISTS).")
@settings_option
def crawl(seeds: tuple[str, ...], user_agent: str | None, mode: str | None,
          purpose: str | None,
          max_pages: int, depth: int, output: str | None, decisions_out: str | None,
          db: str | None, blocklists: tuple[str, ...],
          scrapy_settings: tuple[str, ...]) -> None:
    """Audit crawl: follow links within the seeds' hosts with every check on,
    then print one line per decision.

    \b
    Example:
        tdmguard crawl https://example.com/ --user-agent ExampleBot --max-pages 100
    """
    checked = [check_url(u) for u in seeds]
    overrides = {**parse_settings(scrapy_settings), **crawl_overrides(user_agent, mode, purpose)}
    overrides = with_blocklists(overrides, blocklists)
    if output:
        overrides["FEEDS"] = {output: {"format": "jsonlines", "overwrite": True}}
    if db:
        writable_ledger(db)
        overrides["TDMGUARD_DB"] = db
    result = run_checked("tdmguard.crawler.spiders.audit.AuditSpider", overrides, seeds=checked,
                         max_pages=max_pages, depth=depth)
    rows = [d.to_dict() for d in result.decisions]
    if decisions_out:
        with open(decisions_out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
    click.echo(render_table(rows))
    fetched = sum(1 for r in rows if r["allowed"] and r["stage"] == "fetched")
    click.echo(f"{len(rows)} decisions: {fetched} fetched, "
               f"{sum(1 for r in rows if not r['allowed'])} refused or dropped", err=True)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--mode", type=click.Choice(MODES), default="strict", show_default=True)
@click.option("--user-agent", "user_agent", default="DemoBot", show_default=True,
              metavar="TOKEN")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Also record the demo crawl in this ledger file.")
def demo(mode: str, user_agent: str, db: str | None) -> None:
    """Start the bundled sample web on 127.0.0.1, crawl it, and print what was
    fetched and what was refused and why.

    \b
    Example:
        tdmguard demo
    """
    from tdmguard.crawler.sampleweb import SEEDS, build_sample_web

    overrides = crawl_overrides(user_agent, mode, "train-ai")
    overrides["DOWNLOAD_TIMEOUT"] = 3
    if db:
        overrides["TDMGUARD_DB"] = db
    web = build_sample_web().start()
    os.environ["http_proxy"] = web.proxy_url
    os.environ.pop("no_proxy", None)
    os.environ.pop("NO_PROXY", None)
    try:
        result = run_checked("tdmguard.crawler.spiders.audit.AuditSpider", overrides, seeds=SEEDS)
    finally:
        web.stop()
    rows = [d.to_dict() for d in result.decisions]
    click.echo(f"tdmguard demo: {len(web.log)} HTTP requests to the sample web "
               f"(127.0.0.1), {len(rows)} decisions\n")
    click.echo(render_table(sorted(rows, key=lambda r: r["url"])))


def writable_ledger(path: str) -> None:
    """Fail with exit 2 before crawling when --db cannot be written as a ledger."""
    from tdmguard.middlewares.ledger import Ledger, LedgerError

    try:
        Ledger(path).close()
    except LedgerError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the ledger {path}: {exc}") from None


def open_ledger(path: str) -> Any:
    from tdmguard.middlewares.ledger import LedgerError, open_existing

    try:
        return open_existing(path)
    except LedgerError as exc:
        raise fail(str(exc)) from None


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("url", required=False)
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="TDMGUARD_DB",
              help="The ledger file.")
@click.option("--domain", help="All decisions under this registrable domain, with counts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table",
              show_default=True)
def evidence(url: str | None, db: str, domain: str | None, fmt: str) -> None:
    """Every decision for URL, newest first, with its reasons and the full text
    of each rights document in force at the time.

    \b
    Example:
        tdmguard evidence https://example.com/a --db ledger.db --format md
        tdmguard evidence --domain example.com --db ledger.db
    """
    from tdmguard.crawler.evidence import evidence_for_domain, evidence_for_url, render_url_evidence

    if bool(url) == bool(domain):
        raise fail("give either a URL or --domain DOMAIN")
    ledger = open_ledger(db)
    if domain:
        ev = evidence_for_domain(ledger, domain)
        if fmt == "json":
            click.echo(json.dumps(ev, indent=2))
        else:
            click.echo(f"{ev['domain']}: {ev['decisions']} decisions over {ev['urls']} URLs")
            for k, v in sorted(ev["by_verdict"].items()):
                click.echo(f"  {k}: {v}")
            for k, v in ev["by_protocol"].items():
                click.echo(f"  {k}: {v}")
        return
    click.echo(render_url_evidence(evidence_for_url(ledger, url or ""), fmt))


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="TDMGUARD_DB",
              help="The ledger file.")
def verify(db: str) -> None:
    """Recompute the ledger's hash chain and every snapshot's sha256.
    Exit 0 with a count when intact; 1 naming the first bad row.

    \b
    Example:
        tdmguard verify --db ledger.db
    """
    from tdmguard.middlewares.ledger import verify as verify_chain

    ok, count, problem = verify_chain(open_ledger(db))
    if not ok:
        click.echo(f"TAMPERED: {problem} ({count} decisions verified before it)", err=True)
        sys.exit(1)
    click.echo(f"OK: {count} decisions, hash chain intact")


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="TDMGUARD_DB",
              help="The ledger file.")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "csv"]), default="md",
              show_default=True, help="csv: the top-domains list alone.")
@click.option("--sme", is_flag=True, help="SME rule: top 5% or 1,000 domains, the lower.")
def summary(db: str, fmt: str, sme: bool) -> None:
    """Crawl-related content of the Commission's public training-content
    summary template (sections 2.3 and 3.1).

    \b
    Example:
        tdmguard summary --db ledger.db --format md
    """
    from tdmguard.crawler.evidence import summary as make_summary

    s = make_summary(open_ledger(db), sme=sme)
    if fmt == "json":
        click.echo(json.dumps(s, indent=2))
    elif fmt == "csv":
        click.echo("domain,bytes,pages")
        for d in s["section_2_3"]["top_domains"]:
            click.echo(f"{d['domain']},{d['bytes']},{d['pages']}")
    else:
        a, b = s["section_2_3"], s["section_3_1"]
        click.echo("## 2.3 Data crawled and scraped from online sources\n")
        click.echo(f"- Crawler names: {', '.join(a['crawler_names'])}")
        click.echo(f"- User agents: {'; '.join(a['user_agents'])}")
        click.echo(f"- Purposes: {', '.join(a['purposes'])}")
        click.echo(f"- Behaviour: {a['crawler_behaviour']}")
        click.echo(f"- Collection period: {a['collection_period']['from']} to "
                   f"{a['collection_period']['to']}")
        click.echo(f"- Most relevant domains ({a['top_domains_rule']}, of "
                   f"{a['domains_crawled']}):")
        for d in a["top_domains"]:
            click.echo(f"  - {d['domain']} ({d['bytes']} bytes, {d['pages']} pages)")
        click.echo("\n## 3.1 Respect of reservation of rights\n")
        click.echo(f"- Protocols honoured: {', '.join(b['opt_out_protocols_honoured'])}")
        for p, n in b["pages_refused_by_protocol"].items():
            click.echo(f"  - {p}: {n} pages refused")


# Lawful access (issue 5): the blocklist commands, and --blocklist of check/crawl.
from tdmguard.crawler.blocklist_cli import blocklist, with_blocklists  # noqa: E402

cli.add_command(blocklist)


def main() -> None:  # pragma: no cover
    sys.exit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
