#!/usr/bin/env python3
"""Coverage-guided fuzz harnesses: one per reader, the blocklist line parser,
the reservations file reader, the ``tdmguard.toml`` loader and the
content-coding completeness check.

Run one target with atheris (libFuzzer)::

    python fuzz/harness.py robots fuzz/corpus/robots -max_total_time=60

or every target for a fixed time each with ``fuzz/run.py``. Each harness
feeds the bytes to the reader as a server would send them and checks what a
reader promises (middlewares/readers/__init__.py): it never raises on
content, answers a non-empty list of :class:`Reason` of its own protocols,
and never reaches its safety net (``never_raises``, whose reason starts with
:data:`INTERNAL_ERROR`; a parse-level ``unreadable (SomeError)`` is the same
net). Anything else is a finding: :class:`Finding` (or any exception)
makes libFuzzer save the input under ``fuzz/findings/<target>/``.

Where a harness needs more than one input (headers and a body), it derives
them from the one byte string, so a seed from ../shared/real-web keeps its
meaning: the body is the whole input, header values are its lines, and the
variant (content type, mode, purpose) is picked by the input's length.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # offline, always

with atheris.instrument_imports(include=["tdmguard"]):
    from tdmguard.blocklists import listfile
    from tdmguard.middlewares import codings
    from tdmguard.middlewares.readers import (
        INTERNAL_ERROR,
        PROTOCOLS,
        aipref,
        aitraining,
        aitxt,
        assets,
        c2pa_manifest,
        contentsignal,
        htmlhead,
        noai,
        robots,
        rsl,
        tdmrep,
        xmp,
    )
    from tdmguard.middlewares.vocab import RFC, STRICT, Reason

SITE = "http://fuzz.example"
TOKENS = (("TestBot",), ("GPTBot", "tdmguard"), ())
MODES = (STRICT, RFC)
PURPOSES = ("train-ai", "search", "ai-input", "train-ai-nongen")
CTYPES = ("text/html", "text/html; charset=utf-16le", "text/html; charset=iso-8859-1",
          "application/xhtml+xml; charset=shift_jis", "", "text/html; charset=bogus")
ASSET_TYPES = ("", "image/jpeg", "image/png", "application/pdf", "application/epub+zip",
               "image/webp", "application/octet-stream")
#: Exception names a parse-level net may report for bad content (not a bug).
#: (An XML declaration naming an unknown encoding is a LookupError from expat.)
EXPECTED_PARSE_ERRORS = ("ParseError", "DTDForbidden", "EntitiesForbidden",
                         "ExternalReferenceForbidden", "JSONDecodeError",
                         "UnicodeDecodeError", "LookupError")


class Finding(AssertionError):
    """A reader broke a promise on this input."""


def _pick(data: bytes, options: tuple[object, ...], salt: int = 0) -> object:
    return options[(len(data) + salt) % len(options)]


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


def _lines(data: bytes, limit: int = 8) -> list[str]:
    return [_latin1(line) for line in data.splitlines()[:limit]]


def _urls(data: bytes) -> list[str]:
    """A few URLs on the fuzz site, some taken from the input's own paths."""
    urls = [f"{SITE}/", f"{SITE}/articles/one", f"{SITE}/a%2Fb?x=1"]
    for word in data.split()[:40]:
        if word.startswith(b"/"):
            urls.append(SITE + _latin1(word[:200]).replace("*", "x").replace("$", ""))
    return urls[:8]


def reasons_ok(reasons: object, allowed: Iterable[str] = PROTOCOLS) -> list[Reason]:
    if not isinstance(reasons, list) or not reasons:
        raise Finding(f"not a non-empty list of reasons: {reasons!r}")
    allowed = tuple(allowed)
    for reason in reasons:
        if not isinstance(reason, Reason):
            raise Finding(f"not a Reason: {reason!r}")
        if reason.protocol not in allowed:
            raise Finding(f"unexpected protocol: {reason!r}")
        if reason.detail.startswith(INTERNAL_ERROR):
            raise Finding(f"safety net reached: {reason!r}")
        if not all(isinstance(x, str) for x in (reason.rule, reason.source, reason.detail)):
            raise Finding(f"non-text field: {reason!r}")
    return reasons


