"""Inputs the fuzzers (fuzz/, fuzz/RUNS.md) and the fault matrix found, kept
as regression tests: each reader answers them with its documented, fail-closed
verdict, never its safety net and never an exception.

Each case names the run that found it. Inputs are inline (shortened to what
still shows the problem), or a copy in tests/data/ where they are binary, so
the tests need neither atheris nor fuzz/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tdmguard.middlewares.readers import (
    _native,
    aipref,
    aitxt,
    c2pa_manifest,
    htmlhead,
    noai,
    robots,
    rsl,
)
from tdmguard.middlewares.readers.assets import read_asset
from tdmguard.middlewares.vocab import RESERVED, UNREADABLE

from .conftest import ROOT
from .test_readers_assets import data_mining, jpeg, pdf, png, webp
from .test_readers_common import assert_reasons, verdict

SITE = "http://x.example"


def test_rsl_licence_declaring_an_unknown_encoding_is_unreadable() -> None:
    # fuzz rsl, 2026-12-06: <?xml encoding="utf-4"?> makes expat raise
    # LookupError. The licence is unreadable (RSL: comply before access), and
    # the reason says why. (The harness had not listed LookupError among the
    # parse errors a reader may report; the reader was right.)
    body = (b'<?xml version="1.0" encoding="utf-4"?><rsl xmlns="https://rslstandard.org/rsl">'
            b'<content url="/"><license><permits type="usage">all</permits></license>'
            b"</content></rsl>")
    doc = rsl.RslDocument.parse(body, 200, f"{SITE}/l.xml")
    assert doc.state == "error" and "unknown encoding" in doc.error
    reasons = assert_reasons(doc.evaluate(f"{SITE}/a"))
    assert verdict(reasons) == UNREADABLE


def test_an_rsl_content_url_with_a_bracket_in_its_host_is_an_unreadable_licence() -> None:
    # fuzz rsl, 2026-12-06 15:04 (crash-59add013): <content url="https://smple[">
    # in an inline licence made urlsplit raise "Invalid IPv6 URL", reported by
    # the parse safety net as "not readable XML". The XML was readable; the
    # licence is unreadable because one of its <content> elements cannot be
    # placed (and it might be the one that prohibits): fail closed, saying why.
    body = (b'<rsl xmlns="https://rslstandard.org/rsl"><content url="http://[bad/">'
            b'<license><permits type="usage">all</permits></license></content></rsl>')
    doc = rsl.RslDocument.parse(body, 200, f"{SITE}/l.xml")
    assert doc.state == "error" and "is not a URL (Invalid IPv6 URL)" in doc.error
    assert "not readable XML" not in doc.error
    assert verdict(assert_reasons(doc.evaluate(f"{SITE}/a"))) == UNREADABLE


def test_an_rsl_licence_evaluated_for_an_unsplittable_url_still_applies() -> None:
    # Found beside the one above: a page URL urlsplit rejects reached the
    # evaluate safety net. The content's origin cannot be compared, so the
    # path decides, and the prohibition holds.
    body = (b'<rsl xmlns="https://rslstandard.org/rsl"><content url="http://x.example/">'
            b'<license><prohibits type="usage">ai-train</prohibits></license></content></rsl>')
    doc = rsl.RslDocument.parse(body, 200, f"{SITE}/l.xml")
    reasons = assert_reasons(doc.evaluate("http://[x.example/a"))
    assert verdict(reasons) == RESERVED
    assert not any("internal error" in r.detail for r in reasons)


# -- robots.txt in other encodings (fault matrix, 2026-12-06) ---------------------------

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be",
                                      "utf-8"])
def test_a_robots_txt_with_a_byte_order_mark_is_read_in_its_encoding(encoding: str) -> None:
    # Read as UTF-8, a UTF-16 file had no parseable line: everything allowed.
    body = ("\ufeff" + DISALLOW_ALL).encode(encoding)
    parsed = robots.parse(body)
    assert parsed.match(f"{SITE}/a", ("TestBot",)).allowed is False
    # ai.txt and the Content-Usage view share the decoding.
    ai = aitxt.AiTxt.parse(body, 200, f"{SITE}/ai.txt")
    assert verdict(ai.evaluate(f"{SITE}/a", ("TestBot",))) == RESERVED
    usage = ("\ufeffUser-agent: *\nContent-Usage: train-ai=n\n").encode(
        "utf-16-le" if encoding == "utf-16-le" else "utf-16")
    rules = aipref.ContentUsageRules.parse(usage, ("TestBot",), f"{SITE}/robots.txt")
    assert verdict(rules.evaluate(f"{SITE}/a")) == RESERVED


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_robots_txt_in_utf16_without_a_bom_is_read(codec: str) -> None:
    parsed = robots.parse(DISALLOW_ALL.encode(codec))
    assert parsed.match(f"{SITE}/a", ("TestBot",)).allowed is False


def test_utf8_text_with_a_few_nul_bytes_stays_utf8() -> None:
    body = b"User-agent: *\nDisallow: /private/\n# \x00\x00\n" + b"# padding line\n" * 20
    parsed = robots.parse(body)
    assert parsed.match(f"{SITE}/private/a", ("TestBot",)).allowed is False
    assert parsed.match(f"{SITE}/public", ("TestBot",)).allowed is True


@pytest.mark.parametrize("path", ["/caf%C3%A9/one", "/caf%E9/one", "/caf/one", "/cafe/x/"])
def test_a_disallow_with_octets_that_are_not_utf8_covers_whatever_they_spell(
        path: str) -> None:
    # RFC 9309 §2.3 asks for UTF-8; a Latin-1 "Disallow: /café/" used to
    # become "/caf\ufffd/", which matches no URL: the rule was lost.
    parsed = robots.parse("User-agent: *\nDisallow: /caf\xe9/\n".encode("latin-1"))
    assert parsed.match(f"{SITE}{path}", ("TestBot",)).allowed is False
    assert parsed.match(f"{SITE}/other", ("TestBot",)).allowed is True


def test_an_allow_with_octets_that_are_not_utf8_grants_nothing() -> None:
    body = "User-agent: *\nDisallow: /\nAllow: /caf\xe9/\n".encode("latin-1")
    parsed = robots.parse(body)
    assert parsed.match(f"{SITE}/caf%E9/a", ("TestBot",)).allowed is False
    assert parsed.invalid_lines == 1


# -- HTML <meta charset> (fault matrix, 2026-12-06) ----------------------------------------


@pytest.mark.parametrize("label", ["utf-16", "UTF-16LE", "utf-16be", "utf-32"])
def test_a_meta_charset_naming_utf16_in_ascii_bytes_means_utf8(label: str) -> None:
    # HTML's prescan: "If charset is UTF-16BE/LE, then set charset to UTF-8".
    # Decoded as UTF-16, the page's noai meta tag was missed: allowed.
    page = (f'<html><head><meta charset="{label}"><meta name="robots" content="noai">'
            "</head><body>x</body></html>").encode()
    head = htmlhead.scan(page, content_type="text/html")
    assert verdict(noai.noai_reasons(None, head, ("TestBot",), "text/html")) == RESERVED


def test_a_transport_utf16_charset_still_decodes_utf16() -> None:
    page = '<html><head><meta name="robots" content="noai"></head></html>'.encode("utf-16-le")
    head = htmlhead.scan(page, content_type="text/html; charset=utf-16le")
    assert verdict(noai.noai_reasons(None, head, ("TestBot",), "text/html")) == RESERVED


# -- XMP packets in UTF-16 and UTF-32 (fault matrix, 2026-12-06) ------------------------


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("container", ["jpeg", "png", "webp", "pdf", "pdf-flate"])
def test_an_xmp_packet_in_a_wide_encoding_is_read(codec: str, container: str) -> None:
    # ISO 16684-1 allows UTF-16 and UTF-32 packets; the scan looked for UTF-8
    # bytes only, so the image's reservation was missed: allowed.
    packet = data_mining("DMI-PROHIBITED-AIMLTRAINING").decode().encode(codec)
    wrap = {"jpeg": jpeg, "png": png, "webp": webp, "pdf": pdf,
            "pdf-flate": lambda p: pdf(p, flate=True)}[container]
    assert verdict(read_asset(wrap(packet)).reasons()) == RESERVED


def test_a_cut_off_xmp_packet_in_utf16_is_unreadable() -> None:
    packet = data_mining("DMI-PROHIBITED-AIMLTRAINING").decode()
    packet = packet[:packet.index("</x:xmpmeta>")]
    reasons = read_asset(png(packet.encode("utf-16-le"))).reasons()
    assert verdict(reasons) == UNREADABLE
    assert any("utf-16-le: truncated XMP packet" in r.rule for r in reasons), reasons


def test_rsl_licence_in_utf7_is_decoded_by_python() -> None:
    # fuzz rsl, 2026-12-06: encoding="UTF-7" made pyexpat raise "ValueError:
    # multi-byte encodings are not supported", reported as unreadable XML. The
    # declared encoding is now decoded first (XML 1.0 §4.3.3 lets a document
    # declare any encoding); one Python cannot decode stays unreadable.
    body = (b'<?xml version="1.0" encoding="UTF-7"?><rsl xmlns="https://rslstandard.org/rsl">'
            b'<content url="/"><license><prohibits type="usage">ai-train</prohibits>'
            b"</license></content></rsl>")
    assert verdict(rsl.RslDocument.parse(body, 200, f"{SITE}/l.xml").evaluate(
        f"{SITE}/a")) == RESERVED
    bad = body.replace(b"UTF-7", b"x-no-such-codec")
    doc = rsl.RslDocument.parse(bad, 200, f"{SITE}/l.xml")
    assert doc.state == "error" and "x-no-such-codec" in doc.error


# -- a C2PA manifest that makes the native reader allocate gigabytes (fuzz c2pa) -------

BOMB_PNG = ROOT / "tests" / "data" / "readers" / "c2pa-cbor-length-bomb.png"
GOOD_PNG = ROOT / "tests" / "data" / "readers" / "c2pa-do-not-train.png"
MEASURE = """
import json, resource, sys
from tdmguard.middlewares.readers import _native
from tdmguard.middlewares.readers.assets import read_asset
asset = read_asset(open(sys.argv[1], "rb").read(), "image/png", "http://x.example/i.png")
reasons = [(r.protocol, r.verdict, r.detail) for r in asset.reasons()]
_native._close()  # reap the child, so RUSAGE_CHILDREN has its peak
# VmHWM, not RUSAGE_SELF: ru_maxrss survives exec, so it would carry the
# peak of the (large) test process this one was forked from.
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"reasons": reasons, "errors": asset.errors,
                  "self_mb": int(hwm[0].split()[1]) / 1024,
                  "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.mark.skipif(not c2pa_manifest.library_available(), reason="needs c2pa-python")
