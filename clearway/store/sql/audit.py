"""The audit log in SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from clearway.store.base import AuditFilter, AuditStore, Doc
from clearway.store.sql.database import Database
from clearway.store.sql.schema import audit_log
from clearway.timeutil import iso


class SqlAuditStore(AuditStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entry: Doc) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(audit_log).values(**entry))

    def query(self, where: AuditFilter) -> list[Doc]:
        c = audit_log.c
        stmt = select(audit_log).where(c.org_id == where.org_id if where.org_id is not None else c.org_id.is_(None))
        if where.action is not None:
            stmt = stmt.where(c.action == where.action)
        if where.actor_id is not None:
            stmt = stmt.where(c.actor_id == where.actor_id)
        if where.since is not None:
            stmt = stmt.where(c.at >= where.since)
        if where.until is not None:
            stmt = stmt.where(c.at < where.until)
        stmt = stmt.order_by(c.at.desc(), c.id.desc()).limit(where.page_size).offset(where.page * where.page_size)
        with self.db.read() as conn:
            return [{**row, "at": iso(_utc(row["at"]))} for row in conn.execute(stmt).mappings()]


def _utc(moment: datetime) -> datetime:
    """SQLite gives back the UTC time it was given, without its zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