def error_ok(error: str) -> None:
    """A parse-level safety net (``unreadable (IndexError)``) is a bug."""
    if "unreadable (" in error or "not readable XML (" in error:
        name = error.split("(", 1)[1].split(")")[0].split(":")[0]
        if name not in EXPECTED_PARSE_ERRORS:
            raise Finding(f"parse safety net reached: {error}")


# -- targets -----------------------------------------------------------------------


def fuzz_robots(data: bytes) -> None:
    parsed = robots.parse(data, limit=_pick(data, (None, 500 * 1024, 64)))  # type: ignore[arg-type]
    for tokens in TOKENS:
        for url in _urls(data):
            match = parsed.match(url, tokens)
            if not isinstance(match.allowed, bool):
                raise Finding(f"allowed is {match.allowed!r}")
            match.describe()
        parsed.crawl_delay(tokens)
    for name in ("sitemap", "license", "host", "content-usage"):
        parsed.global_values(name)


def fuzz_tdmrep(data: bytes) -> None:
    mode = _pick(data, MODES)
    status = _pick(data, (200, 200, 404, 503, None), 1)
    file = tdmrep.TdmRepFile.parse(data, status, f"{SITE}/.well-known/tdmrep.json")  # type: ignore[arg-type]
    error_ok(file.error)
    for url in _urls(data):
        reasons_ok(file.evaluate(url, mode=mode, matching=_pick(data, ("first", "longest"))),  # type: ignore[arg-type]
                   ("tdmrep",))
    headers = [("tdm-reservation", line) for line in _lines(data, 3)]
    headers += [("tdm-policy", line) for line in _lines(data, 2)]
    head = htmlhead.scan(data)
    reasons_ok(tdmrep.resolve(f"{SITE}/a", file, headers, head, (), mode=mode), ("tdmrep",))  # type: ignore[arg-type]


def fuzz_aitxt(data: bytes) -> None:
    doc = aitxt.AiTxt.parse(data, _pick(data, (200, 200, 404, 503, None)), f"{SITE}/ai.txt")  # type: ignore[arg-type]
    error_ok(doc.error)
    for tokens in TOKENS:
        for url in _urls(data):
            reasons_ok(doc.evaluate(url, tokens, _pick(data, PURPOSES), _pick(data, MODES, 1)),  # type: ignore[arg-type]
                       ("ai.txt",))


def fuzz_rsl(data: bytes) -> None:
    doc = rsl.RslDocument.parse(data, _pick(data, (200, 200, 200, 404, None)), f"{SITE}/l.xml")  # type: ignore[arg-type]
    error_ok(doc.error)
    held = _pick(data, ((), (f"{SITE}/l.xml",), ("https://server.example/",)))
    user = _pick(data, (None, "commercial", "education"), 1)
    for url in _urls(data):
        reasons_ok(rsl.evaluate_all([doc], url, mode=_pick(data, MODES), held=held,  # type: ignore[arg-type]
                                    user=user, geo=_pick(data, (None, "US", "EU"))), ("rsl",))  # type: ignore[arg-type]
    text = _latin1(data[:4096])
    rsl.parse_link_header(text)
    refs = rsl.discover(robots=robots.parse(data), headers=[("Link", text)],
                        head=htmlhead.scan(data), base_url=f"{SITE}/robots.txt")
    for ref in refs:
        if not isinstance(ref.url, str):
            raise Finding(f"licence URL {ref!r}")
    for inline in rsl.inline_documents(htmlhead.scan(data), f"{SITE}/a"):
        error_ok(inline.error)
        reasons_ok(inline.evaluate(f"{SITE}/a"), ("rsl",))


def fuzz_content_usage(data: bytes) -> None:
    tokens = _pick(data, TOKENS)
    mode = _pick(data, MODES, 1)
    rules = aipref.ContentUsageRules.parse(data, tokens, f"{SITE}/robots.txt")  # type: ignore[arg-type]
    for url in _urls(data):
        reasons_ok(rules.evaluate(url, bool(len(data) & 1), _pick(data, PURPOSES), mode),  # type: ignore[arg-type]
                   ("content-usage",))
    lines = _lines(data, 4)
    reasons_ok(aipref.header_reasons([("Content-Usage", v) for v in lines],
                                     _pick(data, PURPOSES), mode), ("content-usage",))  # type: ignore[arg-type]
    aipref.Preferences.parse(data[:2048])


