"""middlewares/codings.py: a content coding that ends early is never complete.

Scrapy's decoders return what they could inflate from a cut-off stream; each
case shows that (the lenient decode) and that :func:`incomplete` says why.
"""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.gz import gunzip

from tdmguard.middlewares.codings import incomplete

TEXT = b"User-agent: *\nDisallow: /\n" * 20
LIMIT = 1 << 20


def _zstd(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        zstd = pytest.importorskip("backports.zstd")
    return zstd.compress(data)


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": _zstd,
}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_a_whole_coding_is_complete(coding: str) -> None:
    assert incomplete(ENCODERS[coding](TEXT), TEXT, [coding], LIMIT) is None


@pytest.mark.parametrize("coding", sorted(ENCODERS))
@pytest.mark.parametrize("cut", [1, 4, 9, 30])
def test_a_cut_off_coding_is_incomplete(coding: str, cut: int) -> None:
    coded = ENCODERS[coding](TEXT)[:-cut]
    partial = TEXT[:len(TEXT) // 2]  # whatever a lenient decoder made of it
    why = incomplete(coded, partial, [coding], LIMIT)
    assert why is not None and coding in why, why


def test_scrapy_reads_a_cut_gzip_as_a_shorter_whole_and_we_do_not() -> None:
    coded = gzip.compress(TEXT)[:-20]
    lenient = gunzip(coded)  # no error: "as much data as possible"
    assert 0 < len(lenient) < len(TEXT)
    assert "cut off" in (incomplete(coded, lenient, ["gzip"], LIMIT) or "")


def test_deflate_without_its_zlib_header_is_read_as_scrapy_does() -> None:
    raw = zlib.compress(TEXT)[2:-4]  # raw deflate, as some servers send it
    assert incomplete(raw, TEXT, ["deflate"], LIMIT) is None
    assert incomplete(raw[:-5], TEXT[:100], ["deflate"], LIMIT) is not None


def test_several_gzip_members_are_one_body() -> None:
    coded = gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:])
    assert incomplete(coded, TEXT, ["gzip"], LIMIT) is None
    assert incomplete(coded[:-3], TEXT, ["gzip"], LIMIT) is not None


def test_bytes_after_the_end_marker_do_not_make_it_incomplete() -> None:
    assert incomplete(gzip.compress(TEXT) + b"\0\0junk", TEXT, ["gzip"], LIMIT) is None


def test_two_codings_are_checked_layer_by_layer() -> None:
    twice = gzip.compress(brotli.compress(TEXT))
    assert incomplete(twice, TEXT, ["br", "gzip"], LIMIT) is None
    inner_cut = gzip.compress(brotli.compress(TEXT)[:-3])
    assert "br" in (incomplete(inner_cut, TEXT[:10], ["br", "gzip"], LIMIT) or "")


def test_identity_and_no_coding_need_no_check() -> None:
    assert incomplete(TEXT, TEXT, ["identity"], LIMIT) is None
    assert incomplete(TEXT, TEXT, ["None"], LIMIT) is None  # a misconfigured server's "none"
    assert incomplete(TEXT, TEXT, [], LIMIT) is None


def test_a_coding_we_cannot_check_is_said() -> None:
    assert "x-unknown" in (incomplete(TEXT, TEXT, ["x-unknown"], LIMIT) or "")


def test_a_decoded_length_that_differs_is_incomplete() -> None:
    # The slow path compares what it decoded with what Scrapy read.
    why = incomplete(brotli.compress(TEXT), TEXT[:-1], ["br"], LIMIT)
    assert why is not None and "not the" in why


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=4000), st.integers(min_value=1, max_value=64),
       st.sampled_from(sorted(ENCODERS)))
def test_no_cut_is_ever_complete(data: bytes, cut: int, coding: str) -> None:
    coded = ENCODERS[coding](data)
    cut = min(cut, len(coded) - 1)  # an empty body has nothing to decode: not checked
    assert incomplete(coded[:-cut], data, [coding], LIMIT) is not None
    assert incomplete(coded, data, [coding], LIMIT) is None
