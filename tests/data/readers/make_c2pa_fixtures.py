"""Regenerate the C2PA fixtures in this folder (not a test; run by hand).

Each PNG is a 4x4 image signed with the official C2PA SDK (c2pa-python, which
wraps c2pa-rs) by a throw-away ES256 certificate chain made here, so the
manifests are real JUMBF manifest stores, not hand-written JSON. The chain is
not on any trust list: readers report ``signingCredential.untrusted`` and the
validation state ``Valid`` (signature and hashes check out).

    /work/venv/bin/python tests/data/readers/make_c2pa_fixtures.py
"""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
CREATED = {
    "label": "c2pa.actions",
    "data": {
        "actions": [
            {
                "action": "c2pa.created",
                "digitalSourceType": DIGITAL_CAPTURE,
            }
        ]
    },
}
FIXTURES = {
    # CAWG 1.1 (vectors M7, M8, M10).
    "c2pa-cawg-training-mining.png": {
        "cawg.ai_generative_training": {"use": "notAllowed"},
        "cawg.ai_training": {"use": "allowed"},
        "cawg.data_mining": {
            "use": "constrained",
            "constraint_info": "licence at https://example.com/tdm",
        },
        "cawg.ai_inference": {"use": "allowed"},
    },
    # C2PA 1.x label, as c2patool's do_not_train.json (vector M9).
    "c2pa-do-not-train.png": {"c2pa.ai_training": {"use": "notAllowed"}},
    # A manifest without a training-and-data-mining assertion.
    "c2pa-no-tdm-assertion.png": None,
}


def png(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def signer() -> c2pa.Signer:
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    later = now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "tdmguard test CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tdmguard"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "tdmguard test signer"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tdmguard"),
        ]
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, pem, None)
    )


def main() -> None:
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    for name, entries in FIXTURES.items():
        assertions = [CREATED]
        if entries is not None:
            label = (
                "cawg.training-mining"
                if name.startswith("c2pa-cawg")
                else "c2pa.training-mining"
            )
            assertions.append({"label": label, "data": {"entries": entries}})
        manifest = {
            "claim_generator_info": [
                {"name": "tdmguard-test-fixtures", "version": "1"}
            ],
            "title": name,
            "format": "image/png",
            "assertions": assertions,
        }
        out = io.BytesIO()
        with c2pa.Builder(manifest, context=context) as builder:
            builder.sign(signer(), "image/png", io.BytesIO(png()), out)
        (HERE / name).write_bytes(out.getvalue())
        print(name, len(out.getvalue()))


if __name__ == "__main__":
    main()