def test_a_c2pa_manifest_declaring_a_2gb_cbor_string_is_read_within_bounds() -> None:
    # fuzz c2pa, 2026-12-06 (oom-245f869b): a 3,620-byte PNG whose damaged
    # training-mining assertion holds a CBOR text string declaring
    # 2,181,758,329 bytes. Read in the crawler's own process, c2pa-rs peaked at
    # 2.1 GB RSS (/usr/bin/time: 2,162,488 KB). The native read now runs in a
    # child process capped at MEMORY_LIMIT of address space: the allocation
    # fails there, and the verdict still fails closed.
    assert len(BOMB_PNG.read_bytes()) == 3620
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(BOMB_PNG)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    c2pa = [r for r in out["reasons"] if r[0] == "c2pa"]
    assert c2pa and c2pa[0][1] == UNREADABLE, out
    assert out["self_mb"] < 150, out
    assert 0 < out["child_mb"] < _native.MEMORY_LIMIT / 2**20, out


@pytest.mark.skipif(not c2pa_manifest.library_available(), reason="needs c2pa-python")
def test_the_native_c2pa_read_fails_closed_on_its_time_bound_and_recovers() -> None:
    good = GOOD_PNG.read_bytes()
    store, state, error = c2pa_manifest.read_manifest_store(good, "image/png", time_limit=1e-4)
    assert store is None and "longer than its 0.0001 s bound" in error
    # The child that overran was killed; the next read gets a new one.
    store, state, error = c2pa_manifest.read_manifest_store(good, "image/png")
    assert store is not None and state == "Valid" and not error
    reasons = read_asset(good, "image/png", f"{SITE}/i.png", c2pa_library=True).reasons()
    assert verdict(reasons) == RESERVED


