"""The commands that crawl: ``check`` and ``crawl`` (``demo`` is in demo_cli.py)."""

from __future__ import annotations

import json
from typing import Any

import click

from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    Interrupted,
    blocklist_option,
    check_url,
    fail,
    mode_option,
    parse_settings,
    read_urls,
    settings_option,
    tokens_option,
    writable_ledger,
)
from tdmguard.crawler.output import emit, output_options, render
from tdmguard.crawler.progress import progress_options
from tdmguard.middlewares.settings import ConfigError, parse_tokens

#: Columns of a decision in csv and md output (nested ones JSON-encoded).
DECISION_COLUMNS = ("url", "allowed", "stage", "status", "reasons", "final_url",
                    "redirect_urls", "error", "snapshots", "content_sha256", "at")


def config_option(f: Any) -> Any:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        metavar="PATH",
        help="Crawl as a crawler identity of this tdmguard.toml, with its settings "
        "(--user-agent TOKEN picks the identity; default: the first). -s and the "
        "other options win over the file.")(f)


def config_settings(config_path: str | None, user_agent: str | None) -> dict[str, Any]:
    """The settings ``--config`` gives: ``[settings]`` and the identity's own
    (``tdmguard.policy.config.crawl_settings``); an unusable file is one line, exit 2."""
    if config_path is None:
        return {}
    from tdmguard.policy.config import ConfigError as TomlError
    from tdmguard.policy.config import crawl_settings, load

    identity = user_agent.split(",")[0].strip() if user_agent else None
    try:
        return crawl_settings(load(config_path), identity)
    except TomlError as exc:
        raise fail(str(exc)) from None


