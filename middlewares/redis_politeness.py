"""Politeness shared by every worker of a distributed crawl, on Redis's clock.

With ``TDMGUARD_REDIS_URL`` set, the add-on replaces
:class:`~tdmguard.middlewares.politeness.PolitenessMiddleware` with
:class:`SharedPolitenessMiddleware` at the same order (570). It keeps every
local rule (per-origin slots, Retry-After holds) and, before a request goes
to the downloader, asks Redis for the origin's turn, in one Lua script that
reads the server's ``TIME`` (so clock skew between machines does not matter):

- **delay**: a GCRA-style limiter with a burst of 1 per origin: a request is
  let through only when the origin's previous request was let through at
  least its delay ago; the delay is the origin's download-slot delay
  (``TDMGUARD_POLITENESS_DELAY``, ``DOWNLOAD_DELAY``, or the robots.txt
  ``Crawl-delay``, whichever is highest), so N workers together keep the gap
  one worker would;
- **concurrency**: a counting semaphore (a sorted set of leases) of
  ``TDMGUARD_POLITENESS_CONCURRENCY`` per origin; a lease is returned when the
  response (or error) comes back, and expires by itself ``DOWNLOAD_TIMEOUT``
  + 10 s after it was taken, so a killed worker's slot comes back;
- **holds**: a 429/503 hold (Retry-After) one worker sees holds the origin
  for all of them.

Keys: ``P:polite:<origin>:last|leases|hold`` (``P`` as in
:mod:`~tdmguard.middlewares.redis_queue`), each expiring on its own.
Stats: ``tdmguard/redis/politeness/waited`` (requests that had to wait).
Failure mode: while Redis does not answer, requests wait (never sent
unmetered); ``tdmguard/redis/error`` counts the failures.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from tdmguard.middlewares import compat
from tdmguard.middlewares.politeness import PolitenessMiddleware
from tdmguard.middlewares.redis_client import (
    alive_key,
    client_for,
    key_prefix,
    setting,
    worker_id,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

__all__ = ["GATE", "SharedPolitenessMiddleware", "install", "sleep"]

LEASE_META = "tdmguard_redis_lease"

#: KEYS last, leases, hold; ARGV delay (µs), concurrency (0: none), lease (ms),
#: lease id (``worker|random``), worker key prefix, worker lifetime (ms).
#: Returns {1, grant time (µs, server clock)} when the request may go, else
#: {0, ms to wait}.
GATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if hold > now_ms then return {0, hold - now_ms} end
local limit = tonumber(ARGV[2])
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
  if redis.call('ZCARD', KEYS[2]) >= limit then
    -- A lease whose worker stopped heart-beating is free once the worker's
    -- heartbeat lifetime has passed since it was taken.
    local freed = 0
    local items = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = 1, #items, 2 do
      local holder = string.match(items[i], '^(.*)|')
      local taken = tonumber(items[i + 1]) - tonumber(ARGV[3])
      if holder and taken + tonumber(ARGV[6]) < now_ms
          and redis.call('EXISTS', ARGV[5] .. holder) == 0 then
        redis.call('ZREM', KEYS[2], items[i])
        freed = freed + 1
      end
    end
    if freed == 0 then return {0, 20} end
  end
end
local delay = tonumber(ARGV[1])
local last = redis.call('GET', KEYS[1])
if last then
  local due = tonumber(last) + delay
  if now < due then return {0, math.max(1, math.ceil((due - now) / 1000))} end
end
redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX',
           math.max(1000, math.ceil(delay / 1000) + 1000))
if limit > 0 then
  redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) + 1000)
end
return {1, string.format('%.0f', now)}
"""
#: KEYS hold; ARGV ms: no request to the origin for that long (never shortened).
HOLD = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', until_ms), 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
"""


#: Seconds added to a non-zero per-origin delay between two workers' turns:
#: the most a granted turn has been seen to wait before its request left
#: (about 0.08 s with four workers, the web and Redis on two busy cores).
SEND_MARGIN = 0.1


async def sleep(seconds: float) -> None:
    """Wait without blocking the reactor (any reactor)."""
    done: Deferred[None] = Deferred()
    call_later(seconds, done.callback, None)
    await maybe_deferred_to_future(done)


def install(settings: BaseSettings) -> None:
    """Put :class:`SharedPolitenessMiddleware` where PolitenessMiddleware is."""
    name = "DOWNLOADER_MIDDLEWARES"
    mws = dict(settings.getdict(name))
    order = mws.get(PolitenessMiddleware)
    if order is None:
        return  # switched off by the user
    mws[PolitenessMiddleware] = None
    mws[SharedPolitenessMiddleware] = order
    settings.set(name, mws, settings.getpriority(name) or "addon")


class SharedPolitenessMiddleware(PolitenessMiddleware):
    """The local politeness, plus each origin's turn taken from Redis."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)  # NotConfigured when politeness is off
        s = crawler.settings
        self.server = client_for(s)
        self.prefix = f"{key_prefix(s, crawler.spidercls.name)}:polite"
        self.lease_ms = int((max(s.getfloat("DOWNLOAD_TIMEOUT", 180.0), 1.0) + 10) * 1000)
        self.worker = worker_id(crawler)
        self.alive_prefix = alive_key(s, crawler.spidercls.name, "")
        self.worker_ttl_ms = int(float(setting(s, "TDMGUARD_REDIS_WORKER_TTL")) * 1000)
        self._gate = self.server.register_script(GATE)
        self._hold_script = self.server.register_script(HOLD)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPolitenessMiddleware:
        return cls(crawler)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:{key}:{part}" for part in ("last", "leases", "hold")]

    async def process_request(  # type: ignore[override]
            self, request: Request, spider: Spider | None = None) -> None:
        super().process_request(request, spider)
        if not request.url.startswith(("http://", "https://")):
            return
        key, slot = compat.download_slot(self.crawler, request)
        # Turns are spaced on Redis's clock; the site sees each request after
        # its worker's own scheduling and connection latency. The margin keeps
        # the gap the site sees at or above the delay (Crawl-delay included).
        delay = slot.delay + SEND_MARGIN if slot.delay > 0 else 0.0
        delay_us = int(round(delay * 1_000_000))
        limit = self.concurrency or 0
        lease = f"{self.worker}|{uuid.uuid4().hex}"
        waited = False
        while True:
            try:
                granted, wait_ms = self._gate(keys=self._keys(key),
                                              args=[delay_us, limit, self.lease_ms, lease,
                                                    self.alive_prefix, self.worker_ttl_ms])
            except redis.RedisError:
                # Never sent unmetered: wait for Redis to answer again.
                self.stats.inc_value("tdmguard/redis/error")
                granted, wait_ms = 0, 1000
            if granted:
                break
            waited = True
            await sleep(min(int(wait_ms), 1000) / 1000)
        if waited:
            self.stats.inc_value("tdmguard/redis/politeness/waited")
        if limit:
            request.meta[LEASE_META] = (key, lease)

    def _release(self, request: Request) -> None:
        held: Any = request.meta.pop(LEASE_META, None)
        if held:
            try:
                self.server.zrem(self._keys(held[0])[1], held[1])
            except redis.RedisError:
                self.stats.inc_value("tdmguard/redis/error")  # the lease expires

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        self._release(request)
        response = super().process_response(request, response, spider)
        if response.status in (429, 503):
            downloader = compat.downloader(self.crawler)
            key = request.meta.get(downloader.DOWNLOAD_SLOT)
            until = self._hold_until.get(key, 0.0) if key else 0.0
            left = until - time.monotonic()
            if key and left > 0:
                try:
                    self._hold_script(keys=[self._keys(key)[2]], args=[int(left * 1000)])
                except redis.RedisError:
                    self.stats.inc_value("tdmguard/redis/error")  # held locally still
        return response

    def process_exception(self, request: Request, exception: BaseException,
                          spider: Spider | None = None) -> None:
        self._release(request)