def fuzz_content_signal(data: bytes) -> None:
    mode = _pick(data, MODES, 1)
    for tokens in TOKENS:
        signals = contentsignal.ContentSignals.from_robots(robots.parse(data), tokens, SITE)
        reasons_ok(signals.evaluate(_pick(data, PURPOSES), mode, SITE), ("content-signal",))  # type: ignore[arg-type]
    reasons_ok(contentsignal.header_reasons([("Content-Signal", v) for v in _lines(data, 4)],
                                            _pick(data, PURPOSES), mode), ("content-signal",))  # type: ignore[arg-type]


def fuzz_htmlhead_noai(data: bytes) -> None:
    ctype = _pick(data, CTYPES)
    head = htmlhead.scan(data, content_type=ctype)  # type: ignore[arg-type]
    if not isinstance(head, htmlhead.Head):
        raise Finding(f"scan gave {head!r}")
    headers = [(_pick(data, ("X-Robots-Tag", "robots-tag"), 1), v) for v in _lines(data, 3)]
    for tokens in TOKENS[:2]:
        reasons = noai.noai_reasons(headers, head, tokens, _pick(data, ("image/png", "text/html")),  # type: ignore[arg-type]
                                    _pick(data, PURPOSES), _pick(data, MODES, 1))  # type: ignore[arg-type]
        reasons_ok(reasons, ("noai",))
    tdmrep.meta_statements(head)
    head.rsl_links()


def fuzz_disallow_ai_training(data: bytes) -> None:
    mode = _pick(data, MODES, 1)
    for tokens in TOKENS:
        rules = aitraining.AiTrainingRules.from_robots(robots.parse(data), tokens, SITE)
        for url in _urls(data):
            reasons_ok(rules.evaluate(url, _pick(data, PURPOSES), mode),  # type: ignore[arg-type]
                       ("disallow-ai-training",))
    head = htmlhead.scan(data, content_type=_pick(data, CTYPES))  # type: ignore[arg-type]
    headers = [("X-Robots-Tag", v) for v in _lines(data, 3)]
    reasons_ok(aitraining.directive_reasons(headers, head, TOKENS[0], _pick(data, PURPOSES), mode),  # type: ignore[arg-type]
               ("disallow-ai-training",))


def fuzz_assets(data: bytes) -> None:
    ctype = _pick(data, ASSET_TYPES)
    asset = assets.read_asset(data, ctype, f"{SITE}/a", c2pa_library=False)  # type: ignore[arg-type]
    for _protocol, message in asset.errors:
        if "asset unreadable (" in message:  # read_asset's own safety net
            raise Finding(f"asset safety net reached: {message}")
    mode = _pick(data, MODES, 1)
    reasons_ok(asset.reasons(_pick(data, PURPOSES), mode), ("iptc", "c2pa", "tdmrep"))  # type: ignore[arg-type]
    reasons_ok(tdmrep.resolve(f"{SITE}/a", embedded=asset.tdm, mode=mode), ("tdmrep",))  # type: ignore[arg-type]
    xmp.read_xmp(data)


