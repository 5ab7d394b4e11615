"""Helpers shared by the readers: header access, the purpose table, safety nets.

Nothing here imports Scrapy. Headers may be given as any mapping (``dict``,
Scrapy's ``Headers``, ``http.client.HTTPMessage``) whose values are ``str``,
``bytes`` or lists of them, as an iterable of ``(name, value)`` pairs, or as
``None``. Names match case-insensitively; bytes are decoded as ISO-8859-1
(lossless: HTTP field values are octets).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, TypeVar, cast

import defusedxml.ElementTree as SafeET

from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    RFC,
    STRICT,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

logger = logging.getLogger(__name__)

HeadersLike = Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None

#: Order used by :func:`strongest`: the verdict a list of reasons resolves to.
_RANK = {RESERVED: 3, UNREADABLE: 2, PERMITTED: 1, UNAVAILABLE: 0}


def text(value: Any) -> str:
    """Best-effort ``str`` of a header name/value or body fragment."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    return "" if value is None else str(value)


def _pairs(headers: HeadersLike) -> Iterable[tuple[Any, Any]]:
    if headers is None:
        return ()
    items = getattr(headers, "items", None)
    if callable(items):
        return cast(Iterable[tuple[Any, Any]], items())
    if isinstance(headers, (str, bytes, bytearray)):
        return ()
    return headers


def header_values(headers: HeadersLike, *names: str) -> list[tuple[str, str]]:
    """Every field line named one of *names*, as ``(name, value)`` in order.

    Values are stripped; list values give one entry per element. Never raises.
    """
    wanted = {n.lower() for n in names}
    out: list[tuple[str, str]] = []
    try:
        for pair in _pairs(headers):
            try:
                key, value = pair
            except (TypeError, ValueError):
                continue
            name = text(key).strip()
            if name.lower() not in wanted:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                out.append((name, text(item).strip()))
    except Exception:  # a hostile mapping: keep what was read
        logger.debug("unreadable headers object", exc_info=True)
    return out


def norm_mode(mode: str) -> str:
    """Unknown modes fail towards the careful one."""
    return RFC if mode == RFC else STRICT


# -- the purpose table ---------------------------------------------------------


def _load_table() -> dict[str, Any]:
    ref = resources.files("tdmguard.middlewares") / "data" / "purposes.json"
    table: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return table


TABLE: dict[str, Any] = _load_table()


def _as_modes(value: Any) -> dict[str, frozenset[str]]:
    if isinstance(value, Mapping):
        return {m: frozenset(value.get(m, ())) for m in (RFC, STRICT)}
    return {RFC: frozenset(value), STRICT: frozenset(value)}


@functools.cache
def labels(protocol: str) -> dict[str, dict[str, frozenset[str]]]:
    """``{label: {mode: purposes}}`` for one protocol table, keys as written
    in the JSON file (each reader normalises its labels the same way).
    """
    table = TABLE.get(protocol, {})
    return {
        key: _as_modes(value)
        for key, value in table.items()
        if not key.startswith("_") and not isinstance(value, str)
    }


def covers(protocol: str, label: str, purpose: str, mode: str) -> bool:
    """True when *label* of *protocol* speaks about *purpose* in *mode*."""
    entry = labels(protocol).get(label)
    return entry is not None and purpose in entry[norm_mode(mode)]


def value_table(protocol: str) -> dict[str, dict[str, dict[str, frozenset[str]]]]:
    """``{value: {"reserves"|"permits": {mode: purposes}}}`` (IPTC style)."""
    return _value_table(protocol)


@functools.cache
def _value_table(protocol: str) -> dict[str, dict[str, dict[str, frozenset[str]]]]:
    table = TABLE.get(protocol, {})
    out = {}
    for key, value in table.items():
        if key.startswith("_") or not isinstance(value, Mapping):
            continue
        out[key] = {
            part: _as_modes(value.get(part, ())) for part in ("reserves", "permits")
        }
    return out


# -- reasons -------------------------------------------------------------------


def strongest(reasons: Iterable[Reason]) -> str:
    """The verdict a list of reasons resolves to: any reservation wins, then a
    fail-closed error, then an explicit permission, else unavailable.
    """
    best = UNAVAILABLE
    for reason in reasons:
        if _RANK.get(reason.verdict, 0) > _RANK[best]:
            best = reason.verdict
    return best


def clip(value: str, limit: int = 300) -> str:
    """Evidence strings stay short: untrusted input can be megabytes long."""
    value = value.replace("\r", " ").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


F = TypeVar("F", bound=Callable[..., list[Reason]])


def never_raises(protocol: str) -> Callable[[F], F]:
    """Safety net for reader entry points: an unexpected exception becomes an
    ``unreadable`` reason (fail closed) instead of crashing the crawl.

    Tests fuzz every reader and assert this net is never reached.
    """

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> list[Reason]:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                logger.warning("%s reader failed", protocol, exc_info=True)
                return [
                    Reason(
                        protocol,
                        UNREADABLE,
                        source=func.__qualname__,
                        detail=f"internal error reading {protocol}: "
                        f"{type(exc).__name__}; failing closed.",
                    )
                ]

        return inner  # type: ignore[return-value]

    return wrap


INTERNAL_ERROR = "internal error reading"


_XML_DECL = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")


def parse_xml(data: bytes | str) -> Any:
    """An XML document's root element, parsed safely (defusedxml, no DTD).

    pyexpat decodes UTF-8, UTF-16 and single-byte encodings itself; a
    document that declares another encoding XML allows (Shift_JIS, EUC-KR,
    GB18030, ...) is decoded with Python's codec of that name first. Raises
    on anything unreadable (see :func:`xml_error`).
    """
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except ValueError as exc:
        if "multi-byte encodings" not in str(exc) or not isinstance(data, bytes):
            raise
        declared = _XML_DECL.match(data)
        if declared is None:
            raise
        # LookupError for a name Python does not know; UnicodeDecodeError
        # for bytes that are not in it: both unreadable.
        text = data.decode(declared.group(1).decode("ascii"))
        return SafeET.fromstring(text, forbid_dtd=True)


def xml_error(exc: BaseException) -> str:
    """One line saying why an XML document was not read.

    The readers parse XML with defusedxml and ``forbid_dtd=True``: any DOCTYPE
    is refused before an entity is declared, so no external entity (XXE) is
    fetched and no entity is expanded (billion laughs, quadratic blowup).
    """
    name = type(exc).__name__
    if name in ("DTDForbidden", "EntitiesForbidden", "ExternalReferenceForbidden"):
        return (f"{name}: a DOCTYPE or entity declaration is refused (no external "
                "entities, no entity expansion)")
    return f"{name}: {clip(str(exc), 120)}" if str(exc) else name
