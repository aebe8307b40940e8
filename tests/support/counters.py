"""The shared counters of a test: in a fresh database of the suite's kind, or in the local Redis under a fresh
prefix (skipped when no Redis answers)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clearway.store import migrations
from clearway.store.base import SlidingCounters
from clearway.store.redis_sliding_counters import RedisSlidingCounters
from clearway.store.sql.database import Database
from clearway.store.sql.sliding_counters import SqlSlidingCounters
from tests.support.databases import fresh_database

REDIS_URL = os.environ.get("CLEARWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def shared_counters(kind: str, tmp_path: Path) -> Iterator[SlidingCounters]:
    if kind == "redis":
        counters = RedisSlidingCounters(REDIS_URL, prefix=f"clearway-test-{uuid.uuid4().hex[:8]}:")
        try:
            counters.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to reach it
            pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
        try:
            yield counters
        finally:
            for key in counters.client.scan_iter(counters.prefix + "*"):
                counters.client.delete(key)
            counters.client.close()
        return
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url)
        db = Database(url)
        try:
            yield SqlSlidingCounters(db)
        finally:
            db.dispose()
