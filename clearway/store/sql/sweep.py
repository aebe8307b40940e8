"""Cross-organisation reads for the watchdog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select

from clearway.store.base import SweepStore
from clearway.store.sql.database import Database
from clearway.store.sql.schema import queue_entries, queues, tasks

_t = tasks.c


class SqlSweepStore(SweepStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def stale_tasks(self, status: str, before: datetime, limit: int) -> list[tuple[str, str]]:
        stmt = select(_t.org_id, _t.id).where(_t.status == status, _t.last_update < before).limit(limit)
        with self.db.read() as conn:
            return [(row.org_id, row.id) for row in conn.execute(stmt)]

    def taken_tasks(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        waiting = exists().where(queue_entries.c.task == _t.id)
        stmt = select(_t.org_id, _t.id).where(_t.status == "queued", _t.last_update < before, ~waiting).limit(limit)
        with self.db.read() as conn:
            return [(row.org_id, row.id) for row in conn.execute(stmt)]

    def waiting_queues(self, before: datetime, limit: int) -> list[tuple[str, str, int, datetime]]:
        e = queue_entries.c
        stmt = (
            select(queues.c.org_id, e.queue, func.count(), func.min(e.added))
            .join(queues, queues.c.id == e.queue)
            .group_by(queues.c.org_id, e.queue)
            .having(func.min(e.added) < before)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [(row[0], row[1], int(row[2]), row[3]) for row in conn.execute(stmt)]
