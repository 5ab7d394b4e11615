"""Asset reader: rights metadata embedded in images, PDF and EPUB files.

Specs: IPTC Photo Metadata Standard 2023.1 ``plus:DataMining`` (PLUS
vocabulary ``DMI-…``, table ``iptc`` in purposes.json); W3C TDMRep CG-FINAL
2024-05-10 in PDF XMP and EPUB OPF (EPUB 2 ``<meta name="tdm:reservation"
content="1"/>``, EPUB 3 ``<meta property="tdm:reservation">1</meta>``);
C2PA 1.x / CAWG 1.1 training-and-data-mining assertions
(:mod:`.c2pa_manifest`).

Containers walked: JPEG (APP1 XMP, extended XMP reassembled by GUID, APP11
JUMBF for C2PA), PNG (``iTXt`` ``XML:com.adobe.xmp``, compressed or not;
``caBX`` for C2PA), WebP (``XMP `` chunk), GIF and TIFF (the raw packet), PDF
(plain XMP packets; Flate-compressed metadata streams are inflated when no
plain packet exists), EPUB (zip -> ``META-INF/container.xml`` -> OPF). Any
other bytes are searched for a raw XMP packet.

Metadata that is there but cannot be read (truncated or malformed XMP, a
corrupt EPUB zip, a C2PA manifest without ``c2pa-python`` or that fails to
parse) yields an ``unreadable`` reason in both modes: never silently allowed.

IPTC modes: ``rfc`` applies the vocabulary as labelled
(``DMI-PROHIBITED-GENAIMLTRAINING`` does not reserve non-generative
training, M2); ``strict`` (default) also reserves for it, and reads an unknown
``DMI-PROHIBITED…`` code as a reservation.

Middleware use, per non-HTML response::

    asset = read_asset(response.body, content_type, response.url)
    asset.reasons(purpose, mode)            # iptc + c2pa (+ read errors)
    tdmrep.resolve(url, tdm_file, headers, None, asset.tdm, purpose, mode)

Why it is long: one payload (an XMP packet, an EPUB's OPF or a C2PA manifest)
has to be dug out of many container formats, each with its own walker (JPEG
segments with extended-XMP reassembly, PNG and WebP chunks, GIF and TIFF
packets, PDF streams with Flate inflation, EPUB zips), and the IPTC
``DataMining`` vocabulary is judged in two modes. DESIGN keeps one protocol in
one pure reader module; the C2PA manifest parsing is already in
:mod:`.c2pa_manifest`.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

from . import c2pa_manifest
from ._common import clip, never_raises, norm_mode, parse_xml, text, value_table, xml_error
from .tdmrep import Statement
from .xmp import XmpRights, find_packets, mentions_xmp, read_packet

PROTOCOL_IPTC = "iptc"
SPEC = "IPTC Photo Metadata 2023.1; TDMRep CG-FINAL 2024-05-10 (XMP/OPF); C2PA/CAWG 1.1"
_MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
    "epub": "application/epub+zip",
}
_XMP_STD = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_PDF_STREAM = re.compile(rb"stream\r?\n")
#: Caps on work done for one asset.
MAX_INFLATE = 16 * 1024 * 1024
MAX_PDF_STREAMS = 2000
MAX_OPF = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IptcValue:
    """One ``plus:DataMining`` value: the PLUS code and where it was read."""

    code: str
    raw: str
    rule: str


@dataclass(slots=True)
class AssetMetadata:
    """What :func:`read_asset` found in one asset: read once, evaluate per purpose."""

    url: str = ""
    kind: str = "unknown"
    iptc: list[IptcValue] = field(default_factory=list)
    #: TDMRep statements for :func:`.tdmrep.resolve` (``embedded=``).
    tdm: list[Statement] = field(default_factory=list)
    c2pa_present: bool = False
    c2pa_store: dict[str, Any] | None = None
    c2pa_state: str | None = None
    #: ``(protocol, message)`` for metadata present but unreadable.
    errors: list[tuple[str, str]] = field(default_factory=list)

    @never_raises(PROTOCOL_IPTC)
    def reasons(self, purpose: str = TRAIN_AI, mode: str = STRICT) -> list[Reason]:
        """IPTC and C2PA verdicts, plus unreadable-metadata reasons."""
        mode = norm_mode(mode)
        source = self.url or f"{self.kind} asset"
        out = iptc_reasons(self.iptc, purpose, mode, source)
        if self.c2pa_store is not None:
            out += c2pa_manifest.c2pa_reasons(
                self.c2pa_store,
                purpose,
                mode,
                f"C2PA manifest in {source}",
                self.c2pa_state,
            )
        elif not self.c2pa_present:
            out.append(
                Reason(
                    c2pa_manifest.PROTOCOL, UNAVAILABLE, "", source, "No C2PA manifest."
                )
            )
        for protocol, message in self.errors:
            out.append(
                Reason(
                    protocol,
                    UNREADABLE,
                    clip(message, 300),
                    source,
                    f"Embedded {protocol} metadata is present but unreadable; "
                    "failing closed.",
                )
            )
        return out


def _code(value: str) -> str:
    return re.split(r"[/#]", value.strip())[-1].strip().upper()


@never_raises(PROTOCOL_IPTC)
def iptc_reasons(
    values: Sequence[IptcValue],
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
    source: str = "XMP",
) -> list[Reason]:
    """``plus:DataMining`` verdict for *purpose*; one reason."""
    mode = norm_mode(mode)
    table = value_table(PROTOCOL_IPTC)
    reserving, permitting, other = [], [], []
    for value in values:
        entry = table.get(value.code)
        if entry is None:
            if mode == STRICT and value.code.startswith("DMI-PROHIBITED"):
                reserving.append(
                    (value, "an unknown DMI-PROHIBITED code, read as a reservation")
                )
            else:
                other.append(value)
        elif purpose in entry["reserves"][mode]:
            reserving.append((value, value.code))
        elif purpose in entry["permits"][mode]:
            permitting.append((value, value.code))
        else:
            other.append(value)
    if reserving:
        value, why = reserving[0]
        return [
            Reason(
                PROTOCOL_IPTC,
                RESERVED,
                value.rule,
                source,
                f"IPTC Data Mining {why} reserves '{purpose}'.",
            )
        ]
    if permitting:
        value, why = permitting[0]
        return [
            Reason(
                PROTOCOL_IPTC,
                PERMITTED,
                value.rule,
                source,
                f"IPTC Data Mining {why} allows '{purpose}'.",
            )
        ]
    if other:
        return [
            Reason(
                PROTOCOL_IPTC,
                UNAVAILABLE,
                other[0].rule,
                source,
                f"IPTC Data Mining {other[0].code or 'value'} states no "
                f"prohibition for '{purpose}'.",
            )
        ]
    return [
        Reason(PROTOCOL_IPTC, UNAVAILABLE, "", source, "No IPTC Data Mining property.")
    ]


# -- containers -------------------------------------------------------------------


#: Leading bytes that make a body an asset whatever its Content-Type says.
_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"),
          (b"GIF89a", "gif"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"%PDF-", "pdf"))


def magic(data: bytes) -> str | None:
    """The asset kind *data* starts with (strict magic bytes), else None.

    Servers label images ``binary/octet-stream``, ``text/plain`` or even
    ``text/html``; a pipeline keeps the bytes whatever the label, so their
    embedded rights metadata is read whatever the label too.
    """
    for prefix, kind in _MAGIC:
        if data.startswith(prefix):
            return kind
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"PK\x03\x04") and data[30:58] == b"mimetypeapplication/epub+zip":
        return "epub"
    return None


def sniff(data: bytes, content_type: str = "") -> str:
    """The container kind of *data* (magic bytes first, then the media type)."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") and (
        data[30:58] == b"mimetypeapplication/epub+zip" or "epub" in content_type
    ):
        return "epub"
    if "epub" in content_type:
        return "epub"
    return "unknown"


