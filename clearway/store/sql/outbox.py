"""The outbox of domain events in SQL, and the conditions announced once.

Events are written by any transaction; :meth:`SqlOutboxStore.sequence` later gives them stream positions. The
sequencing transaction locks the one row of ``notify_sequence`` to take its positions, so that two of them (two
replicas) commit their positions in increasing order: a stream reader that has seen position N never sees a
smaller one appear later. Which rows each takes is decided with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (one
writer at a time on SQLite).

Wake-ups: listeners of :attr:`SqlOutboxStore.on_added` run in this process after a transaction that added events
commits; on PostgreSQL the transaction also sends ``NOTIFY clearway_outbox`` to the other processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clearway.store.notifications import NewEvent, OutboxEvent, OutboxStore
from clearway.store.sql.database import Database
from clearway.store.sql.schema import notify_conditions, notify_deliveries, notify_outbox, notify_sequence

OUTBOX_CHANNEL = "clearway_outbox"  # PostgreSQL NOTIFY channel: events were added
STREAM_CHANNEL = "clearway_stream"  # PostgreSQL NOTIFY channel: events were sequenced


class SqlOutboxStore(OutboxStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_added: list[Callable[[], None]] = []  # run after a transaction that added events commits
        self.on_sequenced: list[Callable[[], None]] = []  # run after a transaction that sequenced events commits

    def add(self, event: NewEvent) -> None:
        with self.db.transaction() as conn:
            conn.execute(insert(notify_outbox).values(**_columns(event)))
            self._announce(conn, OUTBOX_CHANNEL, self.on_added)

    def unsequenced(self, limit: int) -> list[OutboxEvent]:
        stmt = select(notify_outbox).where(notify_outbox.c.position.is_(None)).order_by(notify_outbox.c.id)
        with self.db.read() as conn:
            return [event_from_row(row) for row in conn.execute(stmt.limit(limit)).mappings()]

    def sequence(self, limit: int, rows: list[int] | None = None) -> list[OutboxEvent]:
        with self.db.transaction() as conn:
            stmt = select(notify_outbox).where(notify_outbox.c.position.is_(None)).order_by(notify_outbox.c.id)
            if rows is not None:
                stmt = stmt.where(notify_outbox.c.id.in_(rows))
            stmt = stmt.limit(limit)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            found = list(conn.execute(stmt).mappings())
            if not found:
                return []
            last = conn.execute(
                update(notify_sequence)
                .where(notify_sequence.c.id == 1)
                .values(last=notify_sequence.c.last + len(found))
                .returning(notify_sequence.c.last)
            ).scalar_one()
            first = last - len(found) + 1
            events = [event_from_row({**row, "position": first + offset}) for offset, row in enumerate(found)]
            stmt = (
                update(notify_outbox)
                .where(notify_outbox.c.id == bindparam("row"))
                .values(position=bindparam("new_position"))
            )
            conn.execute(stmt, [{"row": event.row, "new_position": event.position} for event in events])
            self._announce(conn, STREAM_CHANNEL, self.on_sequenced)
            return events

    def after(self, position: int, limit: int) -> list[OutboxEvent]:
        c = notify_outbox.c
        stmt = select(notify_outbox).where(c.position > position).order_by(c.position).limit(limit)
        with self.db.read() as conn:
            return [event_from_row(row) for row in conn.execute(stmt).mappings()]

    def last_position(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(notify_sequence.c.last).where(notify_sequence.c.id == 1)).scalar_one())

    def prune(self, before: datetime) -> int:
        referenced = exists().where(notify_deliveries.c.event == notify_outbox.c.id)
        with self.db.transaction() as conn:
            stmt = delete(notify_outbox).where(
                notify_outbox.c.at < before, notify_outbox.c.position.is_not(None), ~referenced
            )
            return conn.execute(stmt).rowcount

    def begin_condition(self, org_id: str, key: str, since: datetime) -> bool:
        values = {"org_id": org_id, "key": key, "since": since}
        dialect_insert: Any = sqlite_insert if self.db.is_sqlite else pg_insert
        with self.db.transaction() as conn:
            stmt = dialect_insert(notify_conditions).values(**values).on_conflict_do_nothing()
            return conn.execute(stmt.returning(notify_conditions.c.key)).first() is not None

    def end_condition(self, org_id: str, key: str) -> bool:
        c = notify_conditions.c
        with self.db.transaction() as conn:
            return conn.execute(delete(notify_conditions).where(c.org_id == org_id, c.key == key)).rowcount > 0

    def conditions(self, prefix: str) -> list[tuple[str, str]]:
        c = notify_conditions.c
        stmt = select(c.org_id, c.key).where(func.substr(c.key, 1, len(prefix)) == prefix)
        with self.db.read() as conn:
            return [(row.org_id, row.key) for row in conn.execute(stmt)]

    def _announce(self, conn: Connection, channel: str, listeners: list[Callable[[], None]]) -> None:
        """Wake this process's listeners after the commit, and (PostgreSQL) the other processes at the commit."""
        for index, listener in enumerate(listeners):
            self.db.after_commit(f"{channel}.{index}", listener)
        # Once per transaction (PostgreSQL would fold duplicates anyway): the first event of it sends NOTIFY.
        if not self.db.is_sqlite and self.db.after_commit(f"{channel}.notify", _nothing):
            conn.execute(select(func.pg_notify(channel, "")))


def _nothing() -> None:
    pass


def _columns(event: NewEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "org_id": event.org_id,
        "kind": event.kind,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "owner_id": event.owner_id,
        "project_id": event.project_id,
        "at": event.at,
        "data": event.data,
    }


def event_from_row(row: Any) -> OutboxEvent:
    at = row["at"]
    return OutboxEvent(
        event_id=row["event_id"],
        org_id=row["org_id"],
        kind=row["kind"],
        subject_type=row["subject_type"],
        subject_id=row["subject_id"],
        owner_id=row["owner_id"],
        project_id=row["project_id"],
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
        data=row["data"],
        row=row["id"],
        position=row["position"],
    )
