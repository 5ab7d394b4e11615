"""Distributed crawls: many Scrapy workers sharing one queue in Redis (scrapy-redis).

Switched on by ``TDMGUARD_REDIS_URL`` (``redis://host:port/db``): the add-on
then sets ``SCHEDULER`` to :class:`RedisScheduler`, a subclass of
scrapy-redis's scheduler (pinned 0.9.1; our compatibility layer, not a fork),
and swaps in the shared politeness (:mod:`~tdmguard.middlewares.redis_politeness`)
and shared rights documents (:mod:`~tdmguard.middlewares.redis_documents`).
Every worker runs the same spider with the same settings and its own ledger.

What differs from plain scrapy-redis:

- Requests are stored as JSON (``Request.to_dict`` / ``request_from_dict``;
  bytes as ``{"$b": base64}``), never pickled: whoever can write to Redis can
  queue URLs, not run code. A request class must be ``scrapy.http.*`` and a
  callback a public spider method, or the entry is dropped
  (``tdmguard/redis/rejected``). A request whose meta holds something JSON
  cannot carry stays with its worker (``tdmguard/redis/local``).
- Fingerprints come from the crawl's ``REQUEST_FINGERPRINTER``; start
  requests are deduplicated too, so every worker may seed the same URLs and a
  resumed crawl does not re-queue them.
- Each worker registers itself (a key that expires ``TDMGUARD_REDIS_WORKER_TTL``
  seconds after its last heartbeat) and keeps the requests it took in its own
  in-flight hash until Scrapy has finished with them (links queued). A worker
  that stops heart-beating (SIGKILL, power cut) has its in-flight requests put
  back in the queue by the others (``tdmguard/redis/requeued``).
- A worker with nothing to do waits while others work, and stops once the
  queue is empty and no worker has anything in flight for
  ``TDMGUARD_REDIS_IDLE_CLOSE`` seconds (finish reason ``finished``). A worker
  finishing that way clears the queue and the dupe filter only when nothing is
  queued, in flight or being worked on by any other worker (so, in effect, the
  last one); a worker that is stopped (Ctrl-C, SIGTERM, a page limit) leaves
  them, and puts its unfinished requests back, so the crawl resumes where it
  stopped.
- Non-blocking pops (scrapy-redis blocks the reactor on ``BRPOP`` when it
  waits), no ``spider=`` stats arguments (scrapy-redis master removes them
  too), each step on shared state one atomic Lua script; stats stay per
  worker (scrapy-redis's Redis stats collector, not atomic, is not used).

Redis keys (``TDMGUARD_REDIS_KEY``, default ``tdmguard:%(spider)s``, is the
prefix ``P``): ``P:requests`` (sorted set of JSON requests, score
``-priority``), ``P:dupefilter`` (set of fingerprints), ``P:workers`` (set of
worker ids), ``P:worker:<id>`` (``busy``/``idle``, expiring), ``P:inflight:<id>``
(hash of the JSON requests a worker took), plus the politeness and document
keys of the other ``redis_*`` modules.

Redis down: the worker keeps the requests it finds (queued once Redis
answers), asks again, and never closes as "finished" meanwhile
(``tdmguard/redis/error``, a WARNING every 10 s).

Stats: ``scheduler/enqueued/redis``, ``scheduler/dequeued/redis``,
``tdmguard/redis/requeued``, ``tdmguard/redis/local``,
``tdmguard/redis/rejected``, ``tdmguard/redis/error``.

Why it is long: the scheduler is a small distributed protocol: its five Lua
scripts (push, pop, recover, drained, leave), the worker heartbeat and the
crawl-wide idle close must be read together to see that no request is lost or
run twice, and this docstring documents that protocol and its Redis keys. The
client, the request codec, the shared politeness and the shared documents are
already modules of their own.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals as scrapy_signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.asyncio import create_looping_call
from scrapy_redis.scheduler import Scheduler as ScrapyRedisScheduler

from tdmguard.middlewares import compat
from tdmguard.middlewares.redis_client import (
    client_for,
    connect,
    key_prefix,
    redis_url,
    setting,
    worker_id,
)
from tdmguard.middlewares.redis_codec import Unshareable, decode_request, encode_request

if TYPE_CHECKING:
    from redis import Redis
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

__all__ = ["RedisScheduler", "install", "seed"]

SCHEDULER_PATH = "tdmguard.middlewares.redis_queue.RedisScheduler"


def install(settings: BaseSettings) -> None:
    """With ``TDMGUARD_REDIS_URL`` set (the add-on calls this): the shared
    scheduler, and the shared politeness and rights-document components in
    place of the local ones, at their orders."""
    url = redis_url(settings)
    if not url:
        return
    from tdmguard.middlewares import redis_documents, redis_politeness
    from tdmguard.middlewares.settings import ConfigError

    if urlsplit(url).password:
        # Every ledger records the effective TDMGUARD_* settings.
        raise ConfigError("TDMGUARD_REDIS_URL carries a password, which every worker's "
                          "ledger would record: give it as REDIS_PARAMS = "
                          "{\"password\": ...} instead")
    try:  # an unreachable Redis stops the crawl before it starts, in one line
        client_for(settings).close()
    except NotConfigured as exc:
        raise ConfigError(str(exc)) from None
    settings.set("SCHEDULER", SCHEDULER_PATH, "addon")
    redis_politeness.install(settings)
    redis_documents.install(settings)


# -- Lua: each a single atomic step on the server ----------------------------------

#: KEYS queue, dupefilter; ARGV fingerprint ("" = do not filter), score, entry.
PUSH = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""
#: KEYS queue, own in-flight hash: the lowest score moves into the hash.
POP = """
local got = redis.call('ZPOPMIN', KEYS[1])
if #got == 0 then return false end
redis.call('HSET', KEYS[2], got[1], got[2])
return got[1]
"""
#: KEYS queue, workers; ARGV prefix. Workers whose heartbeat key expired:
#: their in-flight requests go back into the queue.
RECOVER = """
local moved = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[1] .. ':worker:' .. w) == 0 then
    local inflight = ARGV[1] .. ':inflight:' .. w
    local items = redis.call('HGETALL', inflight)
    for i = 1, #items, 2 do
      redis.call('ZADD', KEYS[1], items[i + 1], items[i])
      moved = moved + 1
    end
    redis.call('DEL', inflight)
    redis.call('SREM', KEYS[2], w)
  end