def _jpeg(data: bytes, rights: XmpRights) -> bool:
    """Walk JPEG segments up to SOS; return True if a C2PA JUMBF was seen."""
    pos, c2pa = 2, False
    extended: dict[bytes, dict[int, bytes]] = {}
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if length < 2 or len(body) < length - 2:
            rights.errors.append("JPEG: truncated segment")
            break
        if marker == 0xE1 and body.startswith(_XMP_STD):
            packets, errors = find_packets(body[len(_XMP_STD) :])
            rights.errors += [f"JPEG XMP: {e}" for e in errors]
            for packet in packets:
                read_packet(packet, rights, "JPEG XMP")
        elif (
            marker == 0xE1
            and body.startswith(_XMP_EXT)
            and len(body) >= len(_XMP_EXT) + 40
        ):
            rest = body[len(_XMP_EXT) :]
            guid, offset = rest[:32], struct.unpack(">I", rest[36:40])[0]
            extended.setdefault(guid, {})[offset] = rest[40:]
        elif marker == 0xEB and b"c2pa" in body:
            c2pa = True
        pos += 2 + length
    for parts in extended.values():
        packet = b"".join(parts[k] for k in sorted(parts))
        found, errors = find_packets(packet)
        rights.errors += [f"JPEG extended XMP: {e}" for e in errors]
        for item in found:
            read_packet(item, rights, "JPEG extended XMP")
    return c2pa


