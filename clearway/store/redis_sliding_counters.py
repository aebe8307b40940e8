"""Sliding-window counters in Redis (``CLEARWAY_REDIS_URL``): a sorted set per key, scored by time, that expires
with its window. Replicas share it without touching the database."""

from __future__ import annotations

import uuid
from typing import Any

from clearway.store.base import SlidingCounters

PREFIX = "clearway:count:"


class RedisSlidingCounters(SlidingCounters):
    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        import redis  # only when configured

        self.prefix = prefix
        self.client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def add(self, key: str, now: float, window_sec: float) -> int:
        name = self.prefix + key
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - window_sec)
            pipe.zadd(name, {f"{now!r}:{uuid.uuid4().hex[:8]}": now})
            pipe.zcount(name, f"({now - window_sec!r}", "+inf")
            pipe.expire(name, max(1, int(window_sec) + 1))
            return int(pipe.execute()[2])

    def count(self, key: str, now: float, window_sec: float) -> int:
        return int(self.client.zcount(self.prefix + key, f"({now - window_sec!r}", "+inf"))

    def clear(self, key: str) -> None:
        self.client.delete(self.prefix + key)
