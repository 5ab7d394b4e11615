"""Reading a complaint's request body strictly, for the intake server.

Werkzeug's parsers replace bad UTF-8 and do not count URL-encoded fields, so
:mod:`.server` reads every body here first, with the same limits for both form
encodings and for JSON: fields per request (:data:`MAX_FIELDS`), bytes per
field (:data:`MAX_FIELD_BYTES`), characters per field name (:data:`MAX_NAME`),
UTF-8 only, no duplicate JSON keys. Each refusal is a :class:`Refusal` with its
HTTP status and one readable line. Runs inside a Flask request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

__all__ = ["MAX_FIELDS", "MAX_FIELD_BYTES", "MAX_NAME", "Refusal", "read_form", "read_json"]

MAX_FIELDS = 64
MAX_FIELD_BYTES = 128 * 1024
MAX_NAME = 100


class Refusal(Exception):
    """A request refused before any processing: status and one readable line."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _name_ok(name: str) -> None:
    if len(name) > MAX_NAME:
        raise Refusal(400, f"a field name is longer than {MAX_NAME} characters")


def _utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, f"{where} is not valid UTF-8 text", where) from None


def read_form(max_fields: int = MAX_FIELDS, max_field_bytes: int = MAX_FIELD_BYTES
              ) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """The posted fields (name -> values) and files, or :class:`Refusal`.

    Werkzeug's parsers replace bad UTF-8 and do not count URL-encoded fields,
    so the body is read here first, with the same limits for both encodings.
    """
    body = request.get_data(cache=True)  # Flask has already applied MAX_CONTENT_LENGTH
    mimetype = request.mimetype
    fields: dict[str, list[str]] = {}
    files: list[dict[str, Any]] = []

    def add(name: str, value: str) -> None:
        _name_ok(name)
        if sum(map(len, fields.values())) + len(files) >= max_fields:
            raise Refusal(413, f"more than {max_fields} form fields")
        fields.setdefault(name, []).append(value)

    if mimetype == "application/x-www-form-urlencoded":
        if not body.isascii():
            raise Refusal(400, "the form body holds raw non-ASCII bytes: it must be "
                          "URL-encoded UTF-8")
        if body.count(b"&") + 1 > max_fields:
            raise Refusal(413, f"more than {max_fields} form fields")
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True,
                              errors="strict", max_num_fields=max_fields)
        except UnicodeDecodeError:
            raise Refusal(400, "a form field is not valid UTF-8 text") from None
        except ValueError:
            raise Refusal(413, f"more than {max_fields} form fields") from None
        for name, value in pairs:
            if len(value.encode("utf-8", "surrogatepass")) > max_field_bytes:
                raise Refusal(413, f"more than {max_field_bytes} bytes", name)
            add(name, value)
    elif mimetype == "multipart/form-data":
        boundary = request.mimetype_params.get("boundary", "")
        if not boundary:
            raise Refusal(400, "multipart/form-data without a boundary")
        decoder = MultipartDecoder(boundary.encode("latin-1", "replace"), max_field_bytes,
                                   max_parts=max_fields)
        for part, data in _parts(decoder, body):
            name = part.name  # part headers are decoded as strict UTF-8 (else malformed)
            if isinstance(part, File):
                _name_ok(name)
                if part.filename or data:
                    files.append({"filename": part.filename or "attachment",
                                  "content": data,
                                  "media_type": part.headers.get("Content-Type", "")})
                if len(files) + sum(map(len, fields.values())) > max_fields:
                    raise Refusal(413, f"more than {max_fields} form fields")
            else:
                if len(data) > max_field_bytes:
                    raise Refusal(413, f"more than {max_field_bytes} bytes", name)
                add(name, _utf8(data, name))
    else:
        raise Refusal(415, "send the form as application/x-www-form-urlencoded or "
                      "multipart/form-data")
    return fields, files


def _parts(decoder: MultipartDecoder, body: bytes) -> Iterator[tuple[Field | File, bytes]]:
    """Each part and its bytes; the body fed in slices, as a socket would."""
    current: Field | File | None = None
    chunks: list[bytes] = []
    pos, ended = 0, False
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, Epilogue):
                return
            if isinstance(event, NeedData):
                if pos < len(body):
                    decoder.receive_data(body[pos:pos + 16384])
                    pos += 16384
                elif not ended:
                    decoder.receive_data(None)
                    ended = True
                else:
                    raise Refusal(400, "the multipart body ends early")
                continue
            if isinstance(event, Field | File):
                current, chunks = event, []
            elif isinstance(event, Data) and current is not None:
                chunks.append(event.data)
                if not event.more_data:
                    yield current, b"".join(chunks)
                    current = None
    except RequestEntityTooLarge:
        raise Refusal(413, f"more than {MAX_FIELDS} form fields or a field over "
                      f"{MAX_FIELD_BYTES} bytes") from None
    except UnicodeDecodeError:
        raise Refusal(400, "a multipart header is not valid UTF-8 text") from None
    except ValueError:
        raise Refusal(400, "the multipart body is malformed") from None


def read_json(max_fields: int = MAX_FIELDS) -> dict[str, Any]:
    """The posted JSON object, or :class:`Refusal`."""
    if request.mimetype != "application/json":
        raise Refusal(415, "send Content-Type: application/json")
    text = _utf8(request.get_data(cache=False), "the body")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise Refusal(400, "the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise Refusal(400, f"the body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise Refusal(400, "the body must be a JSON object")
    if len(data) > max_fields:
        raise Refusal(413, f"more than {max_fields} fields")
    for name in data:
        _name_ok(name)
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"field {key[:60]!r} given twice")
        out[key] = value
    return out