def _png(data: bytes, rights: XmpRights) -> bool:
    pos, c2pa = 8, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            if kind == b"iTXt":
                rights.errors.append("PNG: truncated iTXt chunk")
            c2pa = c2pa or kind == b"caBX"  # let the manifest reader report it
            break
        if kind == b"caBX":
            c2pa = True
        elif kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00"):
            rest = body[len(b"XML:com.adobe.xmp\x00") :]
            compressed = rest[:1] == b"\x01"
            parts = rest[2:].split(b"\x00", 2)
            payload = parts[2] if len(parts) == 3 else b""
            if compressed:
                try:
                    inflater = zlib.decompressobj()
                    payload = inflater.decompress(payload, MAX_INFLATE)
                except zlib.error:
                    rights.errors.append("PNG: corrupt compressed XMP")
                    payload = b""
            packets, errors = find_packets(payload)
            rights.errors += [f"PNG XMP: {e}" for e in errors]
            for packet in packets:
                read_packet(packet, rights, "PNG iTXt XMP")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return c2pa


def _webp(data: bytes, rights: XmpRights) -> bool:
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"XMP ":
            if len(body) < length:
                rights.errors.append("WebP: truncated XMP chunk")
                break
            packets, errors = find_packets(body)
            rights.errors += [f"WebP XMP: {e}" for e in errors]
            for packet in packets:
                read_packet(packet, rights, "WebP XMP")
        pos += 8 + length + (length & 1)
    return _jumbf(data)


def _jumbf(data: bytes) -> bool:
    """A JUMBF superbox labelled ``c2pa`` (manifest store) appears in *data*."""
    return b"jumbjumdc2pa" in data or (
        b"jumb" in data and b"c2pa" in data and b"jumd" in data
    )


def _raw(data: bytes, rights: XmpRights, where: str) -> None:
    packets, errors = find_packets(data)
    rights.errors += [f"{where}: {e}" for e in errors]
    for packet in packets:
        read_packet(packet, rights, where)


def _pdf(data: bytes, rights: XmpRights) -> None:
    _raw(data, rights, "PDF XMP")
    if rights.packets or rights.errors or b"/Metadata" not in data:
        return
    budget = MAX_INFLATE
    for count, match in enumerate(_PDF_STREAM.finditer(data)):
        if count >= MAX_PDF_STREAMS or budget <= 0:
            break
        end = data.find(b"endstream", match.end())
        if end < 0:
            break
        try:
            out = zlib.decompressobj().decompress(data[match.end() : end], budget)
        except zlib.error:
            continue
        budget -= len(out)
        if mentions_xmp(out):
            _raw(out, rights, "PDF XMP (Flate)")


