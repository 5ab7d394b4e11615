"""tdmguard's Scrapy side: the add-on, the middlewares and the protocol readers.

``ADDONS = {"tdmguard.TdmGuard": 0}`` in a Scrapy project's settings turns
the whole toolkit on. Readers (``tdmguard.middlewares.readers.robots`` and friends) import no
Scrapy, so importing this package stays cheap; ``TdmGuard`` is loaded lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TdmGuard"]


def __getattr__(name: str) -> Any:
    if name == "TdmGuard":
        from tdmguard.middlewares.addon import TdmGuard

        return TdmGuard
    raise AttributeError(name)
