"""Records of stored files in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from clearway.store.base import BlobRecord, BlobRecordStore, Claim
from clearway.store.sql.database import Database
from clearway.store.sql.schema import blobs
from clearway.timeutil import utcnow

_b = blobs.c


class SqlBlobRecordStore(BlobRecordStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, org_id: str, namespace: str, path: str) -> BlobRecord | None:
        return self._one(_b.org_id == org_id, _b.namespace == namespace, _b.path == path)

    def first(self, org_id: str, path: str) -> BlobRecord | None:
        return self._one(_b.org_id == org_id, _b.path == path, order=(_b.created, _b.storage_key))

    def claim(self, record: BlobRecord) -> Claim:
        now = utcnow()
        values = {
            "storage_key": record.key,
            "org_id": record.org_id,
            "namespace": record.namespace,
            "path": record.path,
            "owner_id": record.owner_id,
            "task": record.task,
            "created": now,
            "updated": now,
        }
        # Both dialects have INSERT ... ON CONFLICT DO NOTHING, but SQLAlchemy spells it per dialect.
        dialect_insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        stmt = dialect_insert(blobs).values(**values).on_conflict_do_nothing()
        with self.db.transaction() as conn:
            return Claim.CREATED if conn.execute(stmt).rowcount == 1 else Claim.EXISTING

    def finish(self, key: str, owner_id: str, size: int, content_type: str | None) -> None:
        stmt = (
            update(blobs)
            .where(_b.storage_key == key)
            .values(owner_id=owner_id, size=size, content_type=content_type, updated=utcnow())
        )
        with self.db.transaction() as conn:
            conn.execute(stmt)

    def delete(self, key: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(delete(blobs).where(_b.storage_key == key)).rowcount > 0

    def _one(self, *where: Any, order: Any = None) -> BlobRecord | None:
        stmt = select(blobs).where(*where)
        if order is not None:
            stmt = stmt.order_by(*order)
        with self.db.read() as conn:
            row = conn.execute(stmt.limit(1)).mappings().first()
        if row is None:
            return None
        return BlobRecord(
            key=row["storage_key"],
            org_id=row["org_id"],
            namespace=row["namespace"],
            path=row["path"],
            owner_id=row["owner_id"],
            size=row["size"],
            content_type=row["content_type"],
            task=row["task"],
        )
