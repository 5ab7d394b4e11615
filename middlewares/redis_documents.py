"""Rights documents fetched once for a whole distributed crawl, shared through Redis.

With ``TDMGUARD_REDIS_URL`` set, the add-on installs
:class:`SharedDocumentsMiddleware` (downloader, order 90: after the blocklist,
before robots.txt) and :class:`SharedDocumentsClock` (extension, order 490:
before the ledger). Every auxiliary fetch of a rights document (robots.txt,
tdmrep.json, ai.txt, RSL licences; each redirect hop on its own) goes
through it:

- if another worker fetched that URL within the document's cache lifetime,
  the response is rebuilt from Redis (status, headers, body as received, after
  decompression) and no request leaves this worker;
- otherwise one worker takes a lock (``SET NX`` with an expiry) and fetches;
  the others poll every 50 ms until its answer is stored. A worker that
  waits longer than twice the lock's lifetime fails closed: the fetch is an
  error, which every reader turns into its refusal (robots.txt
  "unreachable"). A lock whose holder died expires, and a waiter takes over.

Stored per URL: ``{"url", "status", "headers", "body" (base64), "flags",
"sha256" (of the body), "fetched_at", "error"}``; a network error is stored
too (its exception type and message), for the retry lifetime. The ledger of
every worker records the same snapshot: same bytes, same sha256, same
``fetched_at`` (the clock extension sets the fetch time from Redis before the
ledger sees the snapshot).

Lifetimes: robots.txt ``TDMGUARD_ROBOTSTXT_CACHE_TTL`` (2xx, 3xx and 4xx but
429) or ``TDMGUARD_ROBOTSTXT_RETRY_AFTER`` (429, 5xx, errors, cut-off
bodies); the other documents ``TDMGUARD_LOCATION_CACHE_TTL`` /
``TDMGUARD_LOCATION_RETRY_AFTER``. Lock lifetime:
``TDMGUARD_DOCUMENT_TIMEOUT`` (at most ``DOWNLOAD_TIMEOUT``) + 60 s.

Stats: ``tdmguard/redis/documents/fetched``, ``tdmguard/redis/documents/shared``,
``tdmguard/redis/documents/timeout``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from tdmguard.middlewares import signals
from tdmguard.middlewares.fetch import TRUNCATED_FLAGS
from tdmguard.middlewares.redis_client import (
    alive_key,
    client_for,
    key_prefix,
    redis_url,
    setting,
    worker_id,
)
from tdmguard.middlewares.redis_politeness import sleep
from tdmguard.middlewares.snapshots import Snapshot, utcnow
from tdmguard.middlewares.vocab import AUX_META

if TYPE_CHECKING:
    from redis import Redis
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

__all__ = ["SharedDocumentError", "SharedDocumentsClock", "SharedDocumentsMiddleware",
           "install"]

ORDER, CLOCK_ORDER = 90, 490
LOCK_META = "tdmguard_redis_doc_lock"
SHARED_META = "tdmguard_redis_doc_shared"
POLL = 0.05
#: KEYS lock; ARGV token: delete the lock only if it is still ours.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedDocumentError(Exception):
    """A rights document could not be had from the shared cache (fails closed)."""


_ERRORS: dict[str, type[Exception]] = {}


def _error_class(name: str) -> type[Exception]:
    """An exception class named as the fetching worker's was, so every worker
    records the same error text (``Name: message``) in its snapshot."""
    if name not in _ERRORS:
        _ERRORS[name] = type(name if name.isidentifier() else "SharedDocumentError",
                             (SharedDocumentError,), {})
    return _ERRORS[name]


def install(settings: BaseSettings) -> None:
    settings.setdefault_in_component_priority_dict("DOWNLOADER_MIDDLEWARES",
                                                   SharedDocumentsMiddleware, ORDER)
    settings.setdefault_in_component_priority_dict("EXTENSIONS", SharedDocumentsClock,
                                                   CLOCK_ORDER)


class SharedDocumentsClock:
    """Gives each snapshot of a shared document its one fetch time (before the
    ledger and the WARC writer read it), and holds the Redis client."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.server: Redis = client_for(s)  # NotConfigured without TDMGUARD_REDIS_URL
        self.prefix = f"{key_prefix(s, crawler.spidercls.name)}:doc"
        #: URL asked -> fetch time of the shared answer (latest).
        self.fetched_at: dict[str, str] = {}
        crawler.signals.connect(self.snapshot, signal=signals.snapshot_fetched)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedDocumentsClock:
        return cls(crawler)

    def snapshot(self, snapshot: Snapshot) -> None:
        at = self.fetched_at.get(snapshot.url)
        if at is not None:
            snapshot.fetched_at = at


