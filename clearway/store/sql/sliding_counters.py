"""Sliding-window counters in the database: one row per event, deleted by the watchdog once its window has passed."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from clearway.store.base import SlidingCounters
from clearway.store.sql.database import Database
from clearway.store.sql.schema import rate_events

_c = rate_events.c


class SqlSlidingCounters(SlidingCounters):
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, key: str, now: float, window_sec: float) -> int:
        with self.db.transaction() as conn:
            conn.execute(insert(rate_events).values(key=key, at=now, expires=now + window_sec))
            return self._count(conn, key, now, window_sec)

    def count(self, key: str, now: float, window_sec: float) -> int:
        with self.db.read() as conn:
            return self._count(conn, key, now, window_sec)

    def clear(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(delete(rate_events).where(_c.key == key))

    def prune(self, now: float) -> int:
        with self.db.transaction() as conn:
            return conn.execute(delete(rate_events).where(_c.expires < now)).rowcount

    @staticmethod
    def _count(conn, key: str, now: float, window_sec: float) -> int:  # type: ignore[no-untyped-def]
        stmt = select(func.count()).select_from(rate_events).where(_c.key == key, _c.at > now - window_sec)
        return int(conn.execute(stmt).scalar_one())
