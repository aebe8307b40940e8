"""The gateway's records, tokens, runs and request log in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update

from clearway.store.base import Doc
from clearway.store.gateway import GatewayLogFilter, GatewayStore
from clearway.store.sql.database import Database
from clearway.store.sql.schema import gateway_log, gateway_records, gateway_runs, gateway_tokens
from clearway.timeutil import as_utc, iso

_r = gateway_records.c
_t = gateway_tokens.c
_l = gateway_log.c
UNKNOWN = "unknown"


class SqlGatewayStore(GatewayStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    # records
    def add_record(self, record: Doc) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(gateway_records).values(**record, health=UNKNOWN))

    def record(self, org_id: str, kind: str, record_id: str) -> Doc | None:
        stmt = select(gateway_records).where(
            _r.id == record_id, _r.org_id == org_id, _r.kind == kind, _r.revoked.is_(None)
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        return _record(row) if row else None

    def records(self, org_id: str, kind: str, owner_id: str | None, parent: str | None = None) -> list[Doc]:
        stmt = select(gateway_records).where(_r.org_id == org_id, _r.kind == kind, _r.revoked.is_(None))
        if owner_id is not None:
            stmt = stmt.where(_r.owner_id == owner_id)
        if parent is not None:
            stmt = stmt.where(_r.parent == parent)
        with self.db.read() as conn:
            return [_record(row) for row in conn.execute(stmt.order_by(_r.created, _r.id)).mappings()]

    def revoke_record(self, org_id: str, kind: str, record_id: str, owner_id: str | None, at: datetime) -> bool:
        where = [_r.id == record_id, _r.org_id == org_id, _r.kind == kind, _r.revoked.is_(None)]
        if owner_id is not None:
            where.append(_r.owner_id == owner_id)
        with self.db.transaction() as conn:
            if not conn.execute(update(gateway_records).where(*where).values(revoked=at)).rowcount:
                return False
            children = [_r.parent == record_id, _r.org_id == org_id, _r.revoked.is_(None)]
            conn.execute(update(gateway_records).where(*children).values(revoked=at))
        return True

    def set_health(self, org_id: str, record_id: str, health: str, reason: str | None, at: datetime) -> bool:
        stmt = (
            update(gateway_records)
            .where(_r.id == record_id, _r.org_id == org_id, _r.health != health)
            .values(health=health, health_reason=(reason or None) and reason[:500], health_changed=at)
        )
        with self.db.transaction() as conn:
            return bool(conn.execute(stmt).rowcount)

    def counts(self, org_id: str) -> dict[str, int]:
        stmt = select(_r.kind, func.count()).where(_r.org_id == org_id, _r.revoked.is_(None)).group_by(_r.kind)
        with self.db.read() as conn:
            return {kind: int(n) for kind, n in conn.execute(stmt)}

    # tokens
    def add_token(self, token: Doc) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(gateway_tokens).values(**token))

    def token_by_digest(self, digest: str) -> Doc | None:
        with self.db.read() as conn:
            row = conn.execute(select(gateway_tokens).where(_t.digest == digest)).mappings().first()
        return _times(dict(row)) if row else None

    def tokens(self, org_id: str, user_id: str | None) -> list[Doc]:
        columns = [c for c in gateway_tokens.c if c.name != "digest"]
        stmt = select(*columns).where(_t.org_id == org_id)
        if user_id is not None:
            stmt = stmt.where(_t.user_id == user_id)
        with self.db.read() as conn:
            return [_times(dict(row)) for row in conn.execute(stmt.order_by(_t.created, _t.id)).mappings()]

    def revoke_token(self, org_id: str, token_id: str, user_id: str | None, at: datetime) -> bool:
        where = [_t.id == token_id, _t.org_id == org_id, _t.revoked.is_(None)]
        if user_id is not None:
            where.append(_t.user_id == user_id)
        with self.db.transaction() as conn:
            return bool(conn.execute(update(gateway_tokens).where(*where).values(revoked=at)).rowcount)

    # runs
    def add_run(self, run: Doc) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(gateway_runs).values(**run))

    def run(self, org_id: str, run_id: str) -> Doc | None:
        c = gateway_runs.c
        with self.db.read() as conn:
            row = conn.execute(select(gateway_runs).where(c.id == run_id, c.org_id == org_id)).mappings().first()
        return _times(dict(row)) if row else None

    def runs_since(self, token_id: str, since: datetime) -> int:
        c = gateway_runs.c
        stmt = select(func.count()).select_from(gateway_runs).where(c.token_id == token_id, c.created >= since)
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # request log
    def add_log(self, rows: list[Doc]) -> None:
        if rows:
            with self.db.transaction() as conn:
                conn.execute(insert(gateway_log), rows)

    def log(self, where: GatewayLogFilter) -> tuple[list[Doc], int]:
        conditions: list[Any] = [_l.org_id == where.org_id]
        for column, value in (
            (_l.kind, where.kind),
            (_l.record_id, where.record_id),
            (_l.caller_id, where.caller_id),
            (_l.status, where.status),
        ):
            if value is not None:
                conditions.append(column == value)
        if where.since is not None:
            conditions.append(_l.at >= where.since)
        if where.until is not None:
            conditions.append(_l.at < where.until)
        page = (
            select(gateway_log)
            .where(*conditions)
            .order_by(_l.at.desc(), _l.id.desc())
            .offset(where.page * where.page_size)
            .limit(where.page_size)
        )
        total = select(func.count()).select_from(gateway_log).where(*conditions)
        with self.db.read() as conn:
            rows = [_times(dict(row)) for row in conn.execute(page).mappings()]
            count = int(conn.execute(total).scalar_one())
        for row in rows:
            row.pop("minute", None)
            row.pop("org_id", None)
        return rows, count

    def log_minutes(self, org_id: str, since_minute: int) -> list[Doc]:
        errors = func.sum(case((_l.status >= 400, 1), else_=0))
        stmt = (
            select(_l.minute, _l.kind, _l.record_id, _l.endpoint, func.count().label("calls"), errors.label("errors"))
            .where(_l.org_id == org_id, _l.minute >= since_minute)
            .group_by(_l.minute, _l.kind, _l.record_id, _l.endpoint)
            .order_by(_l.minute)
        )
        with self.db.read() as conn:
            return [
                {**dict(row), "calls": int(row.calls), "errors": int(row.errors or 0)}
                for row in conn.execute(stmt).mappings()
            ]

    def prune_log(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(delete(gateway_log).where(_l.at < before)).rowcount


def _record(row: Any) -> Doc:
    record = _times(dict(row))
    record.update(record.pop("doc") or {})
    return record


def _times(row: Doc) -> Doc:
    """Timestamps as ISO-8601 text in UTC (SQLite gives them back without their zone)."""
    return {k: iso(as_utc(v)) if isinstance(v, datetime) else v for k, v in row.items()}