def crawl_overrides(user_agent: str | None, mode: str | None,
                    purpose: str | None, config: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """Settings from the command's options. With *config* (``--config``'s
    settings), --user-agent has picked the identity, whose tokens stand."""
    out: dict[str, Any] = {}
    if not config:
        try:
            tokens = parse_tokens(user_agent)
        except ConfigError as exc:
            raise fail(str(exc).replace("TDMGUARD_USER_AGENT", "--user-agent")) from None
        out["TDMGUARD_USER_AGENT"] = ",".join(tokens)
    if mode:
        out["TDMGUARD_MODE"] = mode
    if purpose:
        out["TDMGUARD_PURPOSE"] = purpose
    return out


def with_blocklists(overrides: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Add ``--blocklist`` paths to ``TDMGUARD_BLOCKLISTS``, then run the add-on's
    start-up checks (lists load, no credentials, an honest User-Agent), so a bad
    list file or setting is a one-line error with exit 2, before any request."""
    from tdmguard.crawler.run import base_settings
    from tdmguard.middlewares.addon import TdmGuard
    from tdmguard.middlewares.blocklist_settings import blocklist_paths

    out = dict(overrides)
    try:
        if paths:
            out["TDMGUARD_BLOCKLISTS"] = [*blocklist_paths(base_settings(out)), *paths]
        TdmGuard().update_settings(base_settings(out))
    except ValueError as exc:  # ConfigError, or a setting Scrapy cannot read
        raise fail(str(exc)) from None
    return out


def run_checked(spidercls_path: str, overrides: dict[str, Any], **kwargs: Any) -> Any:
    """Validate the settings (one-line error, exit 2), then run the crawl."""
    from scrapy.utils.misc import load_object

    from tdmguard.crawler.run import CrawlFailed, base_settings, run_crawl
    from tdmguard.middlewares.settings import Config

    try:
        Config.from_settings(base_settings(overrides))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    try:
        return run_crawl(load_object(spidercls_path), overrides, **kwargs)
    except CrawlFailed as exc:
        raise fail(str(exc)) from None


def with_progress(overrides: dict[str, Any], label: str, total: int | None, quiet: bool,
                  every: float) -> dict[str, Any]:
    """Add the progress extension (:class:`~tdmguard.crawler.progress.CrawlProgress`)
    to the crawl's ``EXTENSIONS``, keeping any the user gave."""
    from tdmguard.crawler.run import base_settings

    out = dict(overrides)
    try:
        extensions = dict(base_settings(out).getdict("EXTENSIONS"))
    except ValueError as exc:  # -s EXTENSIONS=... that is not a dict
        raise fail(f"EXTENSIONS: {exc}") from None
    extensions["tdmguard.crawler.progress.CrawlProgress"] = 900
    out["EXTENSIONS"] = extensions
    out["CLI_PROGRESS"] = {"label": label, "total": total, "quiet": quiet, "interval": every}
    return out


def interrupted(result: Any) -> bool:
    """Scrapy shut the crawl down (Ctrl-C once, SIGTERM: reason ``shutdown``)
    or was forced to stop (a second Ctrl-C: the spider never closed, so no
    finish reason at all) rather than finishing it."""
    reason = result.stats.get("finish_reason")
    return bool(reason is None or reason == "shutdown")


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


def decision_table(rows: list[dict[str, Any]]) -> str:
    """One line per decision: verdict, URL, the first blocking reason."""
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


def show_decisions(rows: list[dict[str, Any]], fmt: str) -> None:
    columns = [c for c in DECISION_COLUMNS if any(c in r for r in rows)]
    emit(render(rows, fmt, columns=columns, table=decision_table))


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("urls", nargs=-1, metavar="[URL|-]...")
@click.option("-i", "--input", "input_path", metavar="FILE",
              help="Read URLs from FILE, one per line (- for standard input; blank "
              "lines and # comments skipped).")
@tokens_option
@mode_option
@output_options
@blocklist_option
@settings_option
@config_option
@progress_options
def check(urls: tuple[str, ...], input_path: str | None, user_agent: str | None,
          mode: str | None, purpose: str | None, fmt: str, blocklists: tuple[str, ...],
          scrapy_settings: tuple[str, ...], config_path: str | None, quiet: bool,
          progress_every: float) -> None:
    """Decide each URL exactly as a crawl would (the page is fetched, content
    discarded). URLs come from the arguments, from --input FILE, or from
    standard input (-). Progress goes to standard error (--quiet: none).
    Exit 0 whatever the verdicts; 2 on bad input.

    \b
    Example:
        tdmguard check https://example.com/a --user-agent ExampleBot --format json
        tdmguard check -i urls.txt --user-agent ExampleBot --format csv
        cat urls.txt | tdmguard check - --user-agent ExampleBot
    """
    checked = read_urls(urls, input_path)
    config = config_settings(config_path, user_agent)
    overrides = crawl_overrides(user_agent, mode, purpose, config)
    overrides = {**config, **parse_settings(scrapy_settings), **overrides}
    overrides = with_blocklists(overrides, blocklists)
    overrides = with_progress(overrides, "check", len(checked), quiet, progress_every)
    result = run_checked("tdmguard.crawler.spiders.check.CheckSpider", overrides, urls=checked)
    show_decisions(decision_rows(checked, result.decisions), fmt)
    if interrupted(result):
        raise Interrupted()


@click.command(context_settings=CONTEXT_SETTINGS)
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
@click.option("--warc", "warc_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.warc.gz",
              help="Also write every page the spider got, and every rights document "
              "fetched, as WARC response records (appended; needs --db: each page "
              "record names its decision id).")
@click.option("--redis", "redis_url", default=None, metavar="redis://HOST:PORT/DB",
              help="Crawl as one worker of a distributed crawl sharing this Redis "
              "(queue, politeness, rights documents); run it once per worker, each "
              "with its own --db (TDMGUARD_REDIS_URL; README, Scale-out).")
@output_options
@blocklist_option
@settings_option
@config_option
@progress_options
def crawl(seeds: tuple[str, ...], user_agent: str | None, mode: str | None,
          purpose: str | None,
          max_pages: int, depth: int, output: str | None, decisions_out: str | None,
          db: str | None, warc_path: str | None, redis_url: str | None, fmt: str,
          blocklists: tuple[str, ...],
          scrapy_settings: tuple[str, ...], config_path: str | None, quiet: bool,
          progress_every: float) -> None:
    """Audit crawl: follow links within the seeds' hosts with every check on,
    then print one line per decision. Progress goes to standard error
    (--quiet: none).

    \b
    Example:
        tdmguard crawl https://example.com/ --user-agent ExampleBot --max-pages 100
        tdmguard crawl https://example.com/ --user-agent ExampleBot --db ledger.db \\
            --warc crawl.warc.gz
    """
    checked = [check_url(u) for u in seeds]
    config = config_settings(config_path, user_agent)
    overrides = crawl_overrides(user_agent, mode, purpose, config)
    overrides = {**config, **parse_settings(scrapy_settings), **overrides}
    overrides = with_blocklists(overrides, blocklists)
    if output:
        overrides["FEEDS"] = {output: {"format": "jsonlines", "overwrite": True}}
    if db:
        writable_ledger(db)
        overrides["TDMGUARD_DB"] = db
    if warc_path:
        if not overrides.get("TDMGUARD_DB"):
            raise fail("--warc needs --db LEDGER: each WARC record names its decision "
                       "by the ledger's id")
        overrides["TDMGUARD_WARC"] = warc_path
        overrides = with_blocklists(overrides, ())  # checks the WARC path too
    if redis_url:
        overrides["TDMGUARD_REDIS_URL"] = redis_url
        overrides = with_blocklists(overrides, ())  # checks Redis answers
    overrides = with_progress(overrides, "crawl", None, quiet, progress_every)
    result = run_checked("tdmguard.crawler.spiders.audit.AuditSpider", overrides, seeds=checked,
                         max_pages=max_pages, depth=depth)
    rows = [d.to_dict() for d in result.decisions]
    if decisions_out:
        with open(decisions_out, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in rows)
    show_decisions(rows, fmt)
    fetched = sum(1 for r in rows if r["allowed"] and r["stage"] == "fetched")
    if not quiet:
        click.echo(f"{len(rows)} decisions: {fetched} fetched, "
                   f"{sum(1 for r in rows if not r['allowed'])} refused or dropped", err=True)
    if interrupted(result):
        raise Interrupted()