end
return moved
"""
#: KEYS queue, workers; ARGV prefix: 1 when nothing is queued and no worker is
#: busy or holds a request.
DRAINED = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('GET', ARGV[1] .. ':worker:' .. w) == 'busy' then return 0 end
  if redis.call('HLEN', ARGV[1] .. ':inflight:' .. w) > 0 then return 0 end
end
return 1
"""
#: KEYS queue, workers, dupefilter; ARGV prefix, worker id, "1" when the
#: crawl finished. Leaves the crawl: unfinished requests back into the queue.
#: A worker leaving a finished crawl clears the queue, the dupe filter and
#: the worker list if nothing is left anywhere: no request queued, none in
#: flight, no other worker busy (a worker killed while idle does not hold
#: the clearing up; one killed while busy does, until its heartbeat lapses).
LEAVE = """
local inflight = ARGV[1] .. ':inflight:' .. ARGV[2]
local items = redis.call('HGETALL', inflight)
for i = 1, #items, 2 do redis.call('ZADD', KEYS[1], items[i + 1], items[i]) end
redis.call('DEL', inflight, ARGV[1] .. ':worker:' .. ARGV[2])
redis.call('SREM', KEYS[2], ARGV[2])
if ARGV[3] ~= '1' or redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
local members = redis.call('SMEMBERS', KEYS[2])
for _, w in ipairs(members) do
  if redis.call('GET', ARGV[1] .. ':worker:' .. w) == 'busy' then return 0 end
  if redis.call('HLEN', ARGV[1] .. ':inflight:' .. w) > 0 then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[2])
return 1
"""


