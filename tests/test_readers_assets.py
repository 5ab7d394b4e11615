"""Asset reader: protocols.md §8 vectors M1-M10, containers, C2PA files, fuzzing."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmguard.middlewares.readers import tdmrep
from tdmguard.middlewares.readers.assets import IptcValue, iptc_reasons, read_asset, sniff
from tdmguard.middlewares.readers.c2pa_manifest import c2pa_reasons, library_available
from tdmguard.middlewares.vocab import (
    AI_INPUT,
    PERMITTED,
    RESERVED,
    RFC,
    SEARCH,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
)

from .test_readers_common import (
    BOTH,
    DATA,
    FUZZ,
    MODES,
    PURPOSES,
    assert_reasons,
    verdict,
)

NONGEN = "train-ai-nongen"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# -- builders --------------------------------------------------------------------------


def xmp(description_attrs: str = "", body: str = "", ns: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}" {ns} '
        f"{description_attrs}>{body}</rdf:Description>"
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def data_mining(code: str, form: str = "attribute") -> bytes:
    value = VOCAB + code
    if form == "attribute":
        return xmp(f'plus:DataMining="{value}"')
    if form == "element":
        return xmp(body=f"<plus:DataMining>{value}</plus:DataMining>")
    if form == "resource":
        return xmp(body=f'<plus:DataMining rdf:resource="{value}"/>')
    if form == "prefix":
        return xmp(f'p2:DataMining="{code}"', ns=f'xmlns:p2="{PLUS}"')
    raise ValueError(form)


def jpeg(packet: bytes, extra: bytes = b"") -> bytes:
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return (
        b"\xff\xd8"
        + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xe1"
        + struct.pack(">H", len(app1) + 2)
        + app1
        + extra
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        + b"\x00" * 16
        + b"\xff\xd9"
    )


def jpeg_extended(main: bytes, extended: bytes, chunk: int = 40) -> bytes:
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    segments = b""
    for offset in range(0, len(extended), chunk):
        body = (
            b"http://ns.adobe.com/xmp/extension/\x00"
            + guid
            + struct.pack(">II", len(extended), offset)
            + extended[offset : offset + chunk]
        )
        segments += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return jpeg(main, segments)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
    )


def png(packet: bytes, compressed: bool = False) -> bytes:
    text = zlib.compress(packet) if compressed else packet
    itxt = (
        b"XML:com.adobe.xmp\x00"
        + (b"\x01\x00" if compressed else b"\x00\x00")
        + b"\x00\x00"
        + text
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + _chunk(b"iTXt", itxt)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
        + _chunk(b"IEND", b"")
    )


def webp(packet: bytes) -> bytes:
    chunks = b"VP8X" + struct.pack("<I", 10) + b"\x04" + b"\x00" * 9
    chunks += (
        b"XMP "
        + struct.pack("<I", len(packet))
        + packet
        + (b"\x00" if len(packet) % 2 else b"")
    )
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def gif(packet: bytes) -> bytes:
    trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return (
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00"
        + b"\x21\xff\x0bXMP DataXMP"
        + packet
        + trailer
        + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"
    )


def tiff(packet: bytes) -> bytes:
    return b"II*\x00\x08\x00\x00\x00" + b"\x00" * 8 + packet


def pdf(packet: bytes, flate: bool = False) -> bytes:
    stream = zlib.compress(packet) if flate else packet
    filt = b" /Filter /FlateDecode" if flate else b""
    return (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Metadata 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Metadata /Subtype /XML"
        + filt
        + b" /Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\n%%EOF\n"
    )


def epub(
    metadata: str, opf_path: str = "OEBPS/content.opf", container: str | None = None
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            container
            if container is not None
            else (
                '<?xml version="1.0"?>'
                '<container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                f'<rootfiles><rootfile full-path="{opf_path}" '
                'media-type="application/oebps-package+xml"/></rootfiles></container>'
            ),
        )
        archive.writestr(
            opf_path,
            (
                '<?xml version="1.0"?>'
                '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
                'prefix="tdm: http://www.w3.org/ns/tdmrep#">'
                '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>T</dc:title>{metadata}</metadata></package>"
            ),
        )
    return out.getvalue()


def asset_verdict(
    body: bytes, purpose: str = TRAIN_AI, mode: str = STRICT, ctype: str | None = None
) -> str:
    return verdict(read_asset(body, ctype).reasons(purpose, mode))


# -- IPTC Data Mining: M1-M6 -----------------------------------------------------------

IPTC_VECTORS = [
    pytest.param(
        "DMI-PROHIBITED-AIMLTRAINING",
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M1-iptc-prohibited-aiml-training",
    ),
    pytest.param(
        "DMI-PROHIBITED-AIMLTRAINING",
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M1-iptc-prohibited-aiml-training-rfc",
    ),
    pytest.param(
        "DMI-PROHIBITED-GENAIMLTRAINING",
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M2-iptc-genai-training-genai-purpose",
    ),
    pytest.param(
        "DMI-PROHIBITED-GENAIMLTRAINING",
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M2-iptc-genai-training-genai-purpose-rfc",
    ),
    pytest.param(
        "DMI-PROHIBITED-GENAIMLTRAINING",
        NONGEN,
        RFC,
        UNAVAILABLE,
        id="M2-iptc-genai-training-classifier-rfc-unknown",
    ),
    pytest.param(
        "DMI-PROHIBITED-GENAIMLTRAINING",
        NONGEN,
        STRICT,
        RESERVED,
        id="M2-iptc-genai-training-classifier-strict-reserved",
    ),
    pytest.param(
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M3-iptc-except-search-training",
    ),
    pytest.param(
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        SEARCH,
        STRICT,
        PERMITTED,
        id="M3-iptc-except-search-search",
    ),
    pytest.param(
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        SEARCH,
        RFC,
        PERMITTED,
        id="M3-iptc-except-search-search-rfc",
    ),
    pytest.param(
        "DMI-UNSPECIFIED", TRAIN_AI, STRICT, UNAVAILABLE, id="M4-iptc-unspecified"
    ),
    pytest.param(
        "DMI-UNSPECIFIED", TRAIN_AI, RFC, UNAVAILABLE, id="M4-iptc-unspecified-rfc"
    ),
    pytest.param("DMI-ALLOWED", TRAIN_AI, STRICT, PERMITTED, id="M5-iptc-allowed"),
    pytest.param("DMI-ALLOWED", TRAIN_AI, RFC, PERMITTED, id="M5-iptc-allowed-rfc"),
    pytest.param(
        "DMI-PROHIBITED-SEECONSTRAINT",
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M6-iptc-see-constraint",
    ),
    pytest.param(
        "DMI-PROHIBITED-SEECONSTRAINT",
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M6-iptc-see-constraint-rfc",
    ),
]


@pytest.mark.parametrize(("code", "purpose", "mode", "expected"), IPTC_VECTORS)
@pytest.mark.parametrize(
    "container", [jpeg, png, webp, gif, tiff, pdf], ids=lambda f: f.__name__
)
def test_iptc_vectors(
    code: str, purpose: str, mode: str, expected: str, container
) -> None:
    assert asset_verdict(container(data_mining(code)), purpose, mode) == expected


@pytest.mark.parametrize("form", ["attribute", "element", "resource", "prefix"])
@BOTH
def test_iptc_forms(form: str, mode: str) -> None:
    assert (
        asset_verdict(
            jpeg(data_mining("DMI-PROHIBITED-AIMLTRAINING", form)), TRAIN_AI, mode
        )
        == RESERVED
    )


def test_m4_absent_property() -> None:
    (iptc, c2pa) = read_asset(
        jpeg(xmp('xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    ).reasons()
    assert (
        iptc.verdict == UNAVAILABLE and iptc.detail == "No IPTC Data Mining property."
    )
    assert c2pa.verdict == UNAVAILABLE
    assert asset_verdict(jpeg(b"")) == UNAVAILABLE
    assert asset_verdict(b"not an image at all") == UNAVAILABLE
    # A JPEG cut inside its metadata segments may have lost a reservation.
    assert asset_verdict(b"\xff\xd8\xff\xe0 truncated segment") == UNREADABLE


def test_iptc_reason_evidence() -> None:
    reasons = read_asset(
        png(data_mining("DMI-PROHIBITED"), compressed=True),
        "image/png",
        "https://ex.example/a.png",
    ).reasons()
    (iptc,) = [r for r in reasons if r.protocol == "iptc"]
    assert iptc.verdict == RESERVED
    assert iptc.rule == f'PNG iTXt XMP: plus:DataMining="{VOCAB}DMI-PROHIBITED"'
    assert iptc.source == "https://ex.example/a.png"


@pytest.mark.parametrize(("mode", "expected"), [(STRICT, RESERVED), (RFC, UNAVAILABLE)])
def test_unknown_prohibited_code(mode: str, expected: str) -> None:
    assert (
        verdict(
            iptc_reasons(
                [IptcValue("DMI-PROHIBITED-NEWTHING", "x", "r")], TRAIN_AI, mode
            )
        )
        == expected
    )


def test_jpeg_extended_xmp_is_reassembled() -> None:
    body = jpeg_extended(
        xmp('xmlns:xmpNote="http://ns.adobe.com/xmp/note/"'),
        data_mining("DMI-PROHIBITED-AIMLTRAINING"),
    )
    meta = read_asset(body)
    assert not meta.errors
    assert verdict(meta.reasons()) == RESERVED


def test_pdf_flate_metadata_stream() -> None:
    assert (
        asset_verdict(pdf(data_mining("DMI-PROHIBITED-AIMLTRAINING"), flate=True))
        == RESERVED
    )


# -- unreadable metadata fails closed --------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            jpeg(data_mining("DMI-ALLOWED")[:-60]), id="truncated-xmp-in-jpeg"
        ),
        pytest.param(
            tiff(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><broken</x:xmpmeta>'),
            id="malformed-xmp",
        ),
        pytest.param(
            tiff(b'<x:xmpmeta><!DOCTYPE x [<!ENTITY a "a">]>&a;</x:xmpmeta>'),
            id="xmp-with-dtd",
        ),
        pytest.param(epub("")[:200], id="corrupt-epub-zip"),
        pytest.param(
            epub("", container="<container><rootfiles/></container>"),
            id="epub-without-rootfile",
        ),
        pytest.param(
            png(b"\x00garbage")[:-40].replace(
                b"\x00\x00\x00\x00\x00garbage", b"\x01\x00\x00\x00\xffgarbage"
            ),
            id="png-corrupt-compressed-xmp",
        ),
    ],
)
@BOTH
def test_unreadable_metadata(body: bytes, mode: str) -> None:
    reasons = read_asset(
        body, "application/epub+zip" if body.startswith(b"PK") else None
    ).reasons(TRAIN_AI, mode)
    assert verdict(reasons) == UNREADABLE, reasons


# -- TDMRep in EPUB OPF and PDF XMP ----------------------------------------------------

TDM_NS_PDF = 'xmlns:tdm="http://www.w3.org/ns/tdmrep/"'
TDM_NS_EPUB = 'xmlns:tdm="http://www.w3.org/ns/tdmrep#"'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            epub(
                '<meta name="tdm:reservation" content="1"/>'
                '<meta name="tdm:policy" content="https://p/x"/>'
            ),
            RESERVED,
            id="epub2-name",
        ),
        pytest.param(
            epub('<meta property="tdm:reservation">1</meta>'),
            RESERVED,
            id="epub3-property",
        ),
        pytest.param(
            epub('<meta property="tdm:reservation">0</meta>'),
            PERMITTED,
            id="epub3-zero",
        ),
        pytest.param(
            epub('<meta property="tdm:reservation">yes</meta>'),
            UNAVAILABLE,
            id="epub3-protocol-error",
        ),
        pytest.param(
            pdf(xmp('tdm:reservation="1"', ns=TDM_NS_PDF)),
            RESERVED,
            id="pdf-xmp-attribute",
        ),
        pytest.param(
            pdf(
                xmp(
                    body=(
                        "<tdm:reservation>1</tdm:reservation>"
                        "<tdm:policy>https://p/y</tdm:policy>"
                    ),
                    ns=TDM_NS_PDF,
                )
            ),
            RESERVED,
            id="pdf-xmp-element",
        ),
        pytest.param(
            pdf(xmp(body="<tdm:reservation>1</tdm:reservation>", ns=TDM_NS_EPUB)),
            RESERVED,
            id="pdf-xmp-hash-namespace",
        ),
        pytest.param(
            pdf(xmp(body="<tdm:reservation>0</tdm:reservation>", ns=TDM_NS_PDF)),
            PERMITTED,
            id="pdf-xmp-zero",
        ),
    ],
)
def test_tdmrep_embedded(body: bytes, expected: str) -> None:
    meta = read_asset(
        body, "application/epub+zip" if body.startswith(b"PK") else "application/pdf"
    )
    assert (
        verdict(
            tdmrep.resolve("https://ex.example/book", None, embedded=meta.tdm, mode=RFC)
        )
        == expected
    )


def test_embedded_tdmrep_supersedes_header_in_rfc_only() -> None:
    meta = read_asset(epub('<meta property="tdm:reservation">0</meta>'))
    headers = {"tdm-reservation": "1"}
    assert (
        verdict(
            tdmrep.resolve(
                "https://ex.example/b.epub", None, headers, embedded=meta.tdm, mode=RFC
            )
        )
        == PERMITTED
    )
    assert (
        verdict(
            tdmrep.resolve(
                "https://ex.example/b.epub",
                None,
                headers,
                embedded=meta.tdm,
                mode=STRICT,
            )
        )
        == RESERVED
    )
    (statement,) = meta.tdm
    assert statement.level == "epub" and statement.rule.startswith(
        "OPF OEBPS/content.opf:"
    )


def test_pdf_policy_is_kept() -> None:
    meta = read_asset(
        pdf(
            xmp(
                body=(
                    "<tdm:reservation>1</tdm:reservation>"
                    "<tdm:policy>https://p/y</tdm:policy>"
                ),
                ns=TDM_NS_PDF,
            )
        )
    )
    (reason,) = tdmrep.resolve("https://ex.example/a.pdf", None, embedded=meta.tdm)
    assert reason.verdict == RESERVED and "https://p/y" in reason.detail


# -- C2PA / CAWG: M7-M10 ---------------------------------------------------------------


def store(label: str, entries: dict, active: bool = True) -> dict:
    manifest = {"assertions": [{"label": label, "data": {"entries": entries}}]}
    return (
        {"active_manifest": "urn:a", "manifests": {"urn:a": manifest}}
        if active
        else manifest
    )


C2PA_VECTORS = [
    pytest.param(
        store(
            "cawg.training-mining",
            {"cawg.ai_generative_training": {"use": "notAllowed"}},
        ),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M7-c2pa-cawg-generative-not-allowed",
    ),
    pytest.param(
        store("cawg.training-mining", {"cawg.ai_generative_training": "notAllowed"}),
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M7-c2pa-cawg-generative-not-allowed-rfc",
    ),
    pytest.param(
        store(
            "cawg.training-mining",
            {
                "cawg.data_mining": {
                    "use": "constrained",
                    "constraint_info": "see https://x",
                }
            },
        ),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M8-c2pa-cawg-constrained-is-not-allowed",
    ),
    pytest.param(
        store(
            "cawg.training-mining",
            {"cawg.data_mining": {"use": "constrained", "constraints_info": "see"}},
        ),
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M8-c2pa-cawg-constrained-is-not-allowed-rfc",
    ),
    pytest.param(
        store("c2pa.training-mining", {"c2pa.ai_training": {"use": "notAllowed"}}),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M9-c2pa-1x-ai-training-not-allowed",
    ),
    pytest.param(
        store("c2pa.training-mining", {"c2pa.ai_training": {"use": "notAllowed"}}),
        TRAIN_AI,
        RFC,
        RESERVED,
        id="M9-c2pa-1x-ai-training-not-allowed-rfc",
    ),
    pytest.param(
        store(
            "cawg.training-mining",
            {
                "cawg.ai_training": {"use": "allowed"},
                "cawg.ai_generative_training": {"use": "notAllowed"},
            },
        ),
        NONGEN,
        STRICT,
        PERMITTED,
        id="M10-c2pa-cawg-classifier-training-allowed",
    ),
    pytest.param(
        store(
            "cawg.training-mining",
            {
                "cawg.ai_training": {"use": "allowed"},
                "cawg.ai_generative_training": {"use": "notAllowed"},
            },
        ),
        NONGEN,
        RFC,
        PERMITTED,
        id="M10-c2pa-cawg-classifier-training-allowed-rfc",
    ),
    pytest.param(
        store(
            "cawg.training-mining",
            {
                "cawg.ai_training": {"use": "allowed"},
                "cawg.ai_generative_training": {"use": "notAllowed"},
            },
        ),
        TRAIN_AI,
        STRICT,
        RESERVED,
        id="M10-c2pa-cawg-generative-still-reserved",
    ),
]


@pytest.mark.parametrize(("manifest", "purpose", "mode", "expected"), C2PA_VECTORS)
def test_c2pa_vectors(manifest: dict, purpose: str, mode: str, expected: str) -> None:
    assert verdict(c2pa_reasons(manifest, purpose, mode)) == expected


def test_c2pa_shapes_and_validation() -> None:
    entries = {"cawg.ai_inference": {"use": "allowed"}}
    assert (
        verdict(
            c2pa_reasons(store("cawg.training-mining", entries, active=False), AI_INPUT)
        )
        == PERMITTED
    )
    assert (
        verdict(
            c2pa_reasons(
                {"label": "cawg.training-mining", "data": {"entries": entries}},
                AI_INPUT,
            )
        )
        == PERMITTED
    )
    assert verdict(c2pa_reasons({"entries": entries}, AI_INPUT)) == PERMITTED
    assert (
        verdict(c2pa_reasons(store("cawg.training-mining.v2__1", entries), AI_INPUT))
        == PERMITTED
    )
    assert (
        verdict(
            c2pa_reasons(
                store("cawg.training-mining", entries),
                AI_INPUT,
                validation_state="Invalid",
            )
        )
        == UNREADABLE  # an altered manifest's "allowed" is not trusted: fail closed
    )
    denied = store("cawg.training-mining", {"cawg.ai_inference": {"use": "notAllowed"}})
    assert (
        verdict(c2pa_reasons(denied, AI_INPUT, validation_state="Invalid")) == RESERVED
    )
    assert (
        verdict(
            c2pa_reasons(
                store("vendor.training-mining", {"cawg.ai_inference": "notAllowed"}),
                AI_INPUT,
            )
        )
        == UNAVAILABLE
    )
    assert verdict(c2pa_reasons("{not json", TRAIN_AI)) == UNREADABLE
    assert verdict(c2pa_reasons(None, TRAIN_AI)) == UNAVAILABLE


@pytest.mark.parametrize(("mode", "expected"), [(RFC, UNAVAILABLE), (STRICT, RESERVED)])
def test_c2pa_ingredient_manifests_in_strict(mode: str, expected: str) -> None:
    manifests = {
        "urn:active": {"assertions": [{"label": "c2pa.actions", "data": {}}]},
        "urn:ingredient": {
            "assertions": [
                {
                    "label": "c2pa.training-mining",
                    "data": {"entries": {"c2pa.ai_training": {"use": "notAllowed"}}},
                }
            ]
        },
    }
    assert (
        verdict(
            c2pa_reasons(
                {"active_manifest": "urn:active", "manifests": manifests},
                TRAIN_AI,
                mode,
            )
        )
        == expected
    )


needs_c2pa = pytest.mark.skipif(
    not library_available(), reason="c2pa-python is not installed"
)


@needs_c2pa
@pytest.mark.parametrize(
    ("name", "purpose", "expected"),
    [
        pytest.param(
            "c2pa-cawg-training-mining.png",
            TRAIN_AI,
            RESERVED,
            id="M7-real-manifest-cawg-generative",
        ),
        pytest.param(
            "c2pa-cawg-training-mining.png",
            NONGEN,
            RESERVED,
            id="M8-real-manifest-cawg-data-mining-constrained",
        ),
        pytest.param(
            "c2pa-cawg-training-mining.png",
            SEARCH,
            UNAVAILABLE,
            id="real-manifest-cawg-search",
        ),
        pytest.param(
            "c2pa-do-not-train.png",
            TRAIN_AI,
            RESERVED,
            id="M9-real-manifest-c2pa-do-not-train",
        ),
        pytest.param(
            "c2pa-do-not-train.png",
            AI_INPUT,
            UNAVAILABLE,
            id="M9-real-manifest-c2pa-ai-input",
        ),
        pytest.param(
            "c2pa-no-tdm-assertion.png",
            TRAIN_AI,
            UNAVAILABLE,
            id="real-manifest-without-assertion",
        ),
    ],
)
@BOTH
def test_real_c2pa_manifests(name: str, purpose: str, expected: str, mode: str) -> None:
    meta = read_asset(
        (DATA / name).read_bytes(), "image/png", f"https://ex.example/{name}"
    )
    assert (
        meta.c2pa_present and meta.c2pa_store is not None and meta.c2pa_state == "Valid"
    )
    reasons = meta.reasons(purpose, mode)
    assert verdict(reasons) == expected
    if expected == RESERVED:
        (c2pa,) = [r for r in reasons if r.protocol == "c2pa"]
        assert (
            "training-mining" in c2pa.rule
            and "Manifest validation: Valid." in c2pa.detail
        )


@needs_c2pa
@BOTH
def test_tampered_manifest_fails_closed(mode: str) -> None:
    body = bytearray((DATA / "c2pa-do-not-train.png").read_bytes())
    start = body.find(b"jumb")
    body[start + 40 : start + 80] = b"\x00" * 40
    assert verdict(read_asset(bytes(body), "image/png").reasons(TRAIN_AI, mode)) in (
        UNREADABLE,
        RESERVED,
    )
    body = (DATA / "c2pa-do-not-train.png").read_bytes()
    cut = body[: body.find(b"jumb") + 200]
    assert verdict(read_asset(cut, "image/png").reasons(TRAIN_AI, mode)) in (
        UNREADABLE,
        RESERVED,
    )


def test_manifest_without_library_is_unreadable() -> None:
    body = (DATA / "c2pa-no-tdm-assertion.png").read_bytes()
    meta = read_asset(body, "image/png", c2pa_library=False)
    assert verdict(meta.reasons()) == UNREADABLE


def test_sniff() -> None:
    assert sniff(jpeg(b"")) == "jpeg"
    assert sniff(png(b"")) == "png"
    assert sniff(webp(b"")) == "webp"
    assert sniff(gif(b"")) == "gif"
    assert sniff(tiff(b"")) == "tiff"
    assert sniff(pdf(b"")) == "pdf"
    assert sniff(epub("")) == "epub"
    assert sniff(b"PK\x03\x04other zip") == "unknown"
    assert sniff(b"", "application/epub+zip") == "epub"


# -- fuzzing ---------------------------------------------------------------------------

_PACKETS = st.one_of(
    st.sampled_from(["DMI-ALLOWED", "DMI-PROHIBITED", "DMI-UNSPECIFIED", "x"]).map(
        data_mining
    ),
    st.binary(max_size=300),
    st.text(max_size=200).map(
        lambda t: xmp(
            body=(
                "<plus:DataMining>"
                f"{t.replace('<', '').replace('&', '')}</plus:DataMining>"
            )
        )
    ),
)
_CONTAINERS = st.sampled_from(
    [jpeg, png, webp, gif, tiff, pdf, lambda p: png(p, True), lambda p: pdf(p, True)]
)


@FUZZ
@given(
    body=st.binary(max_size=3000),
    ctype=st.one_of(
        st.none(),
        st.text(max_size=20),
        st.sampled_from(["image/png", "application/epub+zip", "application/pdf"]),
    ),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_raw_bytes(body, ctype, mode, purpose) -> None:
    assert_reasons(read_asset(body, ctype).reasons(purpose, mode))


@FUZZ
@given(
    packet=_PACKETS,
    container=_CONTAINERS,
    cut=st.integers(0, 400),
    flip=st.integers(0, 10_000),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_containers(packet, container, cut, flip, mode, purpose) -> None:
    body = bytearray(container(packet))
    if cut:
        del body[-cut:]
    if body:
        body[flip % len(body)] ^= 0xFF
    assert_reasons(read_asset(bytes(body)).reasons(purpose, mode))


@FUZZ
@given(
    metadata=st.text(max_size=200),
    cut=st.integers(0, 300),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_epub(metadata, cut, mode, purpose) -> None:
    body = epub(metadata)
    body = body[: len(body) - cut] if cut else body
    meta = read_asset(body, "application/epub+zip")
    assert_reasons(meta.reasons(purpose, mode))
    assert_reasons(
        tdmrep.resolve(
            "https://ex.example/b", None, embedded=meta.tdm, purpose=purpose, mode=mode
        )
    )


_ENTRY = st.one_of(
    st.sampled_from(["allowed", "notAllowed", "constrained", "", None, 3]),
    st.fixed_dictionaries(
        {"use": st.one_of(st.text(max_size=12), st.none())},
        optional={"constraint_info": st.text(max_size=10)},
    ),
)
_KEYS = st.sampled_from(
    [
        "c2pa.ai_training",
        "cawg.ai_training",
        "cawg.ai_generative_training",
        "c2pa.data_mining",
        "cawg.ai_inference",
        "x",
    ]
)
_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=10,
)


@FUZZ
@given(
    entries=st.dictionaries(_KEYS, _ENTRY, max_size=5),
    label=st.sampled_from(["c2pa.training-mining", "cawg.training-mining", "other"]),
    junk=_JSONISH,
    mode=MODES,
    purpose=PURPOSES,
    state=st.one_of(st.none(), st.text(max_size=8)),
)
def test_fuzz_c2pa_json(entries, label, junk, mode, purpose, state) -> None:
    assert_reasons(
        c2pa_reasons(store(label, entries), purpose, mode, validation_state=state)
    )
    assert_reasons(
        c2pa_reasons(
            junk if isinstance(junk, dict) else {"manifests": junk}, purpose, mode
        )
    )
    assert_reasons(
        c2pa_reasons(
            {"manifests": {"a": {"assertions": [{"label": label, "data": junk}]}}},
            purpose,
            mode,
        )
    )


_C2PA_FILES = sorted(DATA.glob("c2pa-*.png"))


@needs_c2pa
@FUZZ
@given(
    index=st.integers(0, 2),
    cut=st.integers(0, 3500),
    flips=st.lists(st.integers(0, 4000), max_size=4),
    mode=MODES,
    purpose=PURPOSES,
)
def test_fuzz_real_manifests_corrupted(index, cut, flips, mode, purpose) -> None:
    body = bytearray(_C2PA_FILES[index % len(_C2PA_FILES)].read_bytes())
    for flip in flips:
        body[flip % len(body)] ^= 0x5A
    if cut:
        del body[-(cut % len(body)) :]
    assert_reasons(read_asset(bytes(body), "image/png").reasons(purpose, mode))
    name = _C2PA_FILES[index % len(_C2PA_FILES)].name
    if (
        name != "c2pa-no-tdm-assertion.png"
        and b"jumb" in body
        and b"c2pa.training-mining" in body
    ):
        # A do-not-train manifest that is still in the bytes is read or fails
        # closed: never silently allowed.
        training = read_asset(bytes(body), "image/png").reasons(TRAIN_AI, mode)
        assert any(
            r.protocol == "c2pa" and r.verdict in (RESERVED, UNREADABLE)
            for r in training
        ), training


def test_magic_names_an_asset_by_its_leading_bytes_only() -> None:
    from tdmguard.middlewares.readers.assets import magic

    assert magic(jpeg(b"")) == "jpeg"
    assert magic(png(b"")) == "png"
    assert magic(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert magic(b"GIF89a...") == "gif" and magic(b"MM\x00*...") == "tiff"
    assert magic(b"%PDF-1.7\n") == "pdf"
    # Not by what comes later: an HTML page quoting a PDF header stays a page.
    assert magic(b"<html><body>%PDF-1.7 starts every PDF</body></html>") is None
    assert magic(b"") is None and magic(b"User-agent: *\n") is None
