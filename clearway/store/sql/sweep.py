"""Cross-organisation reads for the watchdog and the metrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select

from clearway.store.base import QueueBacklog, SweepStore
from clearway.store.sql.database import Database
from clearway.store.sql.queues import as_utc
from clearway.store.sql.schema import organizations, queue_entries, queues, tasks, workers
from clearway.timeutil import utcnow

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

    def queue_backlog(self) -> list[QueueBacklog]:
        e, q, o = queue_entries.c, queues.c, organizations.c
        stmt = (
            select(o.name.label("org"), q.name.label("queue"), func.count(e.task), func.min(e.added))
            .select_from(queues.join(organizations, o.id == q.org_id).outerjoin(queue_entries, e.queue == q.id))
            .group_by(o.name, q.name)
        )
        now = utcnow()
        with self.db.read() as conn:
            return [
                QueueBacklog(org, queue, length, (now - as_utc(first)).total_seconds() if first else 0.0)
                for org, queue, length, first in conn.execute(stmt)
            ]

    def live_workers(self) -> int:
        stmt = select(func.count()).select_from(workers).where(workers.c.expires > utcnow())
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())
