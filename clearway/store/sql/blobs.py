"""Ownership records of stored files in SQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from clearway.domain.access import Scope
from clearway.store.base import BlobRecord, BlobRecordStore, Claim
from clearway.store.sql.database import Database
from clearway.store.sql.schema import blobs
from clearway.timeutil import utcnow


class SqlBlobRecordStore(BlobRecordStore):
    def __init__(self, db: Database, tasks_in_scope: Callable[[Scope], Select]) -> None:
        self.db = db
        self.tasks_in_scope = tasks_in_scope  # the ids of the tasks a scope covers, as a subquery

    def get(self, scope: Scope, path: str) -> BlobRecord | None:
        visible = or_(_owned(scope), blobs.c.task.in_(self.tasks_in_scope(scope)))
        stmt = select(blobs).where(blobs.c.path == path, visible)
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return BlobRecord(
            path=row["path"],
            org_id=row["org_id"],
            owner_id=row["owner_id"],
            size=row["size"],
            content_type=row["content_type"],
            task=row["task"],
        )

    def claim(self, scope: Scope, org_id: str, owner_id: str, path: str, task: str | None = None) -> Claim:
        now = utcnow()
        values = {"path": path, "org_id": org_id, "owner_id": owner_id, "task": task, "created": now, "updated": now}
        # Both dialects have INSERT ... ON CONFLICT DO NOTHING, but SQLAlchemy spells it per dialect.
        dialect_insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        stmt = dialect_insert(blobs).values(**values).on_conflict_do_nothing(index_elements=["path"])
        with self.db.transaction() as conn:
            if conn.execute(stmt).rowcount == 1:
                return Claim.CREATED
            row = conn.execute(select(blobs.c.org_id, blobs.c.owner_id).where(blobs.c.path == path)).first()
        if row is not None and row.org_id == scope.org_id and scope.allows_owner(row.owner_id):
            return Claim.EXISTING
        return Claim.TAKEN

    def finish(self, scope: Scope, path: str, size: int, content_type: str | None) -> None:
        stmt = (
            update(blobs)
            .where(blobs.c.path == path, _owned(scope))
            .values(size=size, content_type=content_type, updated=utcnow())
        )
        with self.db.transaction() as conn:
            conn.execute(stmt)

    def delete(self, scope: Scope, path: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(delete(blobs).where(blobs.c.path == path, _owned(scope))).rowcount > 0


def _owned(scope: Scope) -> ColumnElement[bool]:
    if scope.owner_ids is None:
        return blobs.c.org_id == scope.org_id
    return (blobs.c.org_id == scope.org_id) & blobs.c.owner_id.in_(sorted(scope.owner_ids))
