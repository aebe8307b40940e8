"""Tasks in SQL: the document store, plus which agent holds a task (took it from a queue and runs it).

A task is held by the agent that took it while the task is queued (taken, not yet started) or in progress, and
the worker that reported running it is alive (before any worker reported it: one of the agent's workers).
Everything an agent may do with another user's task, and every grant to act for its owner, hangs on this, checked
in the query itself so that it ends the moment the task ends, goes back to a queue, or the worker is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, literal, or_, select, update

from clearway.domain.access import Scope
from clearway.store.base import Doc, TaskStore
from clearway.store.sql.documents import SqlDocumentStore
from clearway.store.sql.schema import projects, queue_entries, tasks, workers
from clearway.timeutil import utcnow

HELD_STATUSES = ("queued", "in_progress")


def held_by(agent_id: str, now: datetime) -> ColumnElement[bool]:
    """The tasks ``agent_id`` holds at ``now``."""
    live_worker = exists(
        select(literal(1)).where(
            workers.c.org_id == tasks.c.org_id,
            workers.c.owner_id == agent_id,
            workers.c.expires > now,
            or_(tasks.c.held_worker.is_(None), workers.c.id == tasks.c.held_worker),
        )
    )
    return and_(tasks.c.held_by == agent_id, tasks.c.status.in_(HELD_STATUSES), live_worker)


def waiting_in_a_queue() -> ColumnElement[bool]:
    return tasks.c.id.in_(select(queue_entries.c.task))


def agent_tasks(scope: Scope) -> list[ColumnElement[bool]]:
    """The tasks an agent's scope reaches besides its own (see :class:`Scope`)."""
    reach = []
    if scope.agent_id is not None:
        reach.append(held_by(scope.agent_id, utcnow()))
    if scope.waiting:
        reach.append(waiting_in_a_queue())
    if scope.task_ids:
        reach.append(tasks.c.id.in_(sorted(scope.task_ids)))
    return reach


def projects_of_agent_tasks(scope: Scope) -> list[ColumnElement[bool]]:
    """With ``their_projects``, the projects of the tasks an agent's scope reaches."""
    reach = agent_tasks(scope) if scope.their_projects else []
    if not reach:
        return []
    of_tasks = select(tasks.c.project).where(tasks.c.org_id == scope.org_id, tasks.c.project.is_not(None))
    return [projects.c.id.in_(of_tasks.where(or_(*reach)))]


class SqlTaskStore(SqlDocumentStore, TaskStore):
    def hold(self, task_id: str, agent_id: str | None, at: datetime | None = None) -> None:
        values = {"held_by": agent_id, "held_since": at if agent_id else None, "held_worker": None}
        with self.db.transaction() as conn:
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))

    def held_on(self, task_id: str, agent_id: str, worker_id: str) -> None:
        stmt = update(tasks).where(tasks.c.id == task_id, tasks.c.held_by == agent_id).values(held_worker=worker_id)
        with self.db.transaction() as conn:
            conn.execute(stmt)

    def held(self, org_id: str, agent_id: str, owner_id: str, task_id: str | None = None) -> Doc | None:
        stmt = select(tasks.c.doc).where(
            tasks.c.org_id == org_id, tasks.c.owner_id == owner_id, held_by(agent_id, utcnow())
        )
        if task_id is not None:
            stmt = stmt.where(tasks.c.id == task_id)
        with self.db.read() as conn:
            return conn.execute(stmt.order_by(tasks.c.held_since.desc()).limit(1)).scalar_one_or_none()
