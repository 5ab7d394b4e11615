"""The inputs of ``tdmguard audit``: URL lists in text, CSV/TSV, JSON Lines or Parquet.

Each input is read as a stream of rows, never whole: text line by line (one
URL a line; blank lines and ``#`` comments are not rows), CSV/TSV and JSON
Lines record by record with a named column, Parquet batch by batch with
pyarrow (``iter_batches``), reading only the URL column and, for
``--history``, the time column (Common Crawl's ``fetch_time``, FineWeb's
``date``). Standard input (``-``) is spooled to a temporary file first, so it
can be read twice like a file.

A row is ``(row, url, when, problem)``: its number (the line number in text,
CSV and JSON Lines, the 1-based row in Parquet), the URL, its collection time
as ``YYYY-MM-DDTHH:MM:SSZ`` (or None) and why it is malformed (or None).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tdmguard.crawler.clitools import fail, url_problem
from tdmguard.middlewares.snapshots import origin_of

#: Input formats (``--input-format``); ``auto`` picks one from the name or content.
INPUT_FORMATS = ("auto", "text", "csv", "tsv", "jsonl", "parquet")
#: Time columns looked for, in order, when ``--time-column`` is not given.
TIME_COLUMNS = ("fetch_time", "date")
PARQUET_BATCH = 65536
_EXTENSIONS = {".txt": "text", ".lst": "text", ".csv": "csv", ".tsv": "tsv",
               ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
               ".parquet": "parquet", ".pq": "parquet"}

Row = tuple[int, str | None, str | None, str | None]


@dataclass(slots=True)
class Source:
    """One input: what the user named (``-`` for standard input) and how it is read."""

    name: str
    path: str
    fmt: str
    column: str
    #: The time column to read (None: no history wanted, or none in the input).
    time_column: str | None = None
    sha256: str = ""

    def describe(self) -> dict[str, Any]:
        return {"path": self.name, "sha256": self.sha256, "format": self.fmt,
                "column": self.column, "time_column": self.time_column}


def spool_stdin(directory: str) -> str:
    """Copy standard input to a file in *directory*; return its path."""
    path = os.path.join(directory, "stdin")
    with open(path, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return path


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _sniff(path: str, column: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        return "jsonl"
    first = text.split("\n", 1)[0].strip()
    for fmt, sep in (("tsv", "\t"), ("csv", ",")):
        if sep in first and column in [c.strip().strip('"') for c in first.split(sep)]:
            return fmt
    return "text"


def open_source(name: str, fmt: str, column: str, want_time: bool, time_column: str | None,
                spool_dir: str) -> Source:
    """Check one input and decide how to read it (one-line error, exit 2)."""
    path = spool_stdin(spool_dir) if name == "-" else name
    if name != "-" and not os.path.isfile(path):
        raise fail(f"cannot read the input {name}: no such file")
    try:
        sha = _sha256(path)
    except OSError as exc:
        raise fail(f"cannot read the input {name}: {exc.strerror}") from None
    if fmt == "auto":
        ext = os.path.splitext(name.lower().removesuffix(".gz"))[1]
        fmt = _EXTENSIONS.get(ext) or _sniff(path, column)
    source = Source(name, path, fmt, column, None, sha)
    columns = _columns(source)
    if columns is not None and column not in columns:
        raise fail(f"the input {name} has no column {column!r} (it has: "
                   f"{', '.join(columns[:12]) or 'none'}); name one with --column")
    if want_time:
        if time_column is not None:
            if columns is not None and time_column not in columns:
                raise fail(f"the input {name} has no column {time_column!r} for --time-column")
            source.time_column = time_column
        elif columns is not None:
            source.time_column = next((c for c in TIME_COLUMNS if c in columns), None)
        elif fmt == "jsonl":
            source.time_column = "auto"
    return source


def _columns(source: Source) -> list[str] | None:
    """The input's column names (None: text, or JSON Lines, where each line says)."""
    if source.fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(source.path).schema_arrow.names)
        except ImportError:
            raise fail("reading Parquet needs pyarrow: pip install 'tdmguard[audit]'") \
                from None
        except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError
            raise fail(f"cannot read the Parquet input {source.name}: "
                       f"{str(exc).splitlines()[0][:200]}") from None
    if source.fmt in ("csv", "tsv"):
        with open(source.path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = next(csv.reader(fh, delimiter="\t" if source.fmt == "tsv" else ","), [])
        return [h.strip() for h in header]
    return None


def iter_rows(source: Source) -> Iterator[Row]:
    """Every row of *source*, in order (see the module docstring)."""
    if source.fmt == "parquet":
        yield from _parquet_rows(source)
    elif source.fmt in ("csv", "tsv"):
        yield from _csv_rows(source)
    elif source.fmt == "jsonl":
        yield from _jsonl_rows(source)
    else:
        yield from _text_rows(source)


#: The common case, checked without urlsplit: http(s), a plain host name, an
#: optional port under 10000, no white space. Anything else goes the long way.
_PLAIN_URL = re.compile(r"(?i)(https?://[a-z0-9.-]+(?::[0-9]{1,4})?)(?:[/?#]\S*)?")
_ORIGINS: dict[str, str] = {}


def url_origin(url: str) -> str:
    """:func:`origin_of` *url*, cached by its ``scheme://host[:port]`` prefix."""
    m = _PLAIN_URL.fullmatch(url)
    if m is None:
        return origin_of(url)
    prefix = m.group(1)
    origin = _ORIGINS.get(prefix)
    if origin is None:
        if len(_ORIGINS) >= 200_000:
            _ORIGINS.clear()
        origin = _ORIGINS[prefix] = origin_of(prefix)
    return origin


def _checked(n: int, url: Any, when: Any, source: Source) -> Row:
    if url is None or url == "":
        return n, None, None, f"no value in column {source.column!r}"
    if not isinstance(url, str):
        return n, None, None, f"column {source.column!r} is not text: {url!r}"[:200]
    if _PLAIN_URL.fullmatch(url) is None:
        problem = url_problem(url)
        if problem:
            return n, None, None, problem
    stamp = None
    if when is not None and when != "":
        stamp = iso_time(when)
        if stamp is None:
            return n, None, None, f"unreadable time {when!r}"[:200]
    return n, url.strip(), stamp, None


def _text_rows(source: Source) -> Iterator[Row]:
    with open(source.path, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield _checked(n, line, None, source)


def _csv_rows(source: Source) -> Iterator[Row]:
    with open(source.path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t" if source.fmt == "tsv" else ",")
        header = [h.strip() for h in next(reader, [])]
        at = header.index(source.column)
        tat = header.index(source.time_column) if source.time_column in header else None
        try:
            for record in reader:
                n = reader.line_num
                if not record or record == [""]:
                    continue
                if len(record) <= at:
                    yield n, None, None, f"the row has {len(record)} field(s), no " \
                        f"{source.column!r}"
                    continue
                when = record[tat] if tat is not None and tat < len(record) else None
                yield _checked(n, record[at], when, source)
        except csv.Error as exc:
            yield reader.line_num, None, None, f"unreadable CSV ({exc}); the rest skipped"


def _jsonl_rows(source: Source) -> Iterator[Row]:
    with open(source.path, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                yield n, None, None, "not a JSON object"
                continue
            if not isinstance(obj, dict):
                yield n, None, None, "not a JSON object"
                continue
            when = None
            if source.time_column == "auto":
                when = next((obj[c] for c in TIME_COLUMNS if obj.get(c) is not None), None)
            elif source.time_column:
                when = obj.get(source.time_column)
            yield _checked(n, obj.get(source.column), when, source)


def _parquet_rows(source: Source) -> Iterator[Row]:
    import pyarrow.parquet as pq

    columns = [source.column] + ([source.time_column] if source.time_column else [])
    n = 0
    for batch in pq.ParquetFile(source.path).iter_batches(batch_size=PARQUET_BATCH,
                                                         columns=columns):
        urls = batch.column(0).to_pylist()
        times = batch.column(1).to_pylist() if source.time_column else [None] * len(urls)
        for url, when in zip(urls, times, strict=True):
            n += 1
            yield _checked(n, url, when, source)


def iso_time(value: Any) -> str | None:
    """A collection time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or None if unreadable.

    Accepts datetimes (naive ones are UTC), ISO 8601 text (FineWeb's ``date``,
    Common Crawl's ``fetch_time``), 14-digit WARC/CDX timestamps and epoch seconds.
    """
    when: datetime | None = None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            when = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 14 and text.isdigit():
            text = f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:]}"
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", ""))
        except ValueError:
            return None
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="tdmguard-audit-")
