"""Queue policies, quotas, grants and usage in SQL (see clearway/domain/scheduling)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clearway.store.base import Doc
from clearway.store.scheduling import SchedulerStore
from clearway.store.sql.database import Database
from clearway.store.sql.queues import as_utc
from clearway.store.sql.schema import (
    dispatch_grants,
    dispatch_policies,
    dispatch_quotas,
    dispatch_usage,
    group_members,
    groups,
    queue_entries,
    tasks,
)

_p = dispatch_policies.c
_q = dispatch_quotas.c
_g = dispatch_grants.c
_u = dispatch_usage.c
_RUNNING = ("queued", "in_progress")  # a granted task still queued is taken and not yet started
_KEEP_HALF_LIVES = 4  # closed grants are kept this many half-lives (for mean run times)
_PRUNE_EVERY_SEC = 60.0  # how often settling also forgets old closed grants (not on every dispatch)


class SqlSchedulerStore(SchedulerStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert
        self.settles_with_take = db.is_sqlite
        self._pruned: dict[str, datetime] = {}  # per org: when old closed grants were last forgotten

    def policy(self, queue_id: str) -> Doc | None:
        stmt = select(_p.policy, _p.allow_priority, _p.gpus, _p.gpu_memory_gb, _p.memory_gb).where(_p.queue == queue_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).first()
        return row._asdict() if row is not None else None

    def set_policy(self, org_id: str, queue_id: str, doc: Doc) -> None:
        values = {k: doc[k] for k in ("policy", "allow_priority", "gpus", "gpu_memory_gb", "memory_gb")}
        stmt = self._insert(dispatch_policies).values(queue=queue_id, org_id=org_id, **values)
        with self.db.transaction() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["queue"], set_=values))

    def quotas(self, org_id: str) -> list[Doc]:
        stmt = (
            select(_q.subject_type, _q.subject_id, _q.max_running, _q.max_gpus, _q.weight)
            .where(_q.org_id == org_id)
            .order_by(_q.subject_type, _q.subject_id)
        )
        with self.db.read() as conn:
            return [row._asdict() for row in conn.execute(stmt)]

    def set_quota(self, org_id: str, subject_type: str, subject_id: str, doc: Doc | None) -> None:
        key = (_q.org_id == org_id, _q.subject_type == subject_type, _q.subject_id == subject_id)
        with self.db.transaction() as conn:
            if doc is None:
                conn.execute(delete(dispatch_quotas).where(*key))
                return
            values = {k: doc[k] for k in ("max_running", "max_gpus", "weight")}
            stmt = self._insert(dispatch_quotas).values(
                org_id=org_id, subject_type=subject_type, subject_id=subject_id, **values
            )
            index = ["org_id", "subject_type", "subject_id"]
            conn.execute(stmt.on_conflict_do_update(index_elements=index, set_=values))

    def lock_quotas(self, org_id: str, subjects: list[tuple[str, str]]) -> None:
        if self.db.is_sqlite or not subjects:
            return  # SQLite: the single writer already serialises every take
        stmt = (
            select(_q.subject_id)
            .where(_q.org_id == org_id, tuple_(_q.subject_type, _q.subject_id).in_(sorted(subjects)))
            .order_by(_q.subject_type, _q.subject_id)
            .with_for_update()
        )
        with self.db.transaction() as conn:
            conn.execute(stmt).all()

    def groups_of(self, org_id: str, user_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = sorted(set(user_ids))
        out: dict[str, list[str]] = {user: [] for user in ids}
        if not ids:
            return out
        m = group_members.c
        stmt = (
            select(m.user_id, m.group_id)
            .join(groups, groups.c.id == m.group_id)
            .where(groups.c.org_id == org_id, m.user_id.in_(ids))
        )
        with self.db.read() as conn:
            for user, group in conn.execute(stmt):
                out[user].append(group)
        return out

    def held(self, org_id: str) -> dict[str, tuple[int, int]]:
        stmt = (
            select(_g.owner_id, func.count(), func.coalesce(func.sum(_g.gpus), 0))
            .where(_g.org_id == org_id, _g.ended.is_(None))
            .group_by(_g.owner_id)
        )
        with self.db.read() as conn:
            return {owner: (int(n), int(gpus)) for owner, n, gpus in conn.execute(stmt)}

    def usage(self, org_id: str, now: datetime, half_life_sec: float) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        running = select(_g.owner_id, _g.gpus, _g.started).where(_g.org_id == org_id, _g.ended.is_(None), _g.gpus > 0)
        with self.db.read() as conn:
            for owner, used, at in conn.execute(select(_u.owner_id, _u.gpu_seconds, _u.at).where(_u.org_id == org_id)):
                out[owner] += _decayed(used, as_utc(at), now, half_life_sec)
            for owner, gpus, started in conn.execute(running):
                out[owner] += gpus * max(0.0, (now - as_utc(started)).total_seconds())
        return dict(out)

    def grant(self, org_id: str, task_id: str, owner_id: str, queue_id: str, gpus: int, at: datetime) -> None:
        values = {"org_id": org_id, "owner_id": owner_id, "queue": queue_id, "gpus": gpus, "started": at, "ended": None}
        stmt = self._insert(dispatch_grants).values(task=task_id, **values)
        with self.db.transaction() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["task"], set_=values))

    def settle(self, org_id: str, now: datetime, half_life_sec: float) -> int:
        t, e = tasks.c, queue_entries.c
        ended = (
            select(_g.task)
            .select_from(dispatch_grants.outerjoin(tasks, t.id == _g.task).outerjoin(queue_entries, e.task == _g.task))
            .where(
                _g.org_id == org_id,
                _g.ended.is_(None),
                or_(t.id.is_(None), t.status.not_in(_RUNNING), e.task.is_not(None)),
            )
        )
        with self.db.read() as conn:
            ids = list(conn.execute(ended).scalars())
        if not ids:
            return 0  # the common case: a read, no write transaction
        with self.db.transaction() as conn:
            if not self.db.is_sqlite:
                # Lock them (those another settler holds are its to close), then "ended IS NULL" again: of
                # concurrent settlers, one closes each grant and counts its usage, and none waits on another.
                locked = ended.order_by(_g.task).with_for_update(of=dispatch_grants, skip_locked=True)
                ids = list(conn.execute(locked).scalars())
            stmt = (
                update(dispatch_grants)
                .where(_g.task.in_(ids), _g.ended.is_(None))
                .values(ended=now)
                .returning(_g.owner_id, _g.gpus, _g.started)
            )
            closed = list(conn.execute(stmt))
            used: dict[str, float] = defaultdict(float)
            for owner, gpus, started in closed:
                if gpus:
                    used[owner] += gpus * max(0.0, (now - as_utc(started)).total_seconds())
            for owner in sorted(used):  # in one order everywhere: concurrent settlers never deadlock
                self._add_usage(conn, org_id, owner, used[owner], now, half_life_sec)
            last = self._pruned.get(org_id)
            if last is None or (now - last).total_seconds() >= _PRUNE_EVERY_SEC:
                self._pruned[org_id] = now
                keep = now - timedelta(seconds=_KEEP_HALF_LIVES * half_life_sec)
                conn.execute(delete(dispatch_grants).where(_g.org_id == org_id, _g.ended < keep))
        return len(closed)

    def mean_run_sec(self, queue_id: str, limit: int = 100) -> float | None:
        stmt = (
            select(_g.started, _g.ended)
            .where(_g.queue == queue_id, _g.ended.is_not(None))
            .order_by(_g.ended.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            runs = [(as_utc(end) - as_utc(start)).total_seconds() for start, end in conn.execute(stmt)]
        return sum(runs) / len(runs) if runs else None

    def _add_usage(self, conn: Any, org_id: str, owner: str, gpu_seconds: float, now: datetime, half: float) -> None:
        key = (_u.org_id == org_id, _u.owner_id == owner)
        seed = self._insert(dispatch_usage).values(org_id=org_id, owner_id=owner, gpu_seconds=0.0, at=now)
        conn.execute(seed.on_conflict_do_nothing(index_elements=["org_id", "owner_id"]))
        query = select(_u.gpu_seconds, _u.at).where(*key)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        before, at = conn.execute(query).one()
        total = _decayed(before, as_utc(at), now, half) + gpu_seconds
        conn.execute(update(dispatch_usage).where(*key).values(gpu_seconds=total, at=now))


def _decayed(value: float, at: datetime, now: datetime, half_life_sec: float) -> float:
    age = max(0.0, (now - at).total_seconds())
    return value * 0.5 ** (age / half_life_sec)
