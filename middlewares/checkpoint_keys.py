"""Key files for signed ledger checkpoints: a new Ed25519 key pair, or a key read back.

:func:`generate_key` writes the private key (PEM, mode 0600, never over an
existing file) and its public key beside it (:func:`public_path`);
:func:`load_key` reads either back. ``tdmguard checkpoint --key`` signs with
the private key and ``tdmguard verify --checkpoint --key`` checks with the
public one (:func:`tdmguard.middlewares.chain.checkpoint`,
:func:`~tdmguard.middlewares.chain.check_signature`). Every problem is a
one-line :class:`~tdmguard.middlewares.chain.LedgerError`.
"""

from __future__ import annotations

from typing import Any

from tdmguard.middlewares.chain import LedgerError


def generate_key(path: str) -> Any:
    """Write a new Ed25519 private key to *path* (PEM, mode 0600) and its public
    key to ``<path minus .pem>.pub.pem``; return the private key."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(f"{path} exists: not overwriting a key") from None
    except OSError as exc:
        raise LedgerError(f"cannot write the key {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    with open(public_path(path), "wb") as fh:
        fh.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def public_path(path: str) -> str:
    return (path[:-4] if path.endswith(".pem") else path) + ".pub.pem"


def load_key(path: str, private: bool) -> Any:
    """An Ed25519 key from a PEM file: the private key, or (``private=False``)
    the public key of a public or private PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise LedgerError(f"cannot read the key {path}: {exc.strerror}") from None
    key: Any = None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        if not private:
            try:
                key = serialization.load_pem_public_key(data)
            except ValueError:
                key = None
    if isinstance(key, Ed25519PrivateKey):
        return key if private else key.public_key()
    if isinstance(key, Ed25519PublicKey) and not private:
        return key
    what = "an unencrypted Ed25519 private key" if private else "an Ed25519 key"
    raise LedgerError(f"{path} is not {what} in PEM")
