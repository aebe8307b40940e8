"""Client address allowlists in SQL."""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, or_, select

from clearway.store.base import AllowlistStore, Doc
from clearway.store.sql.database import Database
from clearway.store.sql.schema import ip_allowlists


class SqlAllowlistStore(AllowlistStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def rules(self, org_id: str, role: str, user_id: str) -> list[tuple[str, str]]:
        c = ip_allowlists.c
        stmt = select(c.level, c.cidr).where(
            c.org_id == org_id,
            or_(
                c.level == "org",
                and_(c.level == "role", c.subject == role),
                and_(c.level == "user", c.subject == user_id),
            ),
        )
        with self.db.read() as conn:
            return [(row.level, row.cidr) for row in conn.execute(stmt)]

    def list(self, org_id: str) -> list[Doc]:
        c = ip_allowlists.c
        stmt = select(c.level, c.subject, c.cidr).where(c.org_id == org_id).order_by(c.level, c.subject, c.id)
        with self.db.read() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]

    def replace(self, org_id: str, level: str, subject: str, cidrs: list[str]) -> None:
        c = ip_allowlists.c
        with self.db.transaction() as conn:
            conn.execute(delete(ip_allowlists).where(c.org_id == org_id, c.level == level, c.subject == subject))
            if cidrs:
                rows = [{"org_id": org_id, "level": level, "subject": subject, "cidr": cidr} for cidr in cidrs]
                conn.execute(insert(ip_allowlists), rows)
