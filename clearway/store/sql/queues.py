"""Queue entries and queue metrics in SQL: taking the next task locks the first fitting row, then deletes it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    update,
)

from clearway.domain.scheduling.needs import UNSCHEDULABLE, Capacity, Needs
from clearway.store.base import Doc, Pick, QueueEntry, QueueEntryStore
from clearway.store.sql.database import Database
from clearway.store.sql.schema import Timestamp, queue_entries, queue_metrics

_e = queue_entries.c
_ORDER = (_e.position, _e.added, _e.task)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives timestamps back without a zone; every one we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entry(row: Row[Any]) -> QueueEntry:
    return QueueEntry(queue=row.queue, task=row.task, added=as_utc(row.added))


_DETAIL = (_e.task, _e.queue, _e.added, _e.owner_id, _e.gpus, _e.gpu_memory_gb, _e.memory_gb, _e.rank, _e.reason)


def _detailed(row: Row[Any]) -> QueueEntry:
    needs = Needs(row.gpus, row.gpu_memory_gb, row.memory_gb, -row.rank)
    return QueueEntry(row.queue, row.task, as_utc(row.added), row.owner_id, needs, row.reason)


def _fits(capacity: Capacity) -> ColumnElement[bool]:
    """The entries a worker with this capacity can run (see Capacity.fits, the same rule in Python)."""
    if not capacity.known:
        return and_(_e.gpus == 0, _e.gpu_memory_gb == 0, _e.memory_gb == 0)
    memory = _e.memory_gb == 0 if capacity.memory_gb is None else _e.memory_gb <= capacity.memory_gb
    # The k-th largest free GPU memory bounds what a task needing k GPUs may ask of each of them.
    gpus = or_(
        _e.gpus == 0,
        *(and_(_e.gpus == k, _e.gpu_memory_gb <= free) for k, free in enumerate(capacity.gpu_memory_gb, start=1)),
    )
    return and_(memory, gpus)


class SqlQueueEntryStore(QueueEntryStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def push(
        self, queue_id: str, task_id: str, at: datetime, owner_id: str, needs: Needs
    ) -> tuple[QueueEntry, str | None]:
        with self.db.transaction() as conn:
            previous = conn.execute(delete(queue_entries).where(_e.task == task_id).returning(_e.queue)).scalar()
            last = conn.execute(select(func.max(_e.position)).where(_e.queue == queue_id)).scalar()
            position = 0 if last is None else last + 1
            conn.execute(
                insert(queue_entries).values(
                    task=task_id,
                    queue=queue_id,
                    position=position,
                    added=at,
                    owner_id=owner_id,
                    gpus=needs.gpus,
                    gpu_memory_gb=needs.gpu_memory_gb,
                    memory_gb=needs.memory_gb,
                    rank=-needs.priority,
                )
            )
        return QueueEntry(queue=queue_id, task=task_id, added=at, owner=owner_id, needs=needs), previous

    def candidate(self, queue_id: str, pick: Pick) -> QueueEntry | None:
        stmt = select(*_DETAIL).where(_e.queue == queue_id, _fits(pick.capacity))
        if pick.owner is not None:
            stmt = stmt.where(_e.owner_id == pick.owner)
        if pick.excluded:
            stmt = stmt.where(_e.owner_id.not_in(sorted(pick.excluded)))
        for owner, most in sorted(pick.max_gpus.items()):
            if pick.owner is None or owner == pick.owner:
                stmt = stmt.where(or_(_e.owner_id != owner, _e.gpus <= most))
        order = (_e.rank, _e.position, _e.task) if pick.by_priority else _ORDER
        stmt = stmt.order_by(*order).limit(1)
        if not self.db.is_sqlite:
            # PostgreSQL: skip entries another transaction is taking right now, so concurrent agents never wait
            # on each other and never get the same entry. On SQLite the single writer already serialises this.
            stmt = stmt.with_for_update(skip_locked=True)
        with self.db.transaction() as conn:
            row = conn.execute(stmt).first()
        return _detailed(row) if row is not None else None

    def waiting_owners(self, queue_id: str) -> list[tuple[str, int]]:
        # A loose index scan (one index probe per owner) instead of reading every entry: both dialects run it.
        stmt = text(
            "WITH RECURSIVE o(owner) AS ("
            " SELECT min(owner_id) FROM queue_entries WHERE queue = :q"
            " UNION ALL"
            " SELECT (SELECT min(e.owner_id) FROM queue_entries e WHERE e.queue = :q AND e.owner_id > o.owner)"
            " FROM o WHERE o.owner IS NOT NULL)"
            " SELECT o.owner, (SELECT min(e.position) FROM queue_entries e WHERE e.queue = :q AND e.owner_id = o.owner)"
            " FROM o WHERE o.owner IS NOT NULL"
        )
        with self.db.read() as conn:
            return [(owner, int(first)) for owner, first in conn.execute(stmt, {"q": queue_id})]

    def waiting(self, queue_id: str, limit: int) -> list[QueueEntry]:
        stmt = select(*_DETAIL).where(_e.queue == queue_id).order_by(*_ORDER).limit(limit)
        with self.db.read() as conn:
            return [_detailed(row) for row in conn.execute(stmt)]

    def set_reason(
        self,
        queue_id: str,
        reason: str | None,
        *,
        owner: str | None = None,
        tasks: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[str]:
        changed = _e.reason.is_not(None) if reason is None else or_(_e.reason.is_(None), _e.reason != reason)
        stmt = select(_e.task).where(_e.queue == queue_id, changed)
        if owner is not None:
            stmt = stmt.where(_e.owner_id == owner)
        if tasks is not None:
            stmt = stmt.where(_e.task.in_(list(tasks)))
        stmt = stmt.order_by(*_ORDER).limit(limit)
        if not self.db.is_sqlite:
            # Entries other agents hold while they wait on this owner's quota rows are left alone (waiting for
            # them here would deadlock); their reason is noted by a later take.
            stmt = stmt.with_for_update(skip_locked=True)
        with self.db.transaction() as conn:
            ids = list(conn.execute(stmt).scalars())
            if ids:
                conn.execute(update(queue_entries).where(_e.task.in_(ids)).values(reason=reason))
        return ids

    def never_fitting(self, queue_id: str, capacities: list[Capacity], limit: int) -> list[QueueEntry]:
        declared = or_(_e.gpus > 0, _e.gpu_memory_gb > 0, _e.memory_gb > 0)
        fits_one = or_(false(), *(_fits(c) for c in capacities))
        unnoted = or_(_e.reason.is_(None), not_(_e.reason.startswith(UNSCHEDULABLE)))
        stmt = select(*_DETAIL).where(_e.queue == queue_id, declared, not_(fits_one), unnoted)
        with self.db.read() as conn:
            return [_detailed(row) for row in conn.execute(stmt.order_by(*_ORDER).limit(limit))]

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

    def any_waiting(self, queue_id: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(_e.task).where(_e.queue == queue_id).limit(1)).first() is not None

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