def _epub(data: bytes, meta: AssetMetadata) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            container = _member(archive, "META-INF/container.xml")
            root = parse_xml(container)
            paths = [
                el.get("full-path")
                for el in root.iter()
                if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "rootfile"
            ]
            if not paths or not paths[0]:
                raise ValueError("container.xml names no rootfile")
            opf_path = str(paths[0])
            opf = parse_xml(_member(archive, opf_path))
    except Exception as exc:  # BadZipFile, KeyError, zlib.error, ParseError, ...
        meta.errors.append(
            ("tdmrep", f"EPUB unreadable: {xml_error(exc)}")
        )
        return
    policies = []
    found = []
    for el in opf.iter():
        if not isinstance(el.tag, str) or el.tag.rsplit("}", 1)[-1] != "meta":
            continue
        name = (el.get("name") or "").strip().lower()
        prop = (el.get("property") or "").strip().lower()
        if name == "tdm:reservation":
            found.append(
                (
                    (el.get("content") or "").strip(),
                    f'OPF {opf_path}: <meta name="tdm:reservation" '
                    f'content="{clip(el.get("content") or "", 40)}"/>',
                )
            )
        elif prop == "tdm:reservation":
            found.append(
                (
                    (el.text or "").strip(),
                    f'OPF {opf_path}: <meta property="tdm:reservation">'
                    f"{clip(el.text or '', 40)}</meta>",
                )
            )
        elif name == "tdm:policy" and el.get("content"):
            policies.append(el.get("content").strip())
        elif prop == "tdm:policy" and (el.text or "").strip():
            policies.append(el.text.strip())
    policy = policies[0] if policies else None
    for value, rule in found:
        reservation = int(value) if value in ("0", "1") else None
        meta.tdm.append(
            Statement(reservation, policy, rule, "EPUB OPF", "epub", raw=value)
        )


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_OPF:
        raise ValueError(f"{name} is larger than {MAX_OPF} bytes")
    with archive.open(info) as handle:
        return handle.read(MAX_OPF + 1)[:MAX_OPF]


def read_asset(
    body: bytes | bytearray | memoryview | str | None,
    content_type: str | bytes | None = None,
    url: str = "",
    *,
    c2pa_library: bool = True,
) -> AssetMetadata:
    """Read the rights metadata of one asset; never raises."""
    data = (
        body.encode("utf-8", "surrogatepass")
        if isinstance(body, str)
        else bytes(body or b"")
    )
    ctype = text(content_type).split(";", 1)[0].strip().lower()
    meta = AssetMetadata(url=str(url or ""))
    try:
        _read(data, ctype, meta, c2pa_library)
    except Exception as exc:  # safety net: a container we did not foresee
        meta.errors.append((PROTOCOL_IPTC, f"asset unreadable ({type(exc).__name__})"))
    return meta


def _read(data: bytes, ctype: str, meta: AssetMetadata, c2pa_library: bool) -> None:
    meta.kind = sniff(data, ctype)
    rights = XmpRights()
    c2pa = False
    if meta.kind == "jpeg":
        c2pa = _jpeg(data, rights) or _jumbf(data)
    elif meta.kind == "png":
        c2pa = _png(data, rights) or _jumbf(data)
    elif meta.kind == "webp":
        c2pa = _webp(data, rights)
    elif meta.kind == "pdf":
        _pdf(data, rights)
        c2pa = _jumbf(data)
    elif meta.kind == "epub":
        _epub(data, meta)
    else:
        _raw(
            data,
            rights,
            f"{meta.kind.upper()} XMP" if meta.kind != "unknown" else "XMP",
        )
        c2pa = _jumbf(data)
    meta.iptc = [IptcValue(_code(v), v, rule) for v, rule in rights.data_mining]
    level = "pdf" if meta.kind == "pdf" else "xmp"
    for value, policy, rule in rights.tdm:
        reservation = int(value) if value in ("0", "1") else None
        meta.tdm.append(
            Statement(
                reservation, policy, rule, "XMP tdm:reservation", level, raw=value
            )
        )
    meta.errors += [(PROTOCOL_IPTC, e) for e in rights.errors]
    if c2pa:
        meta.c2pa_present = True
        if not c2pa_library:
            meta.errors.append(
                (
                    c2pa_manifest.PROTOCOL,
                    "C2PA manifest present; reading it is switched off",
                )
            )
            return
        store, state, error = c2pa_manifest.read_manifest_store(
            data, _MIME.get(meta.kind, ctype or None)
        )
        if store is not None:
            meta.c2pa_store, meta.c2pa_state = store, state
        elif (
            not error
            and meta.kind in _MIME
            and meta.kind not in ("pdf", "epub")
            and _jumbf(data)
        ):
            # An image with a C2PA JUMBF box the reader cannot find: damaged.
            meta.errors.append(
                (c2pa_manifest.PROTOCOL, "C2PA manifest data present but not locatable")
            )
        elif not error:  # the bytes only looked like a manifest
            meta.c2pa_present = False
        else:
            meta.errors.append(
                (c2pa_manifest.PROTOCOL, f"C2PA manifest unreadable: {error}")
            )


__all__ = [
    "PROTOCOL_IPTC",
    "SPEC",
    "AssetMetadata",
    "IptcValue",
    "iptc_reasons",
    "magic",
    "read_asset",
    "sniff",
]