class SharedDocumentsMiddleware:
    """One fetch per rights document per cache lifetime, for every worker."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not redis_url(s):
            raise NotConfigured("TDMGUARD_REDIS_URL is not set")
        clock = next((e for e in crawler.extensions.middlewares
                      if isinstance(e, SharedDocumentsClock)), None)
        if clock is None:
            clock = SharedDocumentsClock(crawler)
        self.clock = clock
        self.server = clock.server
        self.prefix = clock.prefix
        self.crawler = crawler
        self.stats = crawler.stats
        self.ttl = {"robots.txt": (min(s.getfloat("TDMGUARD_ROBOTSTXT_CACHE_TTL", 86400), 86400.0),
                                   s.getfloat("TDMGUARD_ROBOTSTXT_RETRY_AFTER", 300))}
        self.other = (min(s.getfloat("TDMGUARD_LOCATION_CACHE_TTL", 86400), 86400.0),
                      s.getfloat("TDMGUARD_LOCATION_RETRY_AFTER", 300))
        timeout = s.getfloat("TDMGUARD_DOCUMENT_TIMEOUT", 30.0)
        page = s.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        if timeout <= 0 or (page > 0 and page < timeout):
            timeout = page if page > 0 else 180.0
        self.lock_ms = int((timeout + 60) * 1000)
        self.worker = worker_id(crawler)
        self.alive_prefix = alive_key(s, crawler.spidercls.name, "")
        self.worker_ttl_ms = int(float(setting(s, "TDMGUARD_REDIS_WORKER_TTL")) * 1000)
        self._unlock = self.server.register_script(UNLOCK)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedDocumentsMiddleware:
        return cls(crawler)

    def _key(self, kind: str, url: str) -> str:
        return f"{self.prefix}:{kind}:{url}"

    async def process_request(self, request: Request, spider: Spider | None = None
                              ) -> Response | None:
        kind = request.meta.get(AUX_META)
        if not kind:
            return None
        key = self._key(kind, request.url)
        token = f"{self.worker}|{uuid.uuid4().hex}"
        deadline = time.monotonic() + 2 * self.lock_ms / 1000
        while True:
            stored = self.server.get(key)
            if stored is not None:
                self.stats.inc_value("tdmguard/redis/documents/shared")
                return self._answer(request, json.loads(stored))
            if self.server.set(f"{key}:lock", token, nx=True, px=self.lock_ms):
                request.meta[LOCK_META] = (key, token)
                self.stats.inc_value("tdmguard/redis/documents/fetched")
                return None  # this worker fetches it for everyone
            self._free_if_abandoned(f"{key}:lock")
            if time.monotonic() > deadline:
                self.stats.inc_value("tdmguard/redis/documents/timeout")
                raise SharedDocumentError(
                    f"no answer for {request.url} from the worker fetching it within "
                    f"{2 * self.lock_ms / 1000:.0f} s (shared rights documents)")
            await sleep(POLL)

    def _free_if_abandoned(self, lock: str) -> None:
        """Delete a lock whose worker stopped heart-beating (killed mid-fetch)
        once it is older than the worker's heartbeat lifetime."""
        holder = self.server.get(lock)
        if holder is None:
            return
        text = holder.decode("utf-8", "replace") if isinstance(holder, bytes) else str(holder)
        if self.server.exists(self.alive_prefix + text.split("|")[0]):
            return
        age = self.lock_ms - max(0, int(self.server.pttl(lock)))
        if age > self.worker_ttl_ms:
            self._unlock(keys=[lock], args=[holder])

    def _answer(self, request: Request, record: dict[str, Any]) -> Response:
        self.clock.fetched_at[request.url] = record["fetched_at"]
        request.meta[SHARED_META] = True
        if record.get("error") is not None:
            raise _error_class(record.get("error_type") or "SharedDocumentError")(
                record["error"])
        body = base64.b64decode(record["body"])
        headers = Headers({k.encode("latin-1"): [v.encode("latin-1") for v in vs]
                           for k, vs in record["headers"].items()})
        cls = responsetypes.from_args(headers=headers, url=record["url"], body=body)
        return cls(url=record["url"], status=record["status"], headers=headers, body=body,
                   flags=list(record.get("flags") or []), request=request)

    def _lifetime(self, kind: str, status: int | None, whole: bool) -> float:
        ttl, retry = self.ttl.get(kind, self.other)
        if status is None or not whole or status == 429 or status >= 500:
            return retry
        return ttl

    def _store(self, request: Request, record: dict[str, Any], lifetime: float) -> None:
        key, token = request.meta.pop(LOCK_META)
        self.clock.fetched_at[request.url] = record["fetched_at"]
        if lifetime > 0:
            self.server.set(key, json.dumps(record), px=max(1, int(lifetime * 1000)))
        self._unlock(keys=[f"{key}:lock"], args=[token])

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        if LOCK_META not in request.meta:
            return response
        kind = request.meta.get(AUX_META, "")
        whole = not TRUNCATED_FLAGS.intersection(response.flags)
        headers = {k.decode("latin-1"): [v.decode("latin-1") for v in vs]
                   for k, vs in response.headers.items()}
        record = {"url": response.url, "status": response.status, "headers": headers,
                  "body": base64.b64encode(response.body).decode("ascii"),
                  "sha256": hashlib.sha256(response.body).hexdigest(),
                  "flags": list(response.flags), "fetched_at": utcnow(), "error": None}
        self._store(request, record, self._lifetime(kind, response.status, whole))
        return response

    def process_exception(self, request: Request, exception: BaseException,
                          spider: Spider | None = None) -> None:
        if LOCK_META not in request.meta:
            return
        kind = request.meta.get(AUX_META, "")
        record: dict[str, Any] = {"url": request.url, "status": None, "headers": {}, "body": "",
                  "sha256": None, "flags": [], "fetched_at": utcnow(),
                  "error": str(exception), "error_type": type(exception).__name__}
        self._store(request, record, self._lifetime(kind, None, False))
