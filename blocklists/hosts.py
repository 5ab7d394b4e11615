"""Host normalisation shared by list loading and matching.

Everything here is pure string work: no DNS, no network, no Scrapy.

A *canonical host* is what list entries are stored as and what look-ups use:

* ASCII only: internationalised names are encoded with IDNA 2008 (UTS #46,
  non-transitional, as browsers do), so ``bücher.example`` and
  ``xn--bcher-kva.example`` are the same host;
* lower case, without a trailing dot;
* without scheme, userinfo, port, path, query or fragment when a URL is given;
* IP addresses in their canonical text form (IPv6 compressed, no brackets).

>>> normalise_host("HTTPS://user:pw@Bücher.Example.:8443/a?b#c")
'xn--bcher-kva.example'
>>> normalise_host("[2001:DB8:0::1]:80")
'2001:db8::1'
"""

from __future__ import annotations

import ipaddress
import re

import idna

__all__ = [
    "HOSTNAME_RE",
    "canonical_host",
    "idna_variants",
    "is_ip",
    "normalise_host",
    "split_host",
]

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
#: A syntactically valid canonical host name (labels of 1-63 characters).
#: Underscores are tolerated because real host names carry them.
HOSTNAME_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
MAX_HOST_LENGTH = 253

#: Characters of an already-canonical host (or IPv4 address): the fast path.
PLAIN_HOST_RE = re.compile(r"[a-z0-9._-]+")
_PLAIN_HOST = PLAIN_HOST_RE.fullmatch
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: A lower-case ASCII URL with a plain host: scheme, optional userinfo, host,
#: optional port, then the end or a path, query or fragment delimiter.
PLAIN_URL_RE = re.compile(
    r"[a-z][a-z0-9+.-]*://(?:[^/?#\\@]*@)?([a-z0-9._-]+)(?::[0-9]*)?(?:[/?#\\]|$)"
)
_PLAIN_URL = PLAIN_URL_RE.match
# UTS #46 treats these as label separators; map them before looking for ports.
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def split_host(value: str) -> str:
    """Return the raw host part of *value*, a host name or a URL.

    Scheme, userinfo, port, path, query and fragment are removed; case and
    encoding are left alone. IPv6 literals keep their brackets.
    """
    text = value.strip()
    scheme = _SCHEME.match(text)
    if scheme:
        text = text[scheme.end() :]
    elif text.startswith("//"):
        text = text[2:]
    # The authority ends at the first path, query or fragment delimiter
    # (a backslash counts as a slash in WHATWG URLs for web schemes).
    for delimiter in "/?#\\":
        cut = text.find(delimiter)
        if cut >= 0:
            text = text[:cut]
    text = text.rpartition("@")[2]
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1] if end > 0 else text
    # One colon is a port; more than one is an unbracketed IPv6 address.
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text


def _ip(text: str) -> str | None:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def _to_ascii(host: str) -> str | None:
    """Encode a Unicode host name with IDNA 2008, falling back to IDNA 2003."""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    # Names registered under IDNA 2003 (symbols, emoji) still resolve; the
    # standard library codec implements that older standard.
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def canonical_host(value: str) -> tuple[str, bool] | None:
    """Return ``(canonical host, is_ip)`` for *value*, or ``None`` if it has no host."""
    # Fast path: a plain ASCII host, or a URL whose host is one (at most two
    # regex matches, no IDNA); everything else takes _slow().
    if not value.isascii():
        return _slow(value)
    text = value.lower()
    if not _PLAIN_HOST(text):
        url = _PLAIN_URL(text)
        if url is None:
            return _slow(value)
        text = url[1]
    if text[-1] == ".":
        text = text[:-1]
        if not text:
            return None
    if text[-1].isdigit():
        address = _ip(text)
        if address is not None:
            return address, True
    return text, False


def _slow(value: str) -> tuple[str, bool] | None:
    text = value.strip()
    if text.isascii():
        text = split_host(text.lower())
    else:
        text = split_host(text).translate(_IDEOGRAPHIC_DOTS)
        if text.isascii():
            text = text.lower()
    text = text.removesuffix(".")
    if not text:
        return None
    if not text.isascii():
        ascii_host = _to_ascii(text)
        if not ascii_host:
            return None
        text = ascii_host
    if text[0] == "[" or ":" in text:
        address = _ip(text)
        return None if address is None else (address, True)
    if text[-1].isdigit():
        address = _ip(text)
        if address is not None:
            return address, True
    return text, False


def normalise_host(value: str) -> str | None:
    """Return the canonical host of *value* (a host or URL), or ``None``."""
    result = canonical_host(value)
    return None if result is None else result[0]


def is_ip(host: str) -> bool:
    """Return whether *host* (canonical) is an IPv4 or IPv6 address."""
    return _ip(host) is not None


def idna_variants(host: str) -> tuple[str, ...]:
    """Return the other ASCII spellings of the internationalised *host*.

    IDNA 2003 (Python's ``idna`` codec, used by w3lib and so by Scrapy's
    ``Request``) and IDNA 2008 disagree on a few characters: ``straße.de``
    is ``strasse.de`` in one and ``xn--strae-oqa.de`` in the other. A list
    entry names the Unicode domain, so both spellings are blocked.
    """
    if "xn--" not in host:
        return ()
    try:
        unicode_host = idna.decode(host)
    except (idna.IDNAError, UnicodeError, ValueError):
        try:
            unicode_host = host.encode("ascii").decode("idna")
        except UnicodeError:
            return ()
    forms: set[str] = set()
    try:
        forms.add(idna.encode(unicode_host, uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        forms.add(unicode_host.encode("idna").decode("ascii").lower())
    except UnicodeError:
        pass
    forms.discard(host)
    return tuple(sorted(forms))
