"""Verifiable crawler identity: every request signed as Web Bot Auth asks.

:class:`SigningMiddleware` (downloader, order 950: after every Scrapy and
tdmguard component that touches a request, HttpProxy 750 and HttpCache 900
included, so it signs what actually leaves) is installed by the add-on only
when ``TDMGUARD_SIGNING_KEY`` names an Ed25519 private key (PEM, PKCS#8).
Each http(s) request gets an RFC 9421 HTTP Message Signature
(draft-ietf-webbotauth-httpsig-protocol), made with the http-message-signatures
library:

- covered components ``"@authority"`` and ``"signature-agent";key="sig1"``;
- parameters ``created``, ``expires`` (``created`` + :data:`LIFETIME`, longer
  when ``TDMGUARD_POLITENESS_MAX_WAIT`` is: a request can wait that long in its
  origin's slot after it is signed), ``keyid`` (the key's RFC 7638 JWK SHA-256
  thumbprint, RFC 8037 A.3), ``alg="ed25519"``, ``tag="web-bot-auth"``;
- a ``Signature-Agent`` dictionary header whose ``sig1`` member is
  ``TDMGUARD_SIGNATURE_AGENT``, the https URL of the published key directory:
  an origin, or that origin's ``/.well-known/http-message-signatures-directory``
  (both sent as the origin, the draft's default ``directory`` type), or any
  other https URL of a JWK Set (sent with ``type=jwks_uri``).

Each request is signed when it passes, so a retry or a redirect (a new request
through the whole chain) carries a signature for its own authority and time,
never a copy of its predecessor's. Only the authority and the second are
signed, so the headers for one (scheme, authority) are made once per second and
reused: Ed25519 is deterministic, so they are the bytes signing again would give.

Failure mode: closed. A key that cannot be read, a key that is not Ed25519, or a
missing or non-https ``TDMGUARD_SIGNATURE_AGENT`` stops the crawl before any
request (the add-on's one-line error, exit 2); a request that cannot be signed
is not sent (``IgnoreRequest``).

Stats: ``tdmguard/signing/signed``, ``tdmguard/signing/error/<ExcType>``.

The key helpers (:func:`load_signing_key`, :func:`public_jwk`,
:func:`jwk_thumbprint`, :func:`signature_agent_member`) import neither Scrapy
nor Twisted, so ``policy/keys.py`` and the fixture web reuse them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    algorithms,
)

from tdmguard.middlewares import schema

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

#: Order in ``DOWNLOADER_MIDDLEWARES``: after every built-in component.
ORDER = 950
TAG = "web-bot-auth"
#: The signature's label, and the ``Signature-Agent`` member it covers.
LABEL = "sig1"
WELL_KNOWN_PATH = "/.well-known/http-message-signatures-directory"
MEDIA_TYPE = "application/http-message-signatures-directory+json"
#: Seconds from ``created`` to ``expires`` (the draft recommends at most 24 h).
LIFETIME = 3600
MAX_LIFETIME = 86400
COVERED = ("@authority", f'"signature-agent";key="{LABEL}"')


class SigningKeyError(ValueError):
    """A signing key file is unusable; the message is one line naming it."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file *path*, or :class:`SigningKeyError`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 * 1024)
    except OSError as exc:
        raise SigningKeyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(f"{path} is an encrypted key: the crawler signs unattended, "
                              "so give it an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{path} holds no PEM private key (make one with "
                              "`tdmguard policy keys`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__.lstrip('_')}, not an "
                              "Ed25519 private key (make one with `tdmguard policy keys`)")
    return key


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of an OKP JWK (RFC 8037 A.3), base64url."""
    members = {name: jwk[name] for name in ("crv", "kty", "x")}
    text = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(text.encode("utf-8")).digest())


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of *key*, with its thumbprint as ``kid`` (as the directory
    draft asks) and ``use`` ``sig``."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    return {**jwk, "kid": jwk_thumbprint(jwk), "use": "sig"}


def signature_agent_member(url: str, label: str = LABEL) -> str:
    """The ``Signature-Agent`` header for the key directory at *url* (ValueError
    when *url* is not an absolute https URL without credentials or fragment)."""
    text = url.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{url!r} has a bad port") from None
    if (parts.scheme != "https" or not parts.hostname or parts.username is not None
            or parts.fragment or any(not 33 <= ord(c) <= 126 for c in text)):
        raise ValueError(f"{url!r} is not an https URL")
    origin = f"https://{parts.netloc.lower()}"
    if parts.path in ("", "/", WELL_KNOWN_PATH) and not parts.query:
        member: Any = {label: (origin, {})}
    else:
        member = {label: (text, {"type": http_sf.Token("jwks_uri")})}
    return http_sf.ser(member)


@dataclass(slots=True)
class _Message:
    """The message view http-message-signatures reads: only the parts of the
    request the signature covers (scheme and authority, Signature-Agent)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class RequestSigner:
    """Signature headers for a request to a (scheme, authority), made with
    http-message-signatures and reused within one second.

    The library's ``prepare()`` builds the signature base and ``@signature-params``
    and its ED25519 algorithm signs; the two header values are then written
    here (``apply()`` would rebuild and re-check the same base, doubling the
    cost, about 0.9 ms instead of 0.4 ms per new signature on this project's VM).
    """

    def __init__(self, key: Ed25519PrivateKey, agent: str, *, lifetime: int = LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        self.keyid = public_jwk(key)["kid"]
        self.agent = signature_agent_member(agent)
        self.lifetime = lifetime
        self.clock = clock
        self._signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519)
        self._algorithm = algorithms.ED25519(private_key=key)  # type: ignore[no-untyped-call]
        self._second = -1
        self._made: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def headers(self, scheme: str, authority: str, method: str = "GET") -> list[tuple[str, str]]:
        """``Signature-Agent``, ``Signature-Input`` and ``Signature`` for a request."""
        now = int(self.clock())
        if now != self._second:
            self._made.clear()
            self._second = now
        made = self._made.get((scheme, authority))
        if made is None:
            created = datetime.datetime.fromtimestamp(now, datetime.UTC)
            message = _Message(method, f"{scheme}://{authority}/",
                               {"Signature-Agent": self.agent})
            prepared = self._signer.prepare(
                message, key_id=self.keyid, created=created,
                expires=created + datetime.timedelta(seconds=self.lifetime),
                label=LABEL, tag=TAG, covered_component_ids=COVERED,
            )
            signature = self._algorithm.sign(prepared.signature_base)
            made = [("Signature-Agent", self.agent),
                    ("Signature-Input", f"{LABEL}={prepared.signature_params}"),
                    ("Signature", f"{LABEL}=:{base64.b64encode(signature).decode()}:")]
            self._made[(scheme, authority)] = made
        return made


