"""Registrable domains from the Public Suffix List, offline.

This module owns tdmguard's only :class:`tldextract.TLDExtract` instance,
built as STYLE.md section 3 prescribes: ``suffix_list_urls=()`` disables HTTP,
``cache_dir=None`` disables the disk cache, so the Public Suffix List always
comes from the snapshot bundled with the pinned tldextract release. Never
call ``tldextract.extract()`` or build a default ``TLDExtract()``: both fetch
publicsuffix.org when no cache exists.

PSL *private* domains (``github.io``, ``blogspot.com``...) are treated as
public suffixes (:data:`INCLUDE_PSL_PRIVATE_DOMAINS` is ``True``): each
``user.github.io`` site is run by a different party, so it is its own
registrable domain, as browsers treat it for cookies and Scrapy's
``CookiesMiddleware`` does.

>>> registrable_domain("https://forums.bbc.co.uk/path")
'bbc.co.uk'
>>> registrable_domain("octocat.github.io")
'octocat.github.io'
>>> registrable_domain("x.example")
'x.example'
"""

from __future__ import annotations

import functools
import pkgutil

from tldextract import TLDExtract

from .hosts import canonical_host

__all__ = [
    "EXTRACT",
    "INCLUDE_PSL_PRIVATE_DOMAINS",
    "icann_wildcard_parents",
    "is_public_suffix",
    "psl_snapshot_version",
    "registrable_domain",
    "suffix_rules",
]

#: Whether PSL private-section suffixes count as public suffixes.
INCLUDE_PSL_PRIVATE_DOMAINS = True

#: The offline extractor (bundled snapshot, no HTTP, no disk cache).
EXTRACT = TLDExtract(
    suffix_list_urls=(),
    cache_dir=None,
    fallback_to_snapshot=True,
    include_psl_private_domains=INCLUDE_PSL_PRIVATE_DOMAINS,
)

# Private file name inside the tldextract wheel; pinned and covered by a test.
_SNAPSHOT = ".tld_set_snapshot"


@functools.lru_cache(maxsize=65536)
def registrable_domain(host_or_url: str) -> str:
    """Return the registrable domain of a host or URL.

    That is the public suffix plus one label (``forums.bbc.co.uk`` ->
    ``bbc.co.uk``). A host without one (no public suffix such as
    ``x.example`` or ``localhost``, an IP address, or a bare public suffix)
    is returned itself, canonicalised; input without a host gives ``""``.
    """
    result = canonical_host(host_or_url)
    if result is None:
        return ""
    host, ip = result
    if ip:
        return host
    return EXTRACT(host).top_domain_under_public_suffix or host


@functools.cache
def suffix_rules() -> frozenset[str]:
    """Every PSL rule in use, wildcards (``*.ck``) and exceptions (``!www.ck``) too."""
    return frozenset(EXTRACT.tlds)


@functools.cache
def icann_wildcard_parents() -> frozenset[str]:
    """Return the parents of the ICANN section's wildcard rules (``*.ck`` -> ``ck``).

    Any ``label.ck`` is itself a public suffix. ASCII parents only.
    """
    parents = set()
    for rule in suffix_rules():
        parent = rule[2:]
        if rule.startswith("*.") and parent.isascii():
            probe = "x." + parent
            if EXTRACT(probe, include_psl_private_domains=False).suffix == probe:
                parents.add(parent)
    return frozenset(parents)


def is_public_suffix(host: str, *, include_private: bool = False) -> bool:
    """Return whether the canonical *host* is itself a public suffix.

    By default only the PSL's ICANN section counts (``co.uk``, ``com``), not
    its private section (``github.io``): a list may name a whole platform.
    A cheap set pre-check keeps this fast enough for millions of entries.
    """
    if "xn--" not in host:
        rules = suffix_rules()
        if host not in rules:
            parent = host.partition(".")[2]
            if not parent or "*." + parent not in rules:
                return False
    result = EXTRACT(host, include_psl_private_domains=include_private)
    return bool(result.suffix) and not result.domain


def psl_snapshot_version() -> str:
    """Return the ``VERSION`` line of tldextract's bundled Public Suffix List.

    For example ``'2025-04-07_15-51-09_UTC'`` for tldextract 5.4.0. Record it
    with each crawl: it is the list every registrable domain was derived from.
    """
    data = pkgutil.get_data("tldextract", _SNAPSHOT)
    if data is not None:
        for line in data.splitlines()[:40]:
            if line.startswith(b"// VERSION:"):
                return line.partition(b":")[2].strip().decode("ascii")
    raise LookupError(
        f"tldextract's bundled {_SNAPSHOT} has no '// VERSION:' line; "
        "install the pinned release (pip install tldextract==5.4.0)"
    )
