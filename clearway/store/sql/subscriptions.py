"""Subscriptions and their deliveries in SQL.

A delivery is taken by one process at a time with a lease: :meth:`SqlSubscriptionStore.claim` picks due rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (so that concurrent replicas never pick the same row) and stamps them with
``lease_until``; the taker records the outcome before the lease ends. A process killed meanwhile leaves a lease
that simply runs out, and the delivery is taken again: at least once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from clearway.store.base import Doc
from clearway.store.notifications import Delivery, SubscriptionStore
from clearway.store.sql.database import Database
from clearway.store.sql.outbox import event_from_row
from clearway.store.sql.schema import notify_deliveries, notify_outbox, notify_subscriptions

_MAX_ERROR = 1000
d = notify_deliveries.c
s = notify_subscriptions.c


class SqlSubscriptionStore(SubscriptionStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def _changed(self) -> None:
        self.changes += 1

    # subscriptions
    def add(self, org_id: str, owner_id: str, doc: Doc, secret: str | None) -> None:
        self.db.after_commit("subscriptions.changed", self._changed)
        with self.db.transaction() as conn:
            conn.execute(
                insert(notify_subscriptions).values(
                    id=doc["id"], org_id=org_id, owner_id=owner_id, doc=doc, secret=secret, enabled=doc["enabled"]
                )
            )

    def get(self, org_id: str, owner_id: str | None, subscription_id: str) -> Doc | None:
        stmt = select(notify_subscriptions).where(s.id == subscription_id, *_owned(org_id, owner_id))
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        return _subscription(row) if row else None

    def list(self, org_id: str, owner_id: str | None) -> list[Doc]:
        stmt = select(notify_subscriptions).where(*_owned(org_id, owner_id)).order_by(s.id)
        with self.db.read() as conn:
            return [_subscription(row) for row in conn.execute(stmt).mappings()]

    def replace(self, org_id: str, owner_id: str | None, doc: Doc) -> bool:
        self.db.after_commit("subscriptions.changed", self._changed)
        stored = {k: v for k, v in doc.items() if k not in ("owner", "org_id")}
        stmt = update(notify_subscriptions).where(s.id == doc["id"], *_owned(org_id, owner_id))
        with self.db.transaction() as conn:
            return conn.execute(stmt.values(doc=stored, enabled=doc["enabled"])).rowcount > 0

    def set_secret(self, org_id: str, subscription_id: str, secret: str) -> None:
        self.db.after_commit("subscriptions.changed", self._changed)
        stmt = update(notify_subscriptions).where(s.id == subscription_id, s.org_id == org_id).values(secret=secret)
        with self.db.transaction() as conn:
            conn.execute(stmt)

    def delete(self, org_id: str, owner_id: str | None, subscription_id: str) -> bool:
        self.db.after_commit("subscriptions.changed", self._changed)
        stmt = delete(notify_subscriptions).where(s.id == subscription_id, *_owned(org_id, owner_id))
        with self.db.transaction() as conn:
            return conn.execute(stmt).rowcount > 0

    def active(self, org_ids: Iterable[str]) -> list[Doc]:
        stmt = select(notify_subscriptions).where(s.org_id.in_(sorted(set(org_ids))), s.enabled.is_(True))
        with self.db.read() as conn:
            return [_subscription(row) for row in conn.execute(stmt.order_by(s.id)).mappings()]

    # deliveries
    def add_deliveries(self, rows: list[Doc]) -> None:
        if not rows:
            return
        with self.db.transaction() as conn:
            conn.execute(insert(notify_deliveries), [{**row, "state": "pending", "attempts": 0} for row in rows])

    def claim(
        self,
        channel: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        whole_targets: bool = False,
        per_target: int | None = None,
        busy: dict[str, int] | None = None,
    ) -> list[Delivery]:
        free = or_(d.lease_until.is_(None), d.lease_until < now)
        waiting = and_(d.state == "pending", d.channel == channel, free)
        stmt = select(d.id, d.target).where(waiting, d.next_attempt <= now).order_by(d.next_attempt, d.id)
        with self.db.read() as conn:  # the common case, nothing due, needs no write transaction
            if conn.execute(stmt.limit(1)).first() is None:
                return []
        with self.db.transaction() as conn:
            found = list(conn.execute(self._locking(stmt.limit(limit))))
            if whole_targets and found:
                rest = select(d.id, d.target).where(waiting, d.target.in_(sorted({row.target for row in found})))
                found = list(conn.execute(self._locking(rest.order_by(d.id))))
            ids = _within_limits(found, per_target, busy or {})
            if not ids:
                return []
            stmt = update(notify_deliveries).where(d.id.in_(ids))
            conn.execute(stmt.values(lease_until=lease_until, attempts=d.attempts + 1))
            return self._deliveries(conn, d.id.in_(ids))

    def delivered(self, ids: list[int], at: datetime) -> None:
        values = {"state": "delivered", "finished": at, "lease_until": None, "last_error": None}
        with self.db.transaction() as conn:
            conn.execute(update(notify_deliveries).where(d.id.in_(ids)).values(**values))

    def failed(self, ids: list[int], error: str, next_attempt: datetime | None, at: datetime) -> None:
        values: dict[str, Any] = {"lease_until": None, "last_error": error[:_MAX_ERROR]}
        if next_attempt is None:
            values.update(state="dead", finished=at)
        else:
            values["next_attempt"] = next_attempt
        with self.db.transaction() as conn:
            conn.execute(update(notify_deliveries).where(d.id.in_(ids)).values(**values))

    def release_leases(self) -> int:
        with self.db.transaction() as conn:
            stmt = update(notify_deliveries).where(d.lease_until.is_not(None)).values(lease_until=None)
            return conn.execute(stmt).rowcount

    def deliveries(self, org_id: str, owner_id: str | None, state: str | None, limit: int) -> list[Delivery]:
        conditions = [d.org_id == org_id]
        if owner_id is not None:
            conditions.append(d.owner_id == owner_id)
        if state is not None:
            conditions.append(d.state == state)
        with self.db.read() as conn:
            return self._deliveries(conn, and_(*conditions), limit)

    def retry(self, org_id: str, owner_id: str | None, delivery_id: int, now: datetime, give_up_at: datetime) -> bool:
        conditions = [d.id == delivery_id, d.org_id == org_id, d.state != "delivered"]
        if owner_id is not None:
            conditions.append(d.owner_id == owner_id)
        values = {"state": "pending", "next_attempt": now, "give_up_at": give_up_at, "finished": None}
        with self.db.transaction() as conn:
            return conn.execute(update(notify_deliveries).where(*conditions).values(**values)).rowcount > 0

    def prune(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            stmt = delete(notify_deliveries).where(d.state != "pending", d.finished < before)
            return conn.execute(stmt).rowcount

    def _locking(self, stmt: Any) -> Any:
        # Dialects differ: PostgreSQL skips rows other replicas are claiming; SQLite has one writer anyway.
        return stmt if self.db.is_sqlite else stmt.with_for_update(of=notify_deliveries, skip_locked=True)

    def _deliveries(self, conn: Any, condition: Any, limit: int | None = None) -> list[Delivery]:
        stmt = (
            select(notify_deliveries, notify_outbox, s.secret.label("secret"))
            .join(notify_outbox, notify_outbox.c.id == d.event)
            .join(notify_subscriptions, s.id == d.subscription_id)
            .where(condition)
            .order_by(d.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        out = []
        for row in conn.execute(stmt):
            delivery = row._mapping
            event = {column.name: delivery[column] for column in notify_outbox.c}
            out.append(
                Delivery(
                    id=delivery[d.id],
                    event=event_from_row(event),
                    subscription_id=delivery[d.subscription_id],
                    owner_id=delivery[d.owner_id],
                    channel=delivery[d.channel],
                    target=delivery[d.target],
                    secret=delivery["secret"],
                    state=delivery[d.state],
                    attempts=delivery[d.attempts],
                    created=_utc(delivery[d.created]),
                    give_up_at=_utc(delivery[d.give_up_at]),
                    last_error=delivery[d.last_error],
                )
            )
        return out


def _owned(org_id: str, owner_id: str | None) -> list[Any]:
    conditions = [s.org_id == org_id]
    if owner_id is not None:
        conditions.append(s.owner_id == owner_id)
    return conditions


def _subscription(row: Any) -> Doc:
    return {
        **row["doc"],
        "id": row["id"],
        "org_id": row["org_id"],
        "owner": row["owner_id"],
        "enabled": bool(row["enabled"]),
    }


def _within_limits(found: list[Any], per_target: int | None, busy: dict[str, int]) -> list[int]:
    if per_target is None:
        return [row.id for row in found]
    taken: Counter[str] = Counter(busy)
    ids = []
    for row in found:
        if taken[row.target] < per_target:
            taken[row.target] += 1
            ids.append(row.id)
    return ids


def _utc(moment: datetime) -> datetime:
    """SQLite gives back the UTC time it was given, without its zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
