"""A rights document as fetched: the evidence a decision was made under."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tdmguard.middlewares.vocab import ORIGIN_META, ORIGIN_URL_META


def utcnow() -> str:
    """ISO 8601 UTC timestamp with microseconds, sortable as text
    (``2026-11-25T14:38:56.956859Z``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def request_origin(request: Any) -> str:
    """:func:`origin_of` the request's URL, computed once per request."""
    meta = request.meta
    origin: str | None = meta.get(ORIGIN_META)
    if origin is None or meta.get(ORIGIN_URL_META) != request.url:
        origin = meta[ORIGIN_META] = origin_of(request.url)
        meta[ORIGIN_URL_META] = request.url
    return origin


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` with the default port dropped (RFC 6454 origin)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    if port is None or port == default:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(slots=True)
class Snapshot:
    """One fetch of one rights document.

    ``status`` is the HTTP status of the final response, or None when nothing
    was received (then ``error`` says why). ``body`` is kept up to the parse
    limit; ``sha256`` covers the stored body and is the key decisions cite.
    """

    kind: str
    url: str
    origin: str
    fetched_at: str
    status: int | None
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return document_hash(self.kind, self.status, self.error, self.body)

    def headers_json(self) -> str:
        return json.dumps(self.headers, sort_keys=True)


def document_hash(kind: str, status: int | None, error: str | None, body: bytes) -> str:
    """Content address of a fetched document: what was received, not when."""
    h = hashlib.sha256()
    h.update(f"{kind}\n{status}\n{error or ''}\n".encode())
    h.update(body)
    return h.hexdigest()
