"""Task events in SQL: scalars and console lines in narrow tables (they are most of the volume), the rest whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, tuple_

from clearway.store.base import Doc, EventStore, ScalarPoint
from clearway.store.sql.database import Database
from clearway.store.sql.schema import log_events, other_events, scalar_events

_TABLES = {"scalar": scalar_events, "log": log_events, "other": other_events}


class SqlEventStore(EventStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, scalars: list[tuple[Any, ...]], logs: list[tuple[Any, ...]], others: list[Doc]) -> None:
        with self.db.transaction() as conn:
            for table, rows in ((scalar_events, scalars), (log_events, logs)):
                if rows:
                    _insert_many(conn, table, rows)
            if others:
                conn.execute(insert(other_events), others)  # its JSON column needs SQLAlchemy's serialisation

    def scalars(self, task_id: str) -> Iterator[ScalarPoint]:
        c = scalar_events.c
        stmt = (
            select(c.metric, c.variant, c.iter, c.value, c.timestamp)
            .where(c.task == task_id)
            .order_by(c.metric, c.variant, c.iter, c.id)
        )
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                yield ScalarPoint(*row)

    def scalar_page(self, task_id: str, after_id: int, limit: int, descending: bool) -> list[Doc]:
        c = scalar_events.c
        stmt = select(c.id, c.metric, c.variant, c.iter, c.value, c.timestamp).where(c.task == task_id)
        stmt = stmt.where(c.id < after_id if descending and after_id else c.id > after_id)
        stmt = stmt.order_by(c.id.desc() if descending else c.id).limit(limit)
        with self.db.read() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]

    def count(self, task_id: str, kind: str, event_type: str | None = None) -> int:
        table = _TABLES[kind]
        stmt = select(func.count()).select_from(table).where(table.c.task == task_id)
        if event_type is not None and kind == "other":
            stmt = stmt.where(table.c.type == event_type)
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def log_page(
        self,
        task_id: str,
        *,
        before: tuple[int, int] | None,
        after: tuple[int, int] | None,
        limit: int,
        descending: bool,
    ) -> list[tuple[int, int, str, str, str]]:
        c = log_events.c
        stmt = select(c.id, c.timestamp, c.level, c.worker, c.msg).where(c.task == task_id)
        # Row values, not "ts < ? OR (ts = ? AND id < ?)": both databases then seek in the (task, timestamp, id)
        # index to the position, instead of reading every line of the task before it on every page.
        if before is not None:
            stmt = stmt.where(tuple_(c.timestamp, c.id) < tuple_(*before))
        if after is not None:
            stmt = stmt.where(tuple_(c.timestamp, c.id) > tuple_(*after))
        order = (c.timestamp.desc(), c.id.desc()) if descending else (c.timestamp, c.id)
        stmt = stmt.order_by(*order).limit(limit)
        with self.db.read() as conn:
            return [tuple(row) for row in conn.execute(stmt)]  # type: ignore[misc]

    def other_page(
        self,
        task_id: str,
        event_types: Iterable[str],
        after_id: int,
        limit: int,
        descending: bool,
        metric: str | None = None,
    ) -> list[Doc]:
        c = other_events.c
        stmt = select(c.id, c.doc).where(c.task == task_id, c.type.in_(list(event_types)))
        if metric is not None:
            stmt = stmt.where(c.metric == metric)
        stmt = stmt.where(c.id < after_id if descending and after_id else c.id > after_id)
        stmt = stmt.order_by(c.id.desc() if descending else c.id).limit(limit)
        with self.db.read() as conn:
            return [{"id": row.id, **row.doc} for row in conn.execute(stmt)]

    def last_iterations(self, task_id: str, event_type: str, iters: int) -> list[Doc]:
        c = other_events.c
        stmt = (
            select(c.metric, c.variant, c.iter, c.doc)
            .where(c.task == task_id, c.type == event_type)
            .order_by(c.metric, c.variant, c.iter.desc(), c.id)
        )
        kept: dict[tuple[str, str], list[int]] = {}
        out: list[Doc] = []
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                seen = kept.setdefault((row.metric, row.variant), [])
                if row.iter not in seen:
                    if len(seen) >= iters:
                        continue
                    seen.append(row.iter)
                out.append(row.doc)
        return out

    def delete_task_events(self, task_id: str) -> int:
        with self.db.transaction() as conn:
            return sum(conn.execute(delete(t).where(t.c.task == task_id)).rowcount for t in _TABLES.values())


def _insert_many(conn: Connection, table: Table, values: list[tuple[Any, ...]]) -> None:
    """The driver's own bulk path for rows in the table's column order (without ``id``): scalars and console lines
    are most of the volume, and SQLAlchemy's per-row parameter processing would cost as much as the insert itself."""
    columns = [c.name for c in table.columns if c.name != "id"]
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(c) for c in columns)})"
    if conn.dialect.name == "postgresql":
        # COPY: about 2.5 times the rows per second of psycopg's pipelined executemany. It goes to the driver's
        # connection, so SQLAlchemy must know a transaction is open, or it would not commit it.
        if not conn.in_transaction():
            conn.begin()
        with conn.connection.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    else:  # SQLite: executemany in the open transaction
        conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({', '.join(['?'] * len(columns))})", values)
