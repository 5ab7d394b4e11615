"""Infringement blocklists: list files with provenance, and host matching.

Pure Python: no Scrapy import and no network access, ever.

>>> from tdmguard.blocklists import load_blocklists
>>> blocklists = load_blocklists()
>>> blocklists.match("https://www.thepiratebay.org/search").entry
'thepiratebay.org'
"""

from __future__ import annotations

from .domains import psl_snapshot_version, registrable_domain
from .hosts import normalise_host
from .lists import (
    KINDS,
    Blocklist,
    BlocklistError,
    BlocklistSet,
    Match,
    load_blocklists,
    shipped_blocklist_paths,
)

__all__ = [
    "KINDS",
    "Blocklist",
    "BlocklistError",
    "BlocklistSet",
    "Match",
    "load_blocklists",
    "normalise_host",
    "psl_snapshot_version",
    "registrable_domain",
    "shipped_blocklist_paths",
]
