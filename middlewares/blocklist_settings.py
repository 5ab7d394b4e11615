"""Which blocklists a crawl's settings put in force, loaded once per process.

``TDMGUARD_BLOCKLISTS`` (paths), ``TDMGUARD_BLOCKLIST_SHIPPED``,
``TDMGUARD_BLOCKLIST_ADVISORY`` and ``TDMGUARD_BLOCKLIST_ENABLED`` read into
one :class:`~tdmguard.blocklists.BlocklistSet`, shared by the add-on's
start-up check, the blocklist middlewares (:mod:`.blocklist`) and the
ledger's ``crawls`` row (:mod:`.provenance`), so every caller sees the same
loaded lists. An unusable list is a :class:`ConfigError` (one line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdmguard.blocklists import BlocklistError, BlocklistSet, load_blocklists
from tdmguard.middlewares.settings import ConfigError

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["ADVISORY_MODES", "advisory_mode", "blocklist_paths", "blocklists_from_settings",
           "check_settings", "describe_blocklists", "load_set"]

ADVISORY_MODES = ("block", "warn")

# Loaded list sets, by (shipped?, each file's path, mtime and size): the
# add-on's start-up check, the middlewares and the ledger share one load.
_LOADED: dict[tuple[Any, ...], BlocklistSet] = {}


def blocklist_paths(settings: BaseSettings) -> list[str]:
    """``TDMGUARD_BLOCKLISTS``: a list of paths, or one comma-separated string."""
    value = settings.get("TDMGUARD_BLOCKLISTS")
    if value is None or value == "":
        return []
    if isinstance(value, (str, os.PathLike)):
        items = str(value).split(",")
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ConfigError(
            f"TDMGUARD_BLOCKLISTS {value!r}: give a list of list-file paths"
        )
    return [item.strip() for item in items if item.strip()]


def advisory_mode(settings: BaseSettings) -> str:
    mode = str(settings.get("TDMGUARD_BLOCKLIST_ADVISORY") or "block").lower()
    if mode not in ADVISORY_MODES:
        raise ConfigError(
            f"TDMGUARD_BLOCKLIST_ADVISORY {mode!r}: use 'block' (advisory lists "
            "refuse like authoritative ones) or 'warn' (log and record only)"
        )
    return mode


def load_set(paths: list[str], shipped: bool = True) -> BlocklistSet:
    """Load (once per process and file version) the shipped lists and *paths*."""
    key_parts: list[Any] = [shipped]
    for path in paths:
        try:
            stat = Path(path).stat()
            key_parts.append((str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size))
        except OSError:
            key_parts.append((path, None, None))
    key = tuple(key_parts)
    found = _LOADED.get(key)
    if found is None:
        try:
            found = load_blocklists(paths, include_shipped=shipped)
        except BlocklistError as exc:
            raise ConfigError(f"TDMGUARD_BLOCKLISTS: {exc}") from None
        _LOADED[key] = found
    return found


def blocklists_from_settings(settings: BaseSettings) -> BlocklistSet:
    """The lists in force for these settings; :class:`ConfigError` if unusable."""
    return load_set(blocklist_paths(settings),
                    settings.getbool("TDMGUARD_BLOCKLIST_SHIPPED", True))


def check_settings(settings: BaseSettings) -> None:
    """Start-up check (the add-on): every list loads, the advisory mode is known."""
    if settings.getbool("TDMGUARD_BLOCKLIST_ENABLED", True):
        advisory_mode(settings)
        blocklists_from_settings(settings)


def describe_blocklists(settings: BaseSettings) -> list[dict[str, Any]]:
    """Each list in force (name, kind, edition, source, entries, sha256...), for
    the ledger's ``crawls`` row; empty when the check is off."""
    if not settings.getbool("TDMGUARD_BLOCKLIST_ENABLED", True):
        return []
    mode = advisory_mode(settings)
    rows = blocklists_from_settings(settings).describe()
    for row in rows:
        row["enforcement"] = "warn" if (row["kind"] == "advisory" and mode == "warn") \
            else "block"
    return rows