@pytest.mark.skipif(not c2pa_manifest.library_available(), reason="needs c2pa-python")
def test_a_native_c2pa_reader_that_dies_is_an_error_and_is_replaced() -> None:
    # 80 MiB of asset into a child allowed 64 MiB: it dies reading it.
    store, _state, error = c2pa_manifest.read_manifest_store(
        bytes(80 * 2**20), "image/png", memory_limit=64 * 2**20)
    assert store is None
    assert "memory bound 64 MiB" in error and "MemoryError" in error, error
    store, state, error = c2pa_manifest.read_manifest_store(GOOD_PNG.read_bytes(), "image/png")
    assert state == "Valid" and not error


MANY_FDS = """
import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
from tdmguard.middlewares.readers import _native, c2pa_manifest
store, state, error = c2pa_manifest.read_manifest_store(open(sys.argv[1], "rb").read(), "image/png")
print(_native._worker.proc.stdout.fileno(), state, error)
"""


@pytest.mark.skipif(not c2pa_manifest.library_available(), reason="needs c2pa-python")
def test_the_native_c2pa_read_works_past_1024_descriptors() -> None:
    # A busy crawler holds more than 1024 sockets; select() cannot wait on a
    # descriptor past FD_SETSIZE (ValueError), so the child is polled.
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 1200:
        pytest.skip("the hard descriptor limit is under 1200")
    proc = subprocess.run([sys.executable, "-c", MANY_FDS, str(GOOD_PNG)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fd, state = proc.stdout.split()[:2]
    assert int(fd) > 1024 and state == "Valid", proc.stdout


# -- tdmguard.toml (fuzz config, 2026-12-06) ------------------------------------------------


@pytest.mark.parametrize("url", ["https://ai-la].example/crawlers/", "https://[bot.example/",
                                 "https://bot.example:99999/"])
def test_a_config_url_that_urlsplit_rejects_is_a_config_error(url: str, tmp_path: Path) -> None:
    from tdmguard.policy import config

    example = ROOT / "crawler" / "data" / "demo" / "tdmguard.toml"
    text = example.read_text(encoding="utf-8").replace(
        'info_url = "https://ai-lab.example/crawlers/"', f'info_url = "{url}"', 1)
    path = tmp_path / "tdmguard.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError, match="info_url"):
        config.load(str(path))
