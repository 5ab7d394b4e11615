"""Redis for a distributed crawl: the settings, the client, each worker's id.

Shared by :mod:`~tdmguard.middlewares.redis_queue`,
:mod:`~tdmguard.middlewares.redis_politeness` and
:mod:`~tdmguard.middlewares.redis_documents` (``TDMGUARD_REDIS_URL``,
``TDMGUARD_REDIS_KEY``; ``REDIS_PARAMS`` for a password or TLS options).
"""

from __future__ import annotations

import os
import socket
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from tdmguard.middlewares import schema

if TYPE_CHECKING:
    from redis import Redis
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

__all__ = ["alive_key", "client_for", "connect", "key_prefix", "redis_url", "setting",
           "worker_id"]


def setting(settings: BaseSettings, name: str) -> Any:
    return schema.parse_value(name, settings.get(name, schema.DEFAULTS[name]))


def redis_url(settings: BaseSettings) -> str | None:
    url: str | None = setting(settings, "TDMGUARD_REDIS_URL")
    return url


def key_prefix(settings: BaseSettings, spider_name: str) -> str:
    template = setting(settings, "TDMGUARD_REDIS_KEY") or "tdmguard:%(spider)s"
    return template % {"spider": spider_name} if "%(spider)s" in template else template


_WORKERS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def worker_id(crawler: Crawler) -> str:
    """This worker's id (``host:pid:random``), the same for all its components."""
    if crawler not in _WORKERS:
        _WORKERS[crawler] = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    return _WORKERS[crawler]


def alive_key(settings: BaseSettings, spider_name: str, worker: str) -> str:
    """The key that exists while *worker* heart-beats."""
    return f"{key_prefix(settings, spider_name)}:worker:{worker}"


def connect(url: str, params: dict[str, Any] | None = None) -> Redis:
    """A client for *url* (with ``REDIS_PARAMS`` such as ``password``), checked
    with a PING (a one-line error if unreachable)."""
    import redis

    try:
        client: Redis = redis.Redis.from_url(
            url, **{"socket_timeout": 30, "socket_connect_timeout": 10, **(params or {})})
        client.ping()
    except (redis.RedisError, ValueError, TypeError) as exc:
        raise NotConfigured(f"TDMGUARD_REDIS_URL={url!r}: cannot use Redis there ({exc})"
                            ) from None
    return client


def client_for(settings: BaseSettings) -> Redis:
    """The crawl's Redis client (``TDMGUARD_REDIS_URL`` + ``REDIS_PARAMS``)."""
    url = redis_url(settings)
    if not url:
        raise NotConfigured("TDMGUARD_REDIS_URL is not set")
    return connect(url, dict(settings.getdict("REDIS_PARAMS")))
