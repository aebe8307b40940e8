"""Queue entries and queue metrics in SQL: taking the next task is one ``DELETE ... RETURNING`` of the first row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, literal, select, update

from clearway.store.base import Doc, QueueEntry, QueueEntryStore
from clearway.store.sql.database import Database
from clearway.store.sql.schema import Timestamp, queue_entries, queue_metrics

_e = queue_entries.c
_ORDER = (_e.position, _e.added, _e.task)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives timestamps back without a zone; every one we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entry(row: Row[Any]) -> QueueEntry:
    return QueueEntry(queue=row.queue, task=row.task, added=as_utc(row.added))


class SqlQueueEntryStore(QueueEntryStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def push(self, queue_id: str, task_id: str, at: datetime) -> tuple[QueueEntry, str | None]:
        with self.db.transaction() as conn:
            previous = conn.execute(delete(queue_entries).where(_e.task == task_id).returning(_e.queue)).scalar()
            last = conn.execute(select(func.max(_e.position)).where(_e.queue == queue_id)).scalar()
            position = 0 if last is None else last + 1
            conn.execute(insert(queue_entries).values(task=task_id, queue=queue_id, position=position, added=at))
        return QueueEntry(queue=queue_id, task=task_id, added=at), previous

    def pop(self, queue_id: str) -> QueueEntry | None:
        first = select(_e.task).where(_e.queue == queue_id).order_by(*_ORDER).limit(1)
        if not self.db.is_sqlite:
            # PostgreSQL: skip entries another transaction is taking right now, so concurrent agents never wait
            # on each other and never get the same entry. On SQLite the single writer already serialises this.
            first = first.with_for_update(skip_locked=True)
        stmt = delete(queue_entries).where(_e.task == first.scalar_subquery()).returning(_e.task, _e.queue, _e.added)
        with self.db.transaction() as conn:
            row = conn.execute(stmt).first()
        return _entry(row) if row is not None else None

    def remove(self, task_id: str) -> QueueEntry | None:
        stmt = delete(queue_entries).where(_e.task == task_id).returning(_e.task, _e.queue, _e.added)
        with self.db.transaction() as conn:
            row = conn.execute(stmt).first()
        return _entry(row) if row is not None else None

    def find(self, task_id: str) -> QueueEntry | None:
        with self.db.read() as conn:
            row = conn.execute(select(_e.task, _e.queue, _e.added).where(_e.task == task_id)).first()
        return _entry(row) if row is not None else None

    def entries(self, queue_ids: Iterable[str], limit: int | None = None) -> dict[str, list[QueueEntry]]:
        ids = list(dict.fromkeys(queue_ids))
        out: dict[str, list[QueueEntry]] = {queue_id: [] for queue_id in ids}
        if not ids:
            return out
        stmt = select(_e.task, _e.queue, _e.added)
        if limit is None:
            stmt = stmt.where(_e.queue.in_(ids)).order_by(_e.queue, *_ORDER)
        else:
            ranked = select(
                _e.task, _e.queue, _e.added, func.row_number().over(partition_by=_e.queue, order_by=_ORDER).label("n")
            ).where(_e.queue.in_(ids))
            sub = ranked.subquery()
            stmt = select(sub.c.task, sub.c.queue, sub.c.added).where(sub.c.n <= limit).order_by(sub.c.queue, sub.c.n)
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                out[row.queue].append(_entry(row))
        return out

    def counts(self, queue_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(queue_ids))
        out = dict.fromkeys(ids, 0)
        if not ids:
            return out
        stmt = select(_e.queue, func.count()).where(_e.queue.in_(ids)).group_by(_e.queue)
        with self.db.read() as conn:
            out.update({queue: int(n) for queue, n in conn.execute(stmt)})
        return out

    def reorder(self, queue_id: str, task_ids: list[str]) -> None:
        with self.db.transaction() as conn:
            for position, task_id in enumerate(task_ids):
                conn.execute(
                    update(queue_entries).where(_e.queue == queue_id, _e.task == task_id).values(position=position)
                )

    def record_metrics(self, queue_id: str, at: datetime) -> None:
        # One INSERT ... SELECT: the length and mean waiting time are computed where the entries are.
        wait = func.coalesce(at.timestamp() - func.avg(self._epoch(_e.added)), 0.0)
        sample = select(literal(queue_id), literal(at, Timestamp), func.count(), wait).where(_e.queue == queue_id)
        columns = ["queue", "timestamp", "length", "avg_wait_sec"]
        with self.db.transaction() as conn:
            conn.execute(insert(queue_metrics).from_select(columns, sample))

    def metrics(self, queue_ids: Iterable[str], since: datetime, until: datetime) -> list[Doc]:
        m = queue_metrics.c
        stmt = (
            select(m.queue, m.timestamp, m.length, m.avg_wait_sec)
            .where(m.queue.in_(list(queue_ids)), m.timestamp >= since, m.timestamp <= until)
            .order_by(m.timestamp, m.id)
        )
        with self.db.read() as conn:
            return [{**row._asdict(), "timestamp": as_utc(row.timestamp)} for row in conn.execute(stmt)]

    def prune_metrics(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(delete(queue_metrics).where(queue_metrics.c.timestamp < before)).rowcount

    def _epoch(self, column: Any) -> ColumnElement[Any]:
        # Seconds since the epoch of a timestamp column: the dialects spell it differently.
        if self.db.is_sqlite:
            return (func.julianday(column) - 2440587.5) * 86400.0
        return func.extract("epoch", column)