def fuzz_c2pa(data: bytes) -> None:
    """The manifest-store reader (JSON, as c2pa-python gives it) and, for
    inputs that look like an image, the native library itself."""
    mode = _pick(data, MODES, 1)
    state = _pick(data, (None, "Valid", "Invalid", "Trusted"), 2)
    reasons_ok(c2pa_manifest.c2pa_reasons(data, _pick(data, PURPOSES), mode, "C2PA", state),  # type: ignore[arg-type]
               ("c2pa",))
    if data[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1") or data[:4] == b"RIFF":
        asset = assets.read_asset(data, "", f"{SITE}/i")
        reasons_ok(asset.reasons(_pick(data, PURPOSES), mode), ("iptc", "c2pa", "tdmrep"))  # type: ignore[arg-type]


def fuzz_blocklist(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        parsed = listfile.parse_lines(text.splitlines(), Path("fuzz.txt"))
    except listfile.BlocklistError:
        pass  # the documented error: an incomplete or invalid header
    else:
        for entry in parsed.entries:
            if not isinstance(entry, str) or not entry or entry != entry.lower():
                raise Finding(f"entry {entry!r}")
    for line in text.splitlines()[:20]:
        hosts = listfile.entry_hosts(line)
        if not isinstance(hosts, (tuple, str)):
            raise Finding(f"entry_hosts gave {hosts!r}")


def fuzz_reservations(data: bytes) -> None:
    """The rightsholder-reservations JSON Lines reader (helper R's): every
    URL gets reasons of its own protocol, or none (no entry matches)."""
    from tdmguard.middlewares.readers import reservations as res

    lists = res.Reservations([res.ReservationFile.parse(data, "fuzz.jsonl")])
    for url in _urls(data) + ["http://sub.fuzz.example/x", "https://example.com/path/a",
                              "http://[::1]:8080/a", "https://xn--bcher-kva.example/"]:
        reasons = lists.evaluate(url)
        if reasons:
            reasons_ok(reasons, (res.PROTOCOL,))


def fuzz_config(data: bytes) -> None:
    """The ``tdmguard.toml`` loader: a one-line ConfigError or a config, nothing else."""
    from tdmguard.policy import config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tdmguard.toml"
        path.write_bytes(data)
        try:
            cfg = config.load(str(path))
            for crawler in [None, *(c.name for c in cfg.crawlers)]:
                config.crawl_settings(cfg, crawler)
        except config.ConfigError as exc:
            if "\n" in str(exc).strip():
                raise Finding(f"ConfigError is not one line: {exc}") from None


def fuzz_codings(data: bytes) -> None:
    """The content-coding completeness check (middlewares/codings.py): any
    bytes in any coding give a reason or None, never an exception; a whole
    gzip/deflate/brotli stream of the input is complete, and any cut of it
    is not."""
    import gzip
    import zlib

    import brotli

    for coding in ("gzip", "x-gzip", "deflate", "br", "zstd", "identity", "x-unknown"):
        why = codings.incomplete(data, data[: len(data) // 2], [coding], 1 << 20)
        if why is not None and not isinstance(why, str):
            raise Finding(f"{coding}: {why!r}")
    for coding, encode in (("gzip", gzip.compress), ("deflate", zlib.compress),
                           ("br", brotli.compress)):
        whole = encode(data)
        if codings.incomplete(whole, data, [coding], 1 << 20) is not None:
            raise Finding(f"a whole {coding} stream read as incomplete")
        if len(whole) < 2:
            continue  # brotli's empty stream is one byte: nothing to cut
        cut = len(data) % (len(whole) - 1) + 1  # 1 .. len(whole) - 1 bytes kept
        if codings.incomplete(whole[:cut], data, [coding], 1 << 20) is None:
            raise Finding(f"a {coding} stream cut to {cut} of {len(whole)} bytes read whole")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "robots": fuzz_robots,
    "tdmrep": fuzz_tdmrep,
    "aitxt": fuzz_aitxt,
    "rsl": fuzz_rsl,
    "content-usage": fuzz_content_usage,
    "content-signal": fuzz_content_signal,
    "htmlhead-noai": fuzz_htmlhead_noai,
    "disallow-ai-training": fuzz_disallow_ai_training,
    "assets": fuzz_assets,
    "c2pa": fuzz_c2pa,
    "blocklist": fuzz_blocklist,
    "reservations": fuzz_reservations,
    "config": fuzz_config,
    "codings": fuzz_codings,
}


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in TARGETS:
        # Children libFuzzer starts (-merge, -fork) get argv[0] and the
        # libFuzzer flags only: they find the target in the environment.
        os.environ["TDMGUARD_FUZZ_TARGET"] = name = args.pop(0)
    else:
        name = os.environ.get("TDMGUARD_FUZZ_TARGET", "")
    if name not in TARGETS:
        sys.exit(f"usage: harness.py TARGET [libFuzzer args]; targets: {', '.join(TARGETS)}")
    target = TARGETS[name]
    if name in ("reservations", "config"):
        # Imported late (other helpers' modules), so instrument them here.
        with atheris.instrument_imports(include=["tdmguard"]):
            if name == "config":
                import tdmguard.policy.config  # noqa: F401
            else:
                import tdmguard.middlewares.readers.reservations  # noqa: F401
    import logging

    logging.disable(logging.CRITICAL)  # readers log what they skip; not findings
    atheris.Setup([sys.argv[0], *args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