class RedisScheduler(ScrapyRedisScheduler, BaseScheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler with JSON entries, in-flight tracking and a
    crawl-wide idle close (see the module docstring)."""

    def __init__(self, crawler: Crawler, server: Redis) -> None:
        s = crawler.settings
        spidercls = crawler.spidercls
        self.prefix = key_prefix(s, spidercls.name)
        super().__init__(server, persist=True, queue_key=f"{self.prefix}:requests",
                         dupefilter_key=f"{self.prefix}:dupefilter")
        self.crawler = crawler
        self.stats = crawler.stats
        self.worker = worker_id(crawler)
        self.ttl = float(setting(s, "TDMGUARD_REDIS_WORKER_TTL"))
        self.idle_close = float(setting(s, "TDMGUARD_REDIS_IDLE_CLOSE"))
        self.queue_key = f"{self.prefix}:requests"
        self.dupefilter_key = f"{self.prefix}:dupefilter"
        self.workers_key = f"{self.prefix}:workers"
        self.inflight_key = f"{self.prefix}:inflight:{self.worker}"
        self._push = server.register_script(PUSH)
        self._pop = server.register_script(POP)
        self._recover = server.register_script(RECOVER)
        self._drained = server.register_script(DRAINED)
        self._leave = server.register_script(LEAVE)
        #: Requests this worker took: id(request) -> (request, entry).
        self._taken: dict[int, tuple[Request, str]] = {}
        #: Requests JSON cannot carry: kept here, by this worker only.
        self._local: deque[Request] = deque()
        #: Requests that could not be queued while Redis was unreachable.
        self._unpushed: deque[tuple[str, Request]] = deque()
        self._warned_at = 0.0
        self._drained_since: float | None = None
        self._beat: Any = None
        self._spider: Spider | None = None
        crawler.signals.connect(self._on_idle, signal=scrapy_signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        return cls(crawler, client_for(crawler.settings))

    # -- life cycle ---------------------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self._spider = self.spider = spider
        self._heartbeat()
        queued = self.server.zcard(self.queue_key)
        if queued:
            logger.info("Joining a crawl with %(n)d requests queued in Redis (%(key)s)",
                        {"n": queued, "key": self.queue_key})
        self._beat = create_looping_call(self._heartbeat)
        self._beat.start(min(1.0, self.ttl / 4), now=False)

    def close(self, reason: str) -> None:
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        import redis

        try:
            self._ack()
            cleared = self._leave(keys=[self.queue_key, self.workers_key, self.dupefilter_key],
                                  args=[self.prefix, self.worker,
                                        "1" if reason == "finished" else "0"])
        except redis.RedisError as exc:
            # Our in-flight list stays; another worker re-queues it once our
            # heartbeat lapses. Requests never queued are lost with this worker.
            logger.error("Could not leave the crawl in Redis (%(exc)s): %(n)d requests "
                         "not queued are lost", {"exc": exc, "n": len(self._unpushed)})
            return
        if cleared:
            logger.info("The crawl is finished: cleared the queue %(key)s",
                        {"key": self.queue_key})

    def _unreachable(self, exc: Exception) -> None:
        """Redis failed: count it, say so at most every 10 s; the worker keeps
        what it holds and tries again (nothing is sent unmetered meanwhile)."""
        self.stats.inc_value("tdmguard/redis/error")
        if time.monotonic() - self._warned_at > 10:
            self._warned_at = time.monotonic()
            logger.warning("Redis is not answering (%(exc)s): waiting for it",
                           {"exc": exc})

    def _heartbeat(self) -> None:
        import redis

        try:
            self._beat_once()
        except redis.RedisError as exc:  # a LoopingCall stops on an exception
            self._unreachable(exc)

    def _beat_once(self) -> None:
        self._announce(not self._idle())
        while self._unpushed:
            fp, request = self._unpushed[0]
            self._push_entry(fp, request)
            self._unpushed.popleft()
        self._ack()
        moved = self._recover(keys=[self.queue_key, self.workers_key], args=[self.prefix])
        if moved:
            self.stats.inc_value("tdmguard/redis/requeued", moved)
            logger.warning("Put %(n)d requests of a worker that stopped answering back "
                           "in the queue", {"n": moved})

    def _idle(self) -> bool:
        engine = self.crawler.engine
        try:
            return engine is not None and engine.spider_is_idle()
        except (RuntimeError, AttributeError):  # the engine is still opening
            return False

    def _announce(self, busy: bool) -> None:
        pipe = self.server.pipeline()
        pipe.set(f"{self.prefix}:worker:{self.worker}", "busy" if busy else "idle",
                 px=int(self.ttl * 1000))
        pipe.sadd(self.workers_key, self.worker)
        pipe.execute()

    def _ack(self) -> None:
        """Forget the requests Scrapy has finished with (their links are queued)."""
        if not self._taken:
            return
        busy = compat.requests_in_progress(self.crawler)
        done = [key for key, (req, _e) in self._taken.items() if req not in busy]
        if done:
            entries = [self._taken.pop(key)[1] for key in done]
            self.server.hdel(self.inflight_key, *entries)

    # -- the scheduler interface ---------------------------------------------------------

    def __len__(self) -> int:
        import redis

        local = len(self._local) + len(self._unpushed)
        try:
            return int(self.server.zcard(self.queue_key)) + local
        except redis.RedisError as exc:
            self._unreachable(exc)
            return local + 1  # unknown: never "finished" because Redis is down

    def has_pending_requests(self) -> bool:
        return len(self) > 0

    def enqueue_request(self, request: Request) -> bool:
        fp = ""
        if not request.dont_filter or request.meta.get("is_start_request"):
            # Every worker seeds the same start URLs: queued once.
            fp = self.crawler.request_fingerprinter.fingerprint(request).hex()
        try:
            entry = encode_request(request, self._spider)
        except Unshareable as exc:
            logger.warning("Keeping %(request)s in this worker: %(why)s",
                           {"request": request, "why": exc})
            self.stats.inc_value("tdmguard/redis/local")
            self._local.append(request)
            return True
        import redis

        try:
            return self._push_entry(fp, request, entry)
        except redis.RedisError as exc:
            self._unreachable(exc)
            self._unpushed.append((fp, request))  # queued when Redis answers again
            return True

    def _push_entry(self, fp: str, request: Request, entry: str | None = None) -> bool:
        if entry is None:
            entry = encode_request(request, self._spider)
        if not self._push(keys=[self.queue_key, self.dupefilter_key],
                          args=[fp, -request.priority, entry]):
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        import redis

        if self._local:
            return self._local.popleft()
        while True:
            try:
                entry = self._pop(keys=[self.queue_key, self.inflight_key])
            except redis.RedisError as exc:
                self._unreachable(exc)
                return None
            if entry is None:
                return None
            text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
            try:
                request = decode_request(text, self._spider)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                logger.error("Dropped a queue entry that is not a usable request: %(why)s",
                             {"why": exc})
                self.stats.inc_value("tdmguard/redis/rejected")
                self.server.hdel(self.inflight_key, entry)
                continue
            self._taken[id(request)] = (request, text)
            self._drained_since = None
            self.stats.inc_value("scheduler/dequeued/redis")
            return request

    def _on_idle(self, spider: Spider | None = None) -> None:
        """This worker has nothing to do: wait for the others, then close."""
        import redis

        try:
            self._ack()
            self._announce(busy=False)
            drained = self._drained(keys=[self.queue_key, self.workers_key],
                                    args=[self.prefix]) and not self._unpushed
        except redis.RedisError as exc:
            self._unreachable(exc)
            drained = False
        now = time.monotonic()
        if not drained:
            self._drained_since = None
        elif self._drained_since is None:
            self._drained_since = now
        if self._drained_since is not None and now - self._drained_since >= self.idle_close:
            return  # everyone is done: Scrapy closes the spider ("finished")
        compat.wake_engine(self.crawler, 0.2)
        raise DontCloseSpider

    # scrapy-redis's queue object and dupe filter are not used: our scripts do it.
    def flush(self) -> None:
        self.server.delete(self.queue_key, self.dupefilter_key)


def seed(url: str, key: str, requests: list[Request], spider: Spider | None = None,
         fingerprinter: Any = None) -> int:
    """Queue *requests* in the crawl whose key prefix is *key* (deduplicated);
    the number newly queued."""
    if fingerprinter is None:
        from scrapy.utils.request import RequestFingerprinter

        fingerprinter = RequestFingerprinter()
    server = connect(url)
    push = server.register_script(PUSH)
    n = 0
    for request in requests:
        fp = fingerprinter.fingerprint(request).hex()
        n += int(push(keys=[f"{key}:requests", f"{key}:dupefilter"],
                      args=[fp, -request.priority, encode_request(request, spider)]))
    return n
