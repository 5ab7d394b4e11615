"""Decoding a document as it declares, for :mod:`.htmlhead`.

The order is ``w3lib.encoding.html_to_unicode``'s (Scrapy's
``response.text``), built from w3lib's own functions: a byte-order mark, else
the charset of the HTTP ``Content-Type`` header, else a ``<meta charset>`` /
``http-equiv`` / XML declaration in the first 4 KiB, else UTF-8.
"""

from __future__ import annotations

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    to_unicode,
)


def normal_content_type(value: bytes | str | None) -> str | None:
    """A ``Content-Type`` header value as text, stripped and lower-cased."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return (value or "").strip().lower() or None


def _encoding(data: bytes, content_type: str | None) -> tuple[str, int]:
    """The encoding and BOM length, in ``w3lib.encoding.html_to_unicode``'s
    order: BOM, HTTP charset, ``<meta>`` / XML declaration, UTF-8. The
    declaration is looked for only when the first 4 KiB can hold one."""
    found, bom = read_bom(data)
    if found is not None and bom is not None:
        return found, len(bom)
    encoding = http_content_type_encoding(content_type)
    if encoding is None:
        start = data[:4096].lower()
        if b"charset" in start or b"encoding" in start:
            encoding = html_body_declared_encoding(data)
            if encoding is not None and encoding.replace("_", "-").startswith(
                    ("utf-16", "utf-32")):
                # Bytes that spell an ASCII <meta> are not UTF-16 (HTML
                # Living Standard, prescan: "If charset is UTF-16BE/LE, then
                # set charset to UTF-8"; the Encoding Standard has no UTF-32).
                encoding = "utf-8"
    if encoding in ("utf-16", "utf-32"):
        encoding += "-be"
    return encoding or "utf-8", 0


def _mentions_free(text: str | bytes) -> bool:
    """Whether the paywall markup needs the whole document scanned."""
    # As schema.org spells it, or all lower case: a plain substring search,
    # ten times faster than a case-insensitive one.
    if isinstance(text, bytes):
        return b"isAccessibleForFree" in text or b"isaccessibleforfree" in text
    return "isAccessibleForFree" in text or "isaccessibleforfree" in text


def decode(body: bytes | str | None, limit: int,
           content_type: str | None) -> tuple[str, int, bool, bool]:
    """The text to scan, where the head part ends in it, whether the limit
    cut the document, and whether it mentions ``isAccessibleForFree`` (then
    the text is the whole document)."""
    if body is None:
        return "", 0, False, False
    if isinstance(body, str):
        free = _mentions_free(body)
        return body if free else body[:limit], min(limit, len(body)), len(body) > limit, free
    data = bytes(body)
    encoding, bom = _encoding(data, content_type)
    cut = len(data) > limit
    text = to_unicode(data[bom:limit], encoding)
    if encoding.replace("_", "-").startswith(("utf-16", "utf-32")):
        # The marker is not ASCII bytes here: look for it in the text.
        whole = to_unicode(data[bom:], encoding) if cut else text
        if _mentions_free(whole):
            return whole, len(text), cut, True
    elif _mentions_free(data):
        return to_unicode(data[bom:], encoding) if cut else text, len(text), cut, True
    return text, len(text), cut, False
