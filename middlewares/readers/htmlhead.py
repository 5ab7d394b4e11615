"""A fast, forgiving scanner for the ``<head>`` of an HTML document.

Spec: HTML Living Standard, "the meta element" and "the link element" (only
what rights signals need). One :func:`scan` per response returns a small
:class:`Head` that the TDMRep, noai / DisallowAITraining and RSL readers share,
so a page is never parsed twice.

The scanner reads at most *limit* bytes (64 KiB by default) and stops at
``</head>`` or ``<body``. It skips comments and the contents of ``<script>``,
``<style>``, ``<title>``, ``<textarea>`` and ``<template>`` (an inline
``<script type="application/rsl+xml">`` is kept for the RSL reader), decodes
character references in attribute values, and tolerates any garbage:
unterminated quotes or comments end the scan, they never raise. It is linear
in the input size. Meta tags seen after an implied body start (a ``<div>``
before ``</head>``) are still collected, which can only find more signals.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

#: Default number of bytes read from the start of a document.
HEAD_LIMIT = 64 * 1024

_TAG_START = re.compile(r"<(!--|/?[A-Za-z][^\s/>]*)")
_SPACE = re.compile(r"[\s/]*")
_ATTR_NAME = re.compile(r"[^\s\"'>/=]+")
_UNQUOTED = re.compile(r"[^\s>]+")
_RAW_TEXT = ("script", "style", "title", "textarea", "template", "noframes", "xmp")
_RAW_END = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in _RAW_TEXT}
RSL_TYPE = "application/rsl+xml"


@dataclass(frozen=True, slots=True)
class Meta:
    """One ``<meta>``: *key* is the lower-cased ``name`` (else ``property``,
    ``http-equiv`` or ``itemprop``), *attr* says which attribute it came from.
    """

    key: str
    content: str
    attr: str
    line: int
    raw: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.raw}"


@dataclass(frozen=True, slots=True)
class Link:
    """One ``<link>``: lower-cased ``rel`` tokens and ``type`` (no parameters)."""

    rel: tuple[str, ...]
    type: str
    href: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class Script:
    """An inline ``<script>`` whose type a reader asked for (RSL)."""

    type: str
    text: str
    line: int


@dataclass(slots=True)
class Head:
    """What :func:`scan` found."""

    metas: list[Meta] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    scripts: list[Script] = field(default_factory=list)
    #: True once ``</head>`` or ``<body`` was reached.
    complete: bool = False
    #: True when the byte limit cut the document before the head ended.
    truncated: bool = False

    def meta(self, *names: str) -> list[Meta]:
        """Meta tags whose key is one of *names* (case-insensitive), in order."""
        wanted = {n.lower() for n in names}
        return [m for m in self.metas if m.key in wanted]

    def rsl_links(self) -> list[Link]:
        """``<link rel="license" type="application/rsl+xml" href=...>``."""
        return [
            link
            for link in self.links
            if "license" in link.rel and link.type == RSL_TYPE and link.href
        ]


def _decode(body: bytes | str | None, limit: int) -> tuple[str, bool]:
    if body is None:
        return "", False
    if isinstance(body, str):
        return body[:limit], len(body) > limit
    data = bytes(body)
    cut = len(data) > limit
    data = data[:limit]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace"), cut
    return data.decode("utf-8", "replace"), cut


def _attributes(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse attributes from *pos* up to the closing ``>``; return them and the
    position after the tag. First occurrence of a name wins (as in HTML).
    """
    attrs: dict[str, str] = {}
    end = len(text)
    while pos < end:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            break
        if text[pos] == ">":
            return attrs, pos + 1
        match = _ATTR_NAME.match(text, pos)
        if match is None:  # a stray quote or "=": skip it
            pos += 1
            continue
        name = match.group().lower()
        pos = match.end()
        while pos < end and text[pos] in " \t\r\n\f":
            pos += 1
        value = ""
        if pos < end and text[pos] == "=":
            pos += 1
            while pos < end and text[pos] in " \t\r\n\f":
                pos += 1
            if pos < end and text[pos] in "\"'":
                close = text.find(text[pos], pos + 1)
                if close < 0:  # unterminated: the tag swallows the rest
                    value, pos = text[pos + 1 :], end
                else:
                    value, pos = text[pos + 1 : close], close + 1
            else:
                unquoted = _UNQUOTED.match(text, pos)
                if unquoted is not None:
                    value, pos = unquoted.group(), unquoted.end()
        if name not in attrs:
            attrs[name] = html.unescape(value)
    return attrs, end


def scan(body: bytes | str | None, limit: int = HEAD_LIMIT) -> Head:
    """Scan the head of *body* (bytes or text); never raises on content."""
    head = Head()
    text, cut = _decode(body, max(0, int(limit)))
    pos, line, counted = 0, 1, 0
    while True:
        match = _TAG_START.search(text, pos)
        if match is None:
            break
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        token = match.group(1)
        if token == "!--":
            close = text.find("-->", match.end())
            if close < 0:
                break
            pos = close + 3
            continue
        name = token.lower()
        if name == "/head" or name == "body":
            head.complete = True
            break
        if name not in ("meta", "link") and name not in _RAW_TEXT:
            pos = match.end()
            continue
        attrs, after = _attributes(text, match.end())
        raw = text[start:after].strip()
        if name == "meta":
            for attr in ("name", "property", "http-equiv", "itemprop"):
                if attr in attrs:
                    key = attrs[attr].strip().lower()
                    content = attrs.get("content", "").strip()
                    head.metas.append(Meta(key, content, attr, line, raw[:500]))
                    break
        elif name == "link":
            rel = tuple(attrs.get("rel", "").lower().split())
            mime = attrs.get("type", "").split(";", 1)[0].strip().lower()
            head.links.append(
                Link(rel, mime, attrs.get("href", "").strip(), line, raw[:500])
            )
        else:  # raw text element: jump over its contents
            close_match = _RAW_END[name].search(text, after)
            stop = close_match.start() if close_match else len(text)
            kind = attrs.get("type", "").split(";", 1)[0].strip().lower()
            if name == "script" and kind == RSL_TYPE:
                head.scripts.append(Script(kind, text[after:stop], line))
            if close_match is None:
                break
            after = close_match.end()
        pos = after
    head.truncated = cut and not head.complete
    return head
