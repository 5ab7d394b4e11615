"""Web Bot Auth for the fixture web: verifying signed requests as an origin would.

:func:`directory_keys` reads the Ed25519 keys of a crawler's key directory (a
JWK Set), checking each ``kid`` against the key's own thumbprint;
:func:`verify_signature` checks one request's RFC 9421 signature against them
with http-message-signatures and returns ``valid``, ``missing`` or
``invalid: why``. :class:`~tdmguard.crawler.fixtureweb.FixtureWeb` logs that
verdict for every request once ``verify_signatures()`` is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def directory_keys(directory: dict[str, Any]) -> dict[str, Any]:
    """The Ed25519 public keys of a key directory (JWK Set), by thumbprint.

    The thumbprint is computed here (RFC 7638, RFC 8037 A.3), not taken from
    the signer's code; a ``kid`` that is not the thumbprint is an error, as the
    directory draft asks.
    """
    import base64
    import hashlib
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys: dict[str, Any] = {}
    for jwk in directory["keys"]:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        members = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]},
                             separators=(",", ":"), sort_keys=True)
        thumb = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest())
        kid = thumb.rstrip(b"=").decode()
        if jwk.get("kid", kid) != kid:
            raise ValueError(f"kid {jwk['kid']!r} is not the key's thumbprint {kid!r}")
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


@dataclass(slots=True)
class _Signed:
    method: str
    url: str
    headers: Any


def verify_signature(method: str, url: str, headers: Any, keys: dict[str, Any],
                     agent: str | None = None) -> str:
    """``valid``, ``missing`` or ``invalid: <why>`` for a request (*headers*:
    (name, value) pairs or a dict), checked with http-message-signatures against
    *keys* (:func:`directory_keys`): a ``web-bot-auth`` signature covering
    ``@authority`` and its own ``Signature-Agent`` member, with ``created``,
    ``expires`` and a ``keyid`` from the directory; with *agent*, that member
    names it."""
    import http_sf
    from http_message_signatures import (
        HTTPMessageSignaturesException,
        HTTPMessageVerifier,
        MappingKeyResolver,
        algorithms,
    )

    fields = list(headers.items() if isinstance(headers, dict) else headers)
    if not any(n.lower() == "signature" for n, _ in fields):
        return "missing"
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519,
                                   key_resolver=MappingKeyResolver(public_keys=keys,
                                                                   private_keys={}))
    try:
        results = verifier.verify(_Signed(method, url, _Fields(fields)),
                                  expect_tag="web-bot-auth", require_components=("@authority",))
        for result in results:
            member = f'"signature-agent";key="{result.label}"'
            if member not in result.covered_components:
                return f"invalid: {member} is not covered"
            if "expires" not in result.parameters:
                return "invalid: no expires parameter"
            named: Any = http_sf.parse(result.covered_components[member].encode(), tltype="item")
            if agent is not None and named[0] != agent:
                return f"invalid: Signature-Agent names {named[0]!r}, not {agent!r}"
    except (HTTPMessageSignaturesException, ValueError) as exc:
        return f"invalid: {exc}"
    return "valid"


class _Fields:
    """Header field lines as http-message-signatures reads them (read-only)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def items(self) -> list[tuple[str, str]]:
        return self._fields

    def __iter__(self) -> Any:
        return iter(dict.fromkeys(name for name, _ in self._fields))

    def __contains__(self, name: object) -> bool:
        return any(n.lower() == str(name).lower() for n, _ in self._fields)
