"""Web UI sessions in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update

from clearway.store.sql.database import Database
from clearway.store.sql.schema import web_sessions
from clearway.store.web_sessions import WebSession, WebSessionStore


class SqlWebSessionStore(WebSessionStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, token_hash: str, session: WebSession, now: datetime) -> None:
        row = {
            "token_hash": token_hash,
            "user_id": session.user_id,
            "csrf": session.csrf,
            "password": session.password,
            "created": now,
            "expires": session.expires,
        }
        with self.db.transaction() as conn:
            conn.execute(insert(web_sessions), row)

    def find(self, token_hash: str, now: datetime) -> WebSession | None:
        c = web_sessions.c
        stmt = select(c.user_id, c.csrf, c.expires, c.password).where(
            c.token_hash == token_hash, c.revoked.is_(False), c.expires > now
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).first()
        return WebSession(row.user_id, row.csrf, row.expires, row.password) if row else None

    def revoke(self, token_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.token_hash == token_hash).values(revoked=True))

    def prune(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(delete(web_sessions).where(web_sessions.c.expires < before)).rowcount
