"""Workers and their statistics history in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clearway.domain.access import Scope
from clearway.store.base import Doc, WorkerStore
from clearway.store.sql.database import Database
from clearway.store.sql.queues import as_utc
from clearway.store.sql.schema import worker_stats, workers

_w = workers.c
_s = worker_stats.c
_SUMMARY = ("cpu_usage", "memory_used", "memory_free", "gpu_usage", "gpu_memory_used", "gpu_memory_free")


class SqlWorkerStore(WorkerStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, scope: Scope, worker_id: str) -> Doc | None:
        with self.db.read() as conn:
            return conn.execute(select(_w.doc).where(_w.id == worker_id, *_scope(scope))).scalar_one_or_none()

    def put(self, org_id: str, owner_id: str, doc: Doc, *, last_seen: datetime, expires: datetime) -> None:
        values = {"last_seen": last_seen, "expires": expires, "task": doc.get("task") or None, "doc": doc}
        # An upsert: the dialects each have their own ON CONFLICT spelling.
        dialect_insert = sqlite_insert if self.db.is_sqlite else pg_insert
        stmt = dialect_insert(workers).values(org_id=org_id, id=doc["id"], owner_id=owner_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["org_id", "id"], set_={"owner_id": owner_id, **values})
        with self.db.transaction() as conn:
            conn.execute(stmt)

    def list(self, scope: Scope, alive_at: datetime | None = None) -> list[Doc]:
        stmt = select(_w.doc).where(*_scope(scope)).order_by(_w.id)
        if alive_at is not None:
            stmt = stmt.where(_w.expires > alive_at)
        with self.db.read() as conn:
            return list(conn.execute(stmt).scalars())

    def delete(self, scope: Scope, worker_id: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(delete(workers).where(_w.id == worker_id, *_scope(scope))).rowcount > 0

    def expired(self, now: datetime, limit: int) -> list[tuple[str, Doc]]:
        stmt = select(_w.org_id, _w.doc).where(_w.expires <= now).order_by(_w.expires).limit(limit)
        with self.db.read() as conn:
            return [(row.org_id, row.doc) for row in conn.execute(stmt)]

    def add_stats(self, org_id: str, row: Doc) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(worker_stats).values(org_id=org_id, **row))

    def stats(self, org_id: str, worker_ids: list[str] | None, since: datetime, until: datetime) -> list[Doc]:
        stmt = select(_s.worker, _s.timestamp, _s.task, *(_s[k] for k in _SUMMARY), _s.devices).where(
            _s.org_id == org_id, _s.timestamp >= since, _s.timestamp <= until
        )
        if worker_ids:
            stmt = stmt.where(_s.worker.in_(worker_ids))
        with self.db.read() as conn:
            rows = conn.execute(stmt.order_by(_s.timestamp, _s.id))
            return [{**row._asdict(), "timestamp": as_utc(row.timestamp)} for row in rows]

    def prune_stats(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(delete(worker_stats).where(_s.timestamp < before)).rowcount


def _scope(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[Any]] = [_w.org_id == scope.org_id]
    if scope.owner_ids is not None:
        conditions.append(_w.owner_id.in_(sorted(scope.owner_ids)))
    return conditions
