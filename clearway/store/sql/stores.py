"""All SQL stores of one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from clearway.store.base import Stores
from clearway.store.sql.allowlists import SqlAllowlistStore
from clearway.store.sql.audit import SqlAuditStore
from clearway.store.sql.blobs import SqlBlobRecordStore
from clearway.store.sql.database import Database
from clearway.store.sql.documents import SqlDocumentStore
from clearway.store.sql.events import SqlEventStore
from clearway.store.sql.gateway import SqlGatewayStore
from clearway.store.sql.identity import SqlIdentityStore
from clearway.store.sql.outbox import SqlOutboxStore
from clearway.store.sql.queues import SqlQueueEntryStore
from clearway.store.sql.scheduler import SqlSchedulerStore
from clearway.store.sql.schema import models, projects, queues, tasks
from clearway.store.sql.sharing import SqlSharingStore
from clearway.store.sql.sliding_counters import SqlSlidingCounters
from clearway.store.sql.subscriptions import SqlSubscriptionStore
from clearway.store.sql.sweep import SqlSweepStore
from clearway.store.sql.tasks import SqlTaskStore, agent_tasks, projects_of_agent_tasks
from clearway.store.sql.web_sessions import SqlWebSessionStore
from clearway.store.sql.workers import SqlWorkerStore
from clearway.timeutil import parse_iso


class SqlStores(Stores):
    def __init__(self, db: Database) -> None:
        self.db = db
        self.identity = SqlIdentityStore(db)
        self.projects = SqlDocumentStore(db, projects, reach=projects_of_agent_tasks)
        self.tasks = SqlTaskStore(
            db,
            tasks,
            {
                "project": lambda doc: doc.get("project") or None,
                "type": lambda doc: doc.get("type") or "",
                "status": lambda doc: doc.get("status") or "created",
                "parent": lambda doc: doc.get("parent") or None,
                "started": lambda doc: parse_iso(doc.get("started")),
                "completed": lambda doc: parse_iso(doc.get("completed")),
                "last_iteration": lambda doc: doc.get("last_iteration"),
            },
            reach=agent_tasks,
        )
        self.events = SqlEventStore(db)
        self.queues = SqlDocumentStore(db, queues)
        self.queue_entries = SqlQueueEntryStore(db)
        self.scheduler = SqlSchedulerStore(db)
        self.workers = SqlWorkerStore(db)
        self.sweep = SqlSweepStore(db)
        self.sliding_counters = SqlSlidingCounters(db)
        self.models = SqlDocumentStore(
            db,
            models,
            {
                "project": lambda doc: doc.get("project") or None,
                "task": lambda doc: doc.get("task") or None,
                "framework": lambda doc: doc.get("framework") or None,
                "ready": lambda doc: bool(doc.get("ready")),
                "uri": lambda doc: doc.get("uri") or None,
            },
        )
        self.blobs = SqlBlobRecordStore(db)
        self.sharing = SqlSharingStore(db)
        self.allowlists = SqlAllowlistStore(db)
        self.audit = SqlAuditStore(db)
        self.outbox = SqlOutboxStore(db)
        self.subscriptions = SqlSubscriptionStore(db)
        self.web_sessions = SqlWebSessionStore(db)
        self.gateway = SqlGatewayStore(db)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.db.transaction() as conn:
            yield conn
