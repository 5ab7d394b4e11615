"""``tdmguard audit``: which URLs of a dataset are reserved today, and were they then.

Two passes over the input, never holding it whole: the first finds the
origins with rows to decide (and reports malformed rows), one crawl fetches
each origin's rights documents once (:mod:`tdmguard.crawler.audit_engine`)
and decides every row in the second pass; the verdicts are written in input
order from the ``audit_rows`` table. Exit status: 0 every row decided; 1 some
rows were malformed and skipped (each named on standard error); 2 bad usage
or input; 130 interrupted (run again with the same ``--db`` to resume).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from tdmguard.crawler.audit_inputs import (
    INPUT_FORMATS,
    iter_rows,
    open_source,
    temp_dir,
    url_origin,
)
from tdmguard.crawler.clitools import (
    CONTEXT_SETTINGS,
    EXIT_PROBLEM,
    Interrupted,
    blocklist_option,
    fail,
    mode_option,
    parse_settings,
    settings_option,
    tokens_option,
    writable_ledger,
)
from tdmguard.crawler.output import cell, output_options
from tdmguard.middlewares.chain import encode

AUDIT_FORMATS = ("jsonl", "csv", "parquet")
#: Malformed rows named one by one on standard error; the rest are counted.
MAX_REPORTED = 50
COLUMNS = ("input", "row", "url", "origin", "verdict", "allowed", "complete", "stage",
           "status", "protocols", "reasons", "snapshots")
HISTORY_COLUMNS = ("fetch_time", "history_flag", "allowed_at_collection", "captured_at",
                   "capture_snapshot", "reasons_at_collection")


_NESTED = {"protocols": "[]", "reasons": "[]", "snapshots": "{}",
           "reasons_at_collection": "[]"}
_BOOLS = ("allowed", "complete", "allowed_at_collection")


def _record(row: Any, history: bool) -> dict[str, Any]:
    """One output record; nested values stay the JSON text the store holds."""
    out: dict[str, Any] = {
        "input": row["input"], "row": row["row"], "url": row["url"], "origin": row["origin"],
        "verdict": row["verdict"], "allowed": bool(row["allowed"]),
        "complete": bool(row["complete"]), "stage": row["stage"], "status": row["status"],
        "protocols": row["protocols"] or "[]", "reasons": row["reasons"] or "[]",
        "snapshots": row["snapshots"] or "{}"}
    if history:
        then = row["history_allowed"]
        out.update({"fetch_time": row["fetch_time"], "history_flag": row["history_flag"],
                    "allowed_at_collection": None if then is None else bool(then),
                    "captured_at": row["history_captured_at"],
                    "capture_snapshot": row["history_snapshot"],
                    "reasons_at_collection": row["history_reasons"] or "[]"})
    return out


_SCALARS: dict[Any, str] = {True: "true", False: "false", None: "null"}
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _json_line(rec: dict[str, Any], cache: dict[Any, str] = {}) -> str:  # noqa: B006
    """A record as one JSON object, nested values spliced in as stored; the
    strings that repeat (input, origin, verdict...) encoded once."""
    parts = []
    for key, value in rec.items():
        if key in _NESTED:
            text = value
        elif key == "url" or type(value) is int:
            text = _dumps(value)
        else:
            text = _SCALARS.get(value) if type(value) is not str else cache.get(value)
            if text is None:
                if len(cache) > 65536:
                    cache.clear()
                text = cache[value] = _dumps(value)
        parts.append(f'"{key}": {text}')
    return "{" + ", ".join(parts) + "}\n"


def write_rows(records: Iterator[dict[str, Any]], fmt: str, out: IO[str] | str,
               columns: tuple[str, ...]) -> int:
    """Stream *records* as JSON lines, CSV (csv module; nested values as JSON
    text, booleans ``true``/``false``, as ``tdmguard.crawler.output`` writes
    them) or Parquet (nested values as JSON text)."""
    n = 0
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert isinstance(out, str)
        types = {"row": pa.int64(), "status": pa.int64(), "allowed": pa.bool_(),
                 "complete": pa.bool_(), "allowed_at_collection": pa.bool_()}
        schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
        with pq.ParquetWriter(out, schema) as writer:
            batch: list[dict[str, Any]] = []
            for rec in records:
                batch.append(rec)
                n += 1
                if len(batch) >= 10000:
                    writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
        return n
    assert not isinstance(out, str)
    if fmt == "csv":
        writer_ = csv.writer(out)
        writer_.writerow(columns)
        for rec in records:
            writer_.writerow([rec[c] if c in _NESTED else cell(rec.get(c)) for c in columns])
            n += 1
        return n
    write = out.write
    for rec in records:
        write(_json_line(rec))
        n += 1
    return n


def summary_line(s: dict[str, Any]) -> str:
    parts = [f"{s['rows']} rows", f"{s['origins']} origins",
             f"{s['allowed']} allowed"
             + (f" ({s['incomplete']} at location level only)" if s["incomplete"] else "")]
    by = ", ".join(f"{p} {n}" for p, n in s["reserved_by_protocol"].items())
    parts.append(f"{s['reserved']} reserved" + (f" (by protocol: {by})" if by else ""))
    parts += [f"{s['unreachable']} unreachable", f"{s['skipped']} skipped"]
    line = "audit: " + ", ".join(parts)
    if "history" in s:
        line += "; at collection: " + ", ".join(f"{k} {v}" for k, v in s["history"].items())
    return line


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--column", default="url", show_default=True,
              help="The URL column of CSV/TSV, JSON Lines and Parquet inputs.")
@click.option("--input-format", "input_format", type=click.Choice(INPUT_FORMATS),
              default="auto", show_default=True,
              help="How to read the inputs (auto: from the file name, else the content).")
@output_options(default="jsonl", formats=AUDIT_FORMATS,
                help="Output format: JSON lines, CSV, or Parquet (needs --output).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the verdicts to FILE (default: standard output).")
@click.option("--fetch-pages", is_flag=True,
              help="Also fetch (and discard) each page location-level signals allow, "
              "so response-level signals decide it fully.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, envvar="TDMGUARD_DB",
              help="Ledger file: every verdict and document recorded; a re-run resumes.")
@click.option("--history", multiple=True, metavar="WARC",
              type=click.Path(dir_okay=False),
              help="WARC file(s) of archived robots.txt captures: also decide each row "
              "under the capture in force at its fetch_time/date (repeatable).")
@click.option("--time-column", default=None, metavar="NAME",
              help="The collection-time column for --history (default: fetch_time, "
              "else date).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@tokens_option
@mode_option
@blocklist_option
@settings_option
def audit(inputs: tuple[str, ...], column: str, input_format: str, fmt: str,
          output: str | None, fetch_pages: bool, db: str | None, history: tuple[str, ...],
          time_column: str | None, quiet: bool, user_agent: str | None, mode: str | None,
          purpose: str | None, blocklists: tuple[str, ...],
          scrapy_settings: tuple[str, ...]) -> None:
    """Audit URL lists at dataset scale: one verdict per input row, in input
    order, from each origin's rights documents fetched once (robots.txt,
    tdmrep.json, ai.txt, RSL; blocklisted hosts never contacted). Without
    --fetch-pages no page is requested and a verdict that response-level
    signals could still change says "complete": false.

    INPUT: a text file (one URL a line), CSV/TSV or JSON Lines with a --column,
    Parquet (Common Crawl index, FineWeb), or - for standard input.
    Exit 0 every row decided, 1 some rows malformed and skipped, 2 bad input,
    130 interrupted (re-run with the same --db resumes).

    \b
    Example:
        tdmguard audit urls.txt --user-agent ExampleBot
        tdmguard audit cc-index.parquet --db audit.db --history robots.warc.gz \\
            --format csv -o verdicts.csv
    """
    from tdmguard.crawler.audit_engine import Plan, run_audit
    from tdmguard.crawler.audit_history import History
    from tdmguard.crawler.audit_store import Store
    from tdmguard.crawler.crawl_cli import crawl_overrides, with_blocklists
    from tdmguard.crawler.run import CrawlFailed

    if fmt == "parquet" and not output:
        raise fail("--format parquet writes a file: give --output FILE")
    if inputs.count("-") > 1:
        raise fail("standard input (-) can be read only once")
    for path in history:
        if not os.path.isfile(path):
            raise fail(f"cannot read the WARC file {path}: no such file")
    overrides = {**parse_settings(scrapy_settings), **crawl_overrides(user_agent, mode, purpose)}
    overrides = with_blocklists(overrides, blocklists)
    if db:
        writable_ledger(db)
        overrides["TDMGUARD_DB"] = db
    with temp_dir() as tmp:
        sources = [open_source(name, input_format, column, bool(history), time_column, tmp)
                   for name in inputs]
        # What can change a verdict names the audit (so a re-run with another
        # -s CONCURRENT_REQUESTS or politeness still resumes it).
        options = {k: overrides[k] for k in sorted(overrides)
                   if (k.startswith("TDMGUARD_") and k != "TDMGUARD_DB"
                       and not k.startswith("TDMGUARD_POLITENESS_")) or k == "USER_AGENT"}
        options.update(fetch_pages=fetch_pages, history=[_sha(p) for p in history])
        key = hashlib.sha256(encode({"inputs": [s.describe() | {"path": None}
                                                for s in sources],
                                     "options": options}).encode()).hexdigest()
        store = Store(db or os.path.join(tmp, "audit.db"))
        try:
            audit_id, resumed = store.audit(key, [s.describe() for s in sources], options,
                                            0, 0)
            total, origins, skipped, all_origins = _first_pass(store, audit_id, sources)
            done = store.done(audit_id, total)
            store.conn.execute("UPDATE audits SET rows = ?, origins = ? WHERE id = ?",
                               (total, all_origins, audit_id))
        finally:
            store.close()
        if resumed and not quiet:
            click.echo(f"audit: resuming ({sum(done)} of {total} rows already decided)",
                       err=True)
        pending = [o for o, n in origins.items() if n]
        loaded = History.load(history, set(pending)) if history else None
        plan = Plan(sources, pending, total, done, store.path, audit_id, fetch_pages,
                    loaded, quiet)
        if sum(done) < total:
            try:
                run_audit(overrides, plan)
            except CrawlFailed as exc:
                raise fail(str(exc)) from None
        store = Store(store.path)
        try:
            if plan.crawl_id is not None:
                store.conn.execute("UPDATE audit_rows SET crawl_id = ? WHERE audit_id = ? "
                                   "AND crawl_id IS NULL AND verdict != 'skipped'",
                                   (plan.crawl_id, audit_id))
                store.add_crawl(audit_id, plan.crawl_id)
            decided = store.decided(audit_id)
            summary = store.summary(audit_id, all_origins, bool(history))
            store.finish(audit_id, summary, decided >= total)
            columns = COLUMNS + (HISTORY_COLUMNS if history else ())
            records = (_record(r, bool(history)) for r in store.rows(audit_id))
            if output:
                if fmt == "parquet":
                    write_rows(records, fmt, output, columns)
                else:
                    with open(output, "w", encoding="utf-8", newline="") as fh:
                        write_rows(records, fmt, fh, columns)
            else:
                write_rows(records, fmt, sys.stdout, columns)
                sys.stdout.flush()
        finally:
            store.close()
    click.echo(summary_line(summary), err=True)
    if decided < total:
        click.echo(f"audit: {decided} of {total} rows decided; run the same command again "
                   "with the same --db to resume", err=True)
        raise Interrupted()
    if skipped:
        sys.exit(EXIT_PROBLEM)


def _sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _first_pass(store: Any, audit_id: int, sources: list[Any]
                ) -> tuple[int, dict[str, int], int, int]:
    """Number the rows, count each origin's rows still to decide, record and
    report the malformed ones. Returns (rows, {origin: pending}, skipped, origins)."""
    from tdmguard.middlewares.snapshots import utcnow

    done_idx = {idx for (idx,) in store.conn.execute(
        "SELECT idx FROM audit_rows WHERE audit_id = ?", (audit_id,))} if store.decided(
        audit_id) else set()
    origins: dict[str, int] = {}
    idx = -1
    skipped = 0
    for source in sources:
        for n, url, when, problem in iter_rows(source):
            idx += 1
            if problem is not None:
                skipped += 1
                if skipped <= MAX_REPORTED:
                    click.echo(f"{source.name} row {n}: {problem}; skipped", err=True)
                if idx not in done_idx:
                    store.add((audit_id, idx, source.name, n, None, None, None, when,
                               "skipped", 0, 1, "skipped", None, "[]", "[]", "{}", None,
                               utcnow(), None, None, None, None, None, problem))
                continue
            assert url is not None
            origin = url_origin(url)
            count = origins.get(origin)
            pending = 0 if idx in done_idx else 1
            origins[origin] = (count or 0) + pending
    if skipped > MAX_REPORTED:
        click.echo(f"... {skipped - MAX_REPORTED} more malformed rows skipped", err=True)
    store.flush()
    return idx + 1, origins, skipped, len(origins)
