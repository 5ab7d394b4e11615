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


def error_text(exc: BaseException) -> str:
    """One readable line (at most 300 characters) for a download error.

    Twisted's ``ResponseFailed`` and ``ResponseNeverReceived`` carry their
    causes as a list of Failures, and Scrapy 2.14+ wraps them in
    ``DownloadFailedError(str(...))``, whose text is then the list's repr
    (``[<twisted.python.failure.Failure ...>]``). The causes are named instead:
    ``DownloadFailedError (BadStatusLine: b'SSH-2.0-OpenSSH_9.6')``.
    """
    reasons = getattr(exc, "reasons", None)
    if not reasons and exc.__cause__ is not None:
        reasons = getattr(exc.__cause__, "reasons", None)
    if isinstance(reasons, (list, tuple)) and reasons:
        causes = []
        for failure in reasons:
            value = getattr(failure, "value", failure)
            text = str(value).strip()
            causes.append(f"{type(value).__name__}: {text}" if text else type(value).__name__)
        return f"{type(exc).__name__} ({'; '.join(causes)})"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]