def _settings(settings: BaseSettings) -> tuple[str | None, str | None]:
    return (schema.parse_value("TDMGUARD_SIGNING_KEY", settings.get("TDMGUARD_SIGNING_KEY")),
            schema.parse_value("TDMGUARD_SIGNATURE_AGENT",
                               settings.get("TDMGUARD_SIGNATURE_AGENT")))


def check_settings(settings: BaseSettings, *, warn: bool = True) -> bool:
    """True when signing is on and usable; a one-line :class:`schema.SettingError`
    when the key or the directory URL is not. Called by the add-on, before any
    request."""
    path, agent = _settings(settings)
    if path is None:
        return False
    try:
        load_signing_key(path)
    except SigningKeyError as exc:
        raise schema.SettingError(f"TDMGUARD_SIGNING_KEY: {exc}") from None
    if agent is None:
        raise schema.SettingError(
            "TDMGUARD_SIGNATURE_AGENT is not set: signed requests must name the https URL "
            "of your published key directory (e.g. https://crawler.example.com"
            f"{WELL_KNOWN_PATH})")
    try:
        signature_agent_member(agent)
    except ValueError as exc:
        raise schema.SettingError(
            f"TDMGUARD_SIGNATURE_AGENT: {exc}; give the https URL of your published key "
            "directory") from None
    if warn and os.name == "posix" and stat.S_IMODE(os.stat(path).st_mode) & 0o077:
        logger.warning("TDMGUARD_SIGNING_KEY %s can be read by other users: chmod 600 it",
                       path)
    return True


def install(settings: BaseSettings) -> None:
    """Add :class:`SigningMiddleware` when ``TDMGUARD_SIGNING_KEY`` is set (the add-on)."""
    if check_settings(settings):
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", SigningMiddleware, ORDER)


class SigningMiddleware:
    """Signs every http(s) request with the crawl's Ed25519 key (Web Bot Auth)."""

    def __init__(self, crawler: Crawler) -> None:
        # Scrapy is imported here, not at the top, so the key helpers above
        # load without it.
        from scrapy.exceptions import NotConfigured
        from scrapy.utils.httpobj import urlparse_cached

        path, agent = _settings(crawler.settings)
        if path is None:
            raise NotConfigured("TDMGUARD_SIGNING_KEY is not set")
        check_settings(crawler.settings, warn=False)
        assert agent is not None
        max_wait = schema.parse_value("TDMGUARD_POLITENESS_MAX_WAIT", crawler.settings.get(
            "TDMGUARD_POLITENESS_MAX_WAIT", schema.DEFAULTS["TDMGUARD_POLITENESS_MAX_WAIT"]))
        lifetime = int(min(MAX_LIFETIME, max(LIFETIME, 2 * max_wait)))
        self.crawler = crawler
        self.stats = crawler.stats
        self.signer = RequestSigner(load_signing_key(path), agent, lifetime=lifetime)
        self._urlparse = urlparse_cached
        logger.info("Signing every request (Web Bot Auth): keyid %s, Signature-Agent %s, "
                    "valid %d s", self.signer.keyid, self.signer.agent, lifetime)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SigningMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        parts = self._urlparse(request)
        if parts.scheme not in ("http", "https"):
            return None  # data:, file:, ... never leave the machine
        try:
            made = self.signer.headers(parts.scheme, parts.netloc.rpartition("@")[2],
                                       request.method)
        except HTTPMessageSignaturesException as exc:
            from scrapy.exceptions import IgnoreRequest

            name = type(exc).__name__
            self.stats.inc_value(f"tdmguard/signing/error/{name}")
            logger.error("Not sending %s: it cannot be signed (%s)", request.url, exc)
            raise IgnoreRequest(f"tdmguard cannot sign this request: {exc}") from None
        for name, value in made:
            request.headers[name] = value
        self.stats.inc_value("tdmguard/signing/signed")
        return None
