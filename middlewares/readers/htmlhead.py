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

Bytes are decoded as the document declares (w3lib, as Scrapy's
``response.text``): a byte-order mark, else the charset of the HTTP
``Content-Type`` header (*content_type*), else ``<meta charset>`` or
``http-equiv`` in the first 4 KiB, else UTF-8.

The paywall check (``middlewares/lawful.py``) reads the same scan: when the
document mentions ``isAccessibleForFree`` anywhere, the scan goes on past the
head, through the whole document, collecting only JSON-LD blocks
(:attr:`Head.jsonld`) and elements whose ``itemprop`` / ``property`` names
it (:attr:`Head.free_props`); otherwise it stops where the head ends. The
last scan is remembered, so checks that scan the same body object with the
same arguments share one result (treat it as read-only). After the head, the
rest of the scanned bytes is searched for misplaced ``<meta name>`` /
``<meta http-equiv>`` tags (:attr:`Head.body_metas`, read in strict mode),
skipping comments and raw-text elements as the head scan does.

Why it is long: three passes read the same decoded text with one tokenizer
(the tag pattern, the attribute parser, the raw-text and comment rules): the
head itself, the misplaced meta tags after it, and the paywall markers
through the whole document. Split, they would each need the tokenizer and
the decoded text handed across modules.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from ._charset import decode, normal_content_type

#: Default number of bytes read from the start of a document.
HEAD_LIMIT = 64 * 1024

_TAG_START = re.compile(r"<(!--|/?[A-Za-z][^\s/>]*)")
_SPACE = re.compile(r"[\s/]*")
_ATTR_NAME = re.compile(r"[^\s\"'>/=]+")
_UNQUOTED = re.compile(r"[^\s>]+")
_RAW_TEXT = ("script", "style", "title", "textarea", "template", "noframes", "xmp")
_RAW_END = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in _RAW_TEXT}
_BODY_SCAN = re.compile(
    r"<(!--|(?:script|style|title|textarea|template|noframes|xmp)(?=[\s/>]))"
    r"|isaccessibleforfree", re.IGNORECASE)
