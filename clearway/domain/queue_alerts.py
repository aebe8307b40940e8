"""Queues that wait with no one to serve them: tasks waiting longer than the limit and no live worker on the queue.

Announced once when it begins (``queue.stalled``) and once when it ends (``queue.recovered``); the condition is
recorded in the database, so that replicas sweeping at the same time announce it once between them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from clearway.domain import notifications
from clearway.domain.access import system_scope
from clearway.store.base import Stores
from clearway.timeutil import utcnow

BATCH = 500
_PREFIX = "queue.stalled:"


class QueueAlerts:
    def __init__(self, stores: Stores, wait_sec: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.stores = stores
        self.wait_sec = wait_sec
        self.clock = clock

    def sweep(self) -> None:
        now = self.clock()
        stalled: set[tuple[str, str]] = set()
        served: dict[str, set[str]] = {}
        for org_id, queue_id, waiting, oldest in self.stores.sweep.waiting_queues(
            now - timedelta(seconds=self.wait_sec), BATCH
        ):
            if org_id not in served:
                workers = self.stores.workers.list(system_scope(org_id), alive_at=now)
                served[org_id] = {queue for worker in workers for queue in worker.get("queues") or []}
            if queue_id in served[org_id]:
                continue
            stalled.add((org_id, queue_id))
            queue = self.stores.queues.get(system_scope(org_id), queue_id)
            if queue is None:
                continue
            with self.stores.transaction():
                if self.stores.outbox.begin_condition(org_id, _PREFIX + queue_id, now):
                    wait = now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))  # SQLite drops the zone
                    notifications.queue_stalled(self.stores, org_id, queue, waiting, round(wait.total_seconds()))
        for org_id, key in self.stores.outbox.conditions(_PREFIX):
            queue_id = key.removeprefix(_PREFIX)
            if (org_id, queue_id) in stalled:
                continue
            with self.stores.transaction():
                if self.stores.outbox.end_condition(org_id, key):
                    queue = self.stores.queues.get(system_scope(org_id), queue_id)
                    notifications.queue_recovered(self.stores, org_id, queue or {"id": queue_id})
