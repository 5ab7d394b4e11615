"""Protego's URL pattern engine and percent-encoding normalisation, vendored.

Copied unchanged (apart from names and this header) from Protego 0.7.0,
``protego/_urlpattern.py`` (``_URLPattern``) and ``protego/_utils.py``
(``_quote_path``, ``_quote_pattern`` and the helpers they call). They are
private in Protego, so :mod:`.robots` imports them from here instead of
depending on Protego's internal module layout; the behaviour is pinned by
``tests/test_parser_robots.py``. https://github.com/scrapy/protego

Copyright (c) Protego developers.
All rights reserved.

Redistribution and use in source and binary forms, with or without modification,
are permitted provided that the following conditions are met:

    1. Redistributions of source code must retain the above copyright notice,
       this list of conditions, and the following disclaimer.

    2. Redistributions in binary form must reproduce the above copyright
       notice, this list of conditions, and the following disclaimer in the
       documentation and/or other materials provided with the distribution.

    3. Neither the name of Protego nor the names of its contributors may be used
       to endorse or promote products derived from this software without
       specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR
ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
(INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON
ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
(INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

__all__ = ["PROTEGO_VERSION", "URLPattern", "quote_path", "quote_pattern"]

#: The Protego release this code was copied from.
PROTEGO_VERSION = "0.7.0"


# -- protego/_urlpattern.py ------------------------------------------------------


class URLPattern:
    """A robots.txt path pattern (``*`` and a trailing ``$``), already quoted."""

    def __init__(self, pattern: str):
        self._pattern: str = pattern
        self.priority: int = len(pattern)
        self._contains_asterisk: bool = "*" in self._pattern
        self._contains_dollar: bool = self._pattern.endswith("$")

        if self._contains_asterisk:
            self._pattern_before_asterisk: str = self._pattern[
                : self._pattern.find("*")
            ]
            self._wildcard_parts, self._wildcard_ends_with_dollar = (
                self._prepare_wildcard_parts(pattern)
            )
        elif self._contains_dollar:
            self._pattern_before_dollar: str = self._pattern[:-1]

    def match(self, url: str) -> bool:
        """Return True if pattern matches the given URL, otherwise return False."""
        if not self._contains_asterisk:
            if not self._contains_dollar:
                return url.startswith(self._pattern)
            return url == self._pattern_before_dollar

        if not url.startswith(self._pattern_before_asterisk):
            return False

        return self._match_wildcard(url)

    def _match_wildcard(self, url: str) -> bool:
        parts = self._wildcard_parts
        ends_with_dollar = self._wildcard_ends_with_dollar

        pos = len(parts[0])

        for part in parts[1:-1]:
            idx = url.find(part, pos)
            if idx == -1:
                return False
            pos = idx + len(part)

        last = parts[-1]
        if ends_with_dollar:
            end_pos = len(url) - len(last)
            return end_pos >= pos and url[end_pos:] == last
        if not last:
            return True
        return url.find(last, pos) != -1

    @staticmethod
    def _prepare_wildcard_parts(pattern: str) -> tuple[list[str], bool]:
        ends_with_dollar = pattern.endswith("$")
        if ends_with_dollar:
            pattern = pattern[:-1]
        pattern = re.sub(r"\*+", "*", pattern)
        return pattern.split("*"), ends_with_dollar


# -- protego/_utils.py ----------------------------------------------------------------

_HEX_DIGITS = set("0123456789ABCDEFabcdef")

# Escapes left as they are while normalizing a URL for comparison: the path
# separator, and "%" so that escapes already present are not doubled.
_KEPT = "/%"

# Patterns additionally keep "*", which stands for any sequence of characters.
_PATTERN_KEPT = f"{_KEPT}*"

# Characters left verbatim rather than encoded. "=" is absent from the sets
# above, so that "%3D" is decoded into it and both spellings compare equal.
_SAFE = f"{_KEPT}="
_PATTERN_SAFE = f"{_PATTERN_KEPT}="

# A URL whose path is made only of characters that percent-encoding leaves
# alone, and that urlsplit does not read as a delimiter, needs no quoting. A
# path starting with "//" is left out because urlsplit reads it as an
# authority.
_QUOTED_URL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?(/(?!/)[A-Za-z0-9_.~/=-]*)"
).fullmatch

# Patterns keep "*" unquoted as well, and their trailing "$" as it is.
_QUOTED_PATTERN = re.compile(r"[A-Za-z0-9_.~/=*-]+\$?").fullmatch


def _unquote(url: str, ignore: str = "", errors: str = "replace") -> str:
    """Replace %xy escapes by their single-character equivalent."""
    if "%" not in url:
        return url

    # ignore contains %xy escapes for characters that are not
    # meant to be converted back.
    ignore_set = {f"{ord(c):02X}" for c in ignore}

    parts = url.split("%")
    parts_encoded: list[bytes] = [parts[0].encode("utf-8")]

    for part in parts[1:]:
        # %xy is a valid escape only if x and y are hexadecimal digits.
        if len(part) >= 2 and set(part[:2]).issubset(_HEX_DIGITS):
            # make sure that all %xy escapes are in uppercase.
            hexcode = part[:2].upper()
            leftover = part[2:]
            if hexcode not in ignore_set:
                parts_encoded.append(bytes.fromhex(hexcode) + leftover.encode("utf-8"))
                continue
            part = hexcode + leftover

        # add back the '%' we removed during splitting.
        parts_encoded.append(b"%" + part.encode("utf-8"))

    return b"".join(parts_encoded).decode("utf-8", errors)


def _quote(value: str, kept: str, safe: str) -> str:
    """Return *value* with its percent-encoding normalized.

    Escapes other than those of the characters in *kept* are decoded,
    characters that need an escape are encoded, and those in *safe* are left
    verbatim. Both sides of a comparison must be normalized with the same
    *kept* and *safe* sets, or equivalent strings end up spelled differently.
    """
    return quote(_unquote(value, ignore=kept), safe=safe)


def quote_path(url: str) -> str:
    """Return the path and query of *url*, normalized for comparison.

    The scheme, the authority and the fragment are dropped, since rules never
    match against them.
    """
    quoted = _QUOTED_URL(url)
    if quoted:
        return quoted[1]

    url = url.partition("#")[0]
    parts = urlsplit(url)
    path = parts.path
    # A "?" with nothing after it is still part of what rules match against.
    if "?" in url:
        path += f"?{parts.query}"
    path = _quote(path, _KEPT, _SAFE)
    return path if path.startswith("/") else f"/{path}"


def quote_pattern(pattern: str) -> str:
    """Return *pattern* normalized for comparison.

    A trailing "$", which anchors the pattern to the end of the URL, is kept
    as it is; a "$" anywhere else is an ordinary character.
    """
    if _QUOTED_PATTERN(pattern):
        return pattern

    # A rule written as an absolute URL matches a path with that URL in it,
    # which is what the site owner who wrote it by mistake gets.
    if pattern.startswith(("https://", "http://")):
        pattern = f"/{pattern}"

    anchor = ""
    if pattern.endswith("$"):
        anchor = "$"
        pattern = pattern[:-1]
    return _quote(pattern, _PATTERN_KEPT, _PATTERN_SAFE) + anchor