_FREE = re.compile(r"isaccessibleforfree", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_PROP_ATTRS = (("itemprop", "microdata"), ("property", "RDFa"))
_VOID = frozenset({"meta", "link", "img", "input", "br", "hr", "source", "area", "base"})
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


@dataclass(frozen=True, slots=True)
class Prop:
    """An element whose ``itemprop`` (microdata) or ``property`` (RDFa) names
    ``isAccessibleForFree``; *value* is its ``content``, else ``href``, else
    its text."""

    kind: str
    name: str
    value: str
    line: int


@dataclass(slots=True)
class Head:
    """What :func:`scan` found."""

    metas: list[Meta] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    scripts: list[Script] = field(default_factory=list)
    #: True when the document mentions ``isAccessibleForFree`` anywhere.
    free_marked: bool = False
    #: JSON-LD ``<script>`` blocks anywhere in the document (when free_marked).
    jsonld: list[Script] = field(default_factory=list)
    #: ``isAccessibleForFree`` microdata / RDFa anywhere (when free_marked).
    free_props: list[Prop] = field(default_factory=list)
    #: ``<meta>`` elements after the head, within the scanned bytes (outside
    #: comments and raw-text elements): a template that misplaces a robots
    #: meta tag; strict mode reads them (a reservation seen anywhere holds).
    body_metas: list[Meta] = field(default_factory=list)
    #: True once ``</head>`` or ``<body`` was reached.
    complete: bool = False
    #: True when the byte limit cut the document before the head ended.
    truncated: bool = False
    #: The line of the last tag read (where a truncated scan stopped).
    last_line: int = 0

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


def _mime(attrs: dict[str, str]) -> str:
    return attrs.get("type", "").split(";", 1)[0].strip().lower()


def _prop(head: Head, name: str, attrs: dict[str, str], text: str, after: int,
          line: int) -> None:
    """Record the element if its itemprop/property names isAccessibleForFree."""
    for attr, kind in _PROP_ATTRS:
        value = attrs.get(attr)
        if value is not None and _FREE.search(value):
            found = attrs.get("content") or attrs.get("href")
            if not found and name not in _VOID:  # its text, as normalize-space(.)
                close = re.compile(rf"</{re.escape(name)}[\s/>]", re.IGNORECASE)
                end = close.search(text, after, after + 256)
                chunk = text[after : end.start() if end else after + 256]
                found = " ".join(html.unescape(_TAGS.sub(" ", chunk)).split())
            head.free_props.append(Prop(kind, value.strip(), (found or "").strip(), line))
            return


_last: list[tuple[object, int, str | None, Head]] = []  # the last scan


def scan(body: bytes | str | None, limit: int = HEAD_LIMIT,
         content_type: bytes | str | None = None) -> Head:
    """Scan the head of *body* (bytes or text); never raises on content.

    *content_type* is the HTTP ``Content-Type`` header, whose charset (if any)
    decodes the bytes unless a byte-order mark says otherwise.
    """
    key = (max(0, int(limit)), normal_content_type(content_type))
    if _last and _last[0][0] is body and _last[0][1:3] == key and body is not None:
        return _last[0][3]
    head = _scan(body, *key)
    _last[:] = [(body, *key, head)]
    return head


def _scan(body: bytes | str | None, limit: int, ctype: str | None) -> Head:
    head = Head()
    text, head_end, cut, free = decode(body, limit, ctype)
    head.free_marked = free
    marks = _FREE.finditer(text) if free else iter(())
    mark = next(marks, None)
    pos, line, counted = 0, 1, 0
    while True:
        match = _TAG_START.search(text, pos, head_end)
        if match is None:
            break
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        token = match.group(1)
        if token == "!--":
            close = text.find("-->", match.end())
            if close < 0:
                free = False  # nothing after it is markup
                break
            pos = close + 3
            continue
        name = token.lower()
        if name == "/head" or name == "body":
            head.complete = True
            pos = start  # the paywall scan reads <body> itself too
            break
        if name not in ("meta", "link") and name not in _RAW_TEXT:
            pos = match.end()
            while mark is not None and mark.start() < start:
                mark = next(marks, None)
            # An element carrying the marker: read its attributes after all.
            if mark is not None and text.find(">", pos, mark.start()) < 0:
                attrs, pos = _attributes(text, pos)
                _prop(head, name, attrs, text, pos, line)
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
            head.links.append(
                Link(rel, _mime(attrs), attrs.get("href", "").strip(), line, raw[:500])
            )
        else:  # raw text element: jump over its contents
            close_match = _RAW_END[name].search(text, after)
            stop = close_match.start() if close_match else len(text)
            kind = _mime(attrs)
            if name == "script" and kind == RSL_TYPE:
                head.scripts.append(Script(kind, text[after:stop], line))
            elif free and name == "script" and "ld+json" in kind:
                head.jsonld.append(Script(kind, text[after:stop], line))
            if close_match is None:
                free = False
                break
            after = close_match.end()
        if free and name in ("meta", "link"):
            _prop(head, name, attrs, text, after, line)
        pos = after
    head.truncated = cut and not head.complete
    head.last_line = line
    if head.complete:
        _body_metas(head, text, pos, head_end, line, counted)
    if free:
        _scan_rest(head, text, pos, line, counted)
    return head


_BODY_META = re.compile(
    r"<(!--|(?:meta|script|style|title|textarea|template|noframes|xmp)(?=[\s/>]))",
    re.IGNORECASE)


def _body_metas(head: Head, text: str, pos: int, end: int, line: int, counted: int) -> None:
    """``<meta name|http-equiv>`` after the head, up to *end* (the scanned bytes)."""
    while True:
        match = _BODY_META.search(text, pos, end)
        if match is None:
            return
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        token = match.group(1).lower()
        if token == "!--":
            close = text.find("-->", match.end())
            if close < 0:
                return
            pos = close + 3
        elif token == "meta":
            attrs, after = _attributes(text, match.end())
            for attr in ("name", "http-equiv"):
                if attr in attrs:
                    raw = text[start:after].strip()
                    head.body_metas.append(Meta(attrs[attr].strip().lower(),
                                                attrs.get("content", "").strip(), attr,
                                                line, raw[:500]))
                    break
            pos = after
        else:  # raw text (or inert template) content: no element in it counts
            close_match = _RAW_END[token].search(text, match.end())
            if close_match is None:
                return
            pos = close_match.end()


def _scan_rest(head: Head, text: str, pos: int, line: int, counted: int) -> None:
    """After the head: only JSON-LD blocks and isAccessibleForFree elements."""
    while True:
        match = _BODY_SCAN.search(text, pos)
        if match is None:
            return
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        token = match.group(1)
        if token == "!--":
            close = text.find("-->", match.end())
            if close < 0:
                return
            pos = close + 3
        elif token:  # raw text element: only a JSON-LD script is kept
            name = token.lower()
            attrs, after = _attributes(text, match.end())
            close_match = _RAW_END[name].search(text, after)
            if name == "script" and "ld+json" in _mime(attrs):
                stop = close_match.start() if close_match else len(text)
                head.jsonld.append(Script(_mime(attrs), text[after:stop], line))
            if close_match is None:
                return
            pos = close_match.end()
        else:  # the marker: inside a start tag, or mere text?
            lt = text.rfind("<", pos, start)
            tag = _TAG_START.match(text, lt) if lt >= 0 else None
            if tag is None or text.find(">", lt, start) >= 0 or tag.group(1)[0] in "/!":
                pos = match.end()
                continue
            attrs, after = _attributes(text, tag.end())
            _prop(head, tag.group(1).lower(), attrs, text, after,
                  line - text.count("\n", lt, start))
            pos = max(after, match.end())
