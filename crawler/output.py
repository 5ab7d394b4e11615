"""One output layer for every command that lists records.

:func:`output_options` adds the same ``--format`` option to each listing
command (``table``, ``json``, ``jsonl``, ``csv``, ``md``, in the manner of
sqlite-utils' ``output_options``), and :func:`render` turns a list of records
(dicts) into that format:

- ``json``: one array, indented; ``jsonl``: one object per line.
- ``csv``: written by the :mod:`csv` module (RFC 4180 quoting, ``\\r\\n``
  line ends), a header row of the keys in order of first appearance; nested
  values (lists, dicts) are JSON-encoded in their cell, ``None`` is an empty
  cell, booleans are ``true``/``false``.
- ``md``: a GitHub-flavoured Markdown table; ``|``, backslashes and the other
  Markdown punctuation are backslash-escaped, a line break becomes ``<br>``.
- ``table``: aligned plain-text columns, or the command's own layout.

Strings in the ledger come from the web, so in ``table`` and ``md`` output
every control character (C0, DEL, C1, bidirectional overrides, line and
paragraph separators) is printed as a visible escape (``\\x1b``,
``\\u202e``), never raw to the terminal.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, overload

import click

from tdmguard.middlewares.escape import (
    escape_md,
    escape_text,
)

FORMATS = ("table", "json", "jsonl", "csv", "md")



@overload
def output_options(f: Callable[..., Any], *, default: str = ..., formats: Sequence[str] = ...,
                   help: str | None = ...) -> Callable[..., Any]: ...


@overload
def output_options(f: None = None, *, default: str = ..., formats: Sequence[str] = ...,
                   help: str | None = ...
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def output_options(f: Callable[..., Any] | None = None, *, default: str = "table",
                   formats: Sequence[str] = FORMATS,
                   help: str | None = None) -> Callable[..., Any]:
    """Add ``--format`` (parameter ``fmt``) to a command; usable bare or called."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return click.option(
            "--format", "fmt", type=click.Choice(list(formats)), default=default,
            show_default=True,
            help=help or "Output format: an aligned table, a JSON array, JSON lines, "
            "CSV or a Markdown table.")(func)

    return decorate(f) if f is not None else decorate


def cell(value: Any) -> str:
    """One value as flat text: JSON for nested values and booleans, '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool | list | dict | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def columns_of(records: Iterable[dict[str, Any]]) -> list[str]:
    """Every key, in order of first appearance."""
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(key, None)
    return list(seen)


def render(records: Sequence[dict[str, Any]], fmt: str, *,
           columns: Sequence[str] | None = None,
           table: Callable[[list[dict[str, Any]]], str] | None = None) -> str:
    """``records`` in ``fmt`` (one of :data:`FORMATS`), without a final newline.

    ``columns`` fixes the CSV, Markdown and plain-table columns (default: every
    key, in order of first appearance). ``table`` is the command's own
    plain-text layout; it receives the records with every string escaped.
    """
    if fmt == "json":
        return json.dumps(list(records), indent=2)
    if fmt == "jsonl":
        return "\n".join(json.dumps(r) for r in records)
    cols = list(columns) if columns is not None else columns_of(records)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(cols)
        for r in records:
            writer.writerow([cell(r.get(c)) for c in cols])
        return out.getvalue().removesuffix("\r\n")
    if fmt == "md":
        lines = ["| " + " | ".join(escape_md(c) for c in cols) + " |",
                 "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(escape_md(cell(r.get(c))) for c in cols) + " |"
                  for r in records]
        return "\n".join(lines)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    if table is not None:
        return table([escape_record(r) for r in records])
    return plain_table(records, cols)


def escape_record(value: Any) -> Any:
    """A copy of a record with every string in it (keys too) escaped."""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, dict):
        return {escape_text(k): escape_record(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_record(v) for v in value]
    return value


def plain_table(records: Sequence[dict[str, Any]], cols: Sequence[str]) -> str:
    rows = [[escape_text(c) for c in cols]]
    rows += [[escape_text(cell(r.get(c))) for c in cols] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def emit(text: str) -> None:
    """Print rendered output (nothing at all for an empty JSON-lines list)."""
    if text:
        click.echo(text)
