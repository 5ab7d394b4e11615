"""Whether a content-coded body ends where its coding says it ends.

Scrapy inflates ``Content-Encoding`` bodies leniently: ``gunzip`` returns
"as much data as possible" when a gzip stream stops early, ``_inflate``,
``_unbrotli`` and ``_unzstd`` do the same, so a body whose coding was cut
off reads as a complete, shorter document. A robots.txt cut after
``Disallow:`` then allows everything (fail open). RFC 9110 §8.4.1: the
coding is part of the representation; a coding that ends early is an
incomplete representation, so tdmguard reads it as unreadable.

:func:`incomplete` checks what Scrapy decoded against the coded bytes. One
``gzip`` coding (the common case) costs a CRC-32 of the decoded body: the
gzip trailer holds the CRC-32 and length of the data (RFC 1952 §2.3.1). Any
other coding is decoded once more by its library (zlib, brotli, zstd), its
output thrown away, to see the stream's end marker. Pure: no Scrapy import.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator, Sequence

__all__ = ["NO_CODING", "incomplete"]

_CHUNK = 1 << 16
#: Values that mean "no coding": ``identity`` (RFC 9110 §8.4.1), and ``none``,
#: which misconfigured servers send for the same (the body is not coded).
NO_CODING = frozenset({"identity", "none"})


def _zlib_stream(data: bytes, wbits: int) -> Iterator[bytes]:
    """Decode one or more zlib/gzip members; raise ``EOFError`` if the last
    member does not end."""
    while True:
        d = zlib.decompressobj(wbits)
        out = d.decompress(data, _CHUNK)
        yield out
        while d.unconsumed_tail and not d.eof:
            yield d.decompress(d.unconsumed_tail, _CHUNK)
        if not d.eof:
            yield d.flush()
            if not d.eof:
                raise EOFError("the stream ends before its end marker")
        rest = d.unused_data
        if wbits != 31 or rest[:2] != b"\x1f\x8b":
            return  # trailing bytes after the end marker are not part of it
        data = rest


def _gzip(data: bytes) -> Iterator[bytes]:
    return _zlib_stream(data, 31)


def _deflate(data: bytes) -> Iterator[bytes]:
    # As Scrapy's _inflate: the zlib format, else raw deflate (some servers).
    try:
        zlib.decompressobj(15).decompress(data[:_CHUNK], 1)
    except zlib.error:
        return _zlib_stream(data, -15)
    return _zlib_stream(data, 15)


def _brotli(data: bytes) -> Iterator[bytes]:
    import brotli

    d = brotli.Decompressor()
    for i in range(0, len(data), _CHUNK):
        yield d.process(data[i:i + _CHUNK])
    if not d.is_finished():
        raise EOFError("the stream ends before its last meta-block")


def _zstd(data: bytes) -> Iterator[bytes]:
    import importlib

    try:  # Python 3.14's module, else its backport (what Scrapy 2.19 uses)
        zstd = importlib.import_module("compression.zstd")
    except ImportError:
        zstd = importlib.import_module("backports.zstd")
    while data:
        d = zstd.ZstdDecompressor()
        yield d.decompress(data, _CHUNK)
        while not d.eof and d.needs_input is False:
            yield d.decompress(b"", _CHUNK)
        if not d.eof:
            raise EOFError("the frame ends before its end")
        data = d.unused_data


_DECODERS: dict[str, Callable[[bytes], Iterator[bytes]]] = {
    "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}


def _gzip_trailer_matches(coded: bytes, decoded: bytes) -> bool:
    """One gzip member whose trailer states exactly *decoded* (RFC 1952)."""
    if len(coded) < 18 or coded[:2] != b"\x1f\x8b":
        return False
    crc, size = struct.unpack("<II", coded[-8:])
    return bool(size == len(decoded) & 0xFFFFFFFF and crc == zlib.crc32(decoded))


def incomplete(coded: bytes, decoded: bytes, codings: Sequence[str], limit: int) -> str | None:
    """Why *decoded* (Scrapy's result) is not the whole of *coded*, or None.

    *codings* are the ``Content-Encoding`` values in the order they were
    applied; *limit* bounds each intermediate layer of a multi-coded body.
    """
    codings = [c for c in (c.strip().lower() for c in codings) if c and c not in NO_CODING]
    if not codings or not coded:
        return None
    if codings in (["gzip"], ["x-gzip"]) and _gzip_trailer_matches(coded, decoded):
        return None
    layer = coded
    for position, coding in enumerate(reversed(codings)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            return f"Content-Encoding {coding} is not one tdmguard can check"
        last = position == len(codings) - 1
        kept: list[bytes] = []
        size = 0
        try:
            for out in decoder(layer):
                size += len(out)
                if not last:
                    if size > limit:
                        return f"a {coding} layer inflates past {limit} bytes"
                    kept.append(out)
        except EOFError as exc:
            return f"the {coding} coding is cut off ({exc}): {size} bytes decoded"
        except Exception as exc:  # zlib.error, brotli.error, zstd errors
            return f"the {coding} coding is damaged ({type(exc).__name__}: {exc})"[:300]
        if last and size != len(decoded):
            return f"the {coding} coding decodes to {size} bytes, not the {len(decoded)} read"
        layer = b"".join(kept)
    return None
