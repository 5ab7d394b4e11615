"""Signing keys for Web Bot Auth and the key directory a crawler publishes.

Pure helpers (no Scrapy, no CLI): make an Ed25519 private key file (PEM,
PKCS#8, unencrypted, mode 0600, never overwritten), read one back, and write the
HTTP Message Signatures directory, a JWK Set ``{"keys": [...]}`` with each key's
RFC 7638 thumbprint as ``kid`` (draft-meunier-webbotauth-httpsig-directory), at
``DIR/.well-known/http-message-signatures-directory``. The same key gives the
same bytes, so a re-published directory changes only when its keys do.

The crawl signs with the private key (``TDMGUARD_SIGNING_KEY``); the directory
goes on the web at the URL its requests name in ``Signature-Agent``
(``TDMGUARD_SIGNATURE_AGENT``), served with media type :data:`MEDIA_TYPE`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tdmguard.middlewares.signing import (
    MEDIA_TYPE,
    WELL_KNOWN_PATH,
    SigningKeyError,
    jwk_thumbprint,
    load_signing_key,
    public_jwk,
)

__all__ = ["DIRECTORY_PATH", "MEDIA_TYPE", "SigningKeyError", "directory", "directory_json",
           "generate_key", "jwk_thumbprint", "load_or_generate", "load_signing_key",
           "public_jwk", "write_directory"]

#: Where the directory goes under a disclosure's output directory.
DIRECTORY_PATH = WELL_KNOWN_PATH.lstrip("/")


def generate_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Make a new Ed25519 key and write it to *path* (mode 0600, created
    exclusively: an existing file is never replaced)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SigningKeyError(f"cannot create {os.fspath(path)}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def load_or_generate(path: str | os.PathLike[str]) -> tuple[Ed25519PrivateKey, bool]:
    """The key in *path*, made there first if the file does not exist; and
    whether it was made now."""
    if not os.path.lexists(path):
        return generate_key(path), True
    return load_signing_key(os.fspath(path)), False


def directory(keys: Iterable[Ed25519PrivateKey | dict[str, Any]]) -> dict[str, Any]:
    """The JWK Set for *keys* (private keys or public JWKs), each once, in order."""
    out: list[dict[str, Any]] = []
    for key in keys:
        jwk = dict(key) if isinstance(key, dict) else public_jwk(key)
        jwk.setdefault("kid", jwk_thumbprint(jwk))
        if all(j["kid"] != jwk["kid"] for j in out):
            out.append(jwk)
    return {"keys": out}


def directory_json(keys: Iterable[Ed25519PrivateKey | dict[str, Any]]) -> str:
    """:func:`directory` as stable JSON text (sorted members, two-space indent)."""
    return json.dumps(directory(keys), indent=2, sort_keys=True) + "\n"


def write_directory(output_dir: str | os.PathLike[str],
                    keys: Iterable[Ed25519PrivateKey | dict[str, Any]]) -> Path:
    """Write the directory for *keys* under *output_dir* (atomically, mode 0644)
    and return its path."""
    target = Path(output_dir) / DIRECTORY_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    text = directory_json(keys)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".directory-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target
