"""Web and user strings made safe to print: terminal text and Markdown.

Strings in a ledger, a register or a report come from the web or from a
complainant, so wherever they are printed as text (``table`` output, logs) or
as Markdown (``md`` output, the policy documents, evidence pages) every
control character (C0, DEL, C1, bidirectional overrides, line and paragraph
separators) becomes a visible escape (``\\x1b``, ``\\u202e``), never raw to a
terminal, and Markdown punctuation is backslash-escaped so a value renders as
exactly its text. Used by the CLI's output layer (:mod:`tdmguard.crawler.output`)
and by the policy documents (:mod:`tdmguard.policy.render`). Imports neither
Scrapy nor Twisted.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_lines", "escape_md", "escape_text", "fence"]

#: Characters a terminal or a Markdown renderer would act on, not show.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Markdown punctuation that could start markup inside a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&])")


def escape_text(value: Any) -> str:
    """``value`` as one line of text with every control character made visible."""
    return _CONTROL.sub(_visible, str(value))


def escape_lines(text: str) -> list[str]:
    """A multi-line document (a robots.txt body) as lines, each escaped."""
    return [escape_text(line) for line in text.splitlines()]


def _visible(m: re.Match[str]) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def escape_md(value: Any) -> str:
    """``value`` as inline Markdown that renders as exactly its text."""
    text = _MD_SPECIAL.sub(r"\\\1", str(value))
    text = text.replace("\r\n", "\n").replace("\n", "<br>")
    # a visible escape's own backslash must survive Markdown: write it as \\
    return _CONTROL.sub(lambda m: "\\" + _visible(m), text)


def fence(body: str) -> str:
    """A Markdown code fence longer than any backtick run in ``body``."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)
