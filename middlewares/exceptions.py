"""Exceptions raised by tdmguard's middlewares."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

from tdmguard.middlewares.vocab import Reason, blocks


class Refused(IgnoreRequest):
    """A request refused (before download) or dropped (after) by a rights check.

    ``reasons`` holds the machine-readable reasons, so provenance can record them.
    """

    def __init__(self, reasons: list[Reason], stage: str = "refused") -> None:
        self.reasons = reasons
        self.stage = stage
        blocking = blocks(reasons) or reasons
        first = blocking[0] if blocking else None
        text = f"{first.protocol} {first.verdict}: {first.detail}" if first else "refused"
        super().__init__(f"Refused by tdmguard ({text})")
