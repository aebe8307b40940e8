"""A task's way through a queue: enqueued by whoever may change it, taken by an agent, dequeued, stopped.

Invariant: a task has a queue entry only while its status is ``queued``. ``execution.queue`` names the queue it was
last sent to. The agent that takes a task holds it while it is queued or in progress and one of the agent's workers
is alive (the task store records it): that is all an agent may change of other users' work, and the only task it
may act for the owner of (see access.py, impersonation.py). Sending a task to a queue again ends the hold.

Lock order, everywhere: a task's queue entry before the task itself (taking the next task can only do it that way),
so that on PostgreSQL an agent taking a task never deadlocks with its owner re-enqueueing or stopping it.
"""

from __future__ import annotations

from clearway.domain import notifications
from clearway.domain.access import (
    Scope,
    enqueue_scope,
    may_take_tasks,
    may_use_queue,
    queue_write_scope,
    system_scope,
    write_scope,
)
from clearway.domain.identity import Identity
from clearway.domain.queues import Queues
from clearway.domain.scheduling.needs import task_needs
from clearway.domain.scheduling.scheduler import Scheduler
from clearway.domain.task_status import Status, apply_status, check_transition
from clearway.domain.tasks import Tasks
from clearway.errors import Forbidden, InvalidTaskId, QueueNotEmpty, ValidationFailed
from clearway.store.base import Doc, QueueEntry, Stores
from clearway.timeutil import now_iso, utcnow

STOPPING = "stopping"  # in status_message of a running task: the agent (or the SDK) aborts it
DEVELOPMENT_TAG = "development"
# Where a dequeued task goes back to: the status it was enqueued from, when it is one of these.
_RESTORABLE = frozenset({Status.CREATED, Status.STOPPED, Status.FAILED, Status.COMPLETED, Status.CLOSED})


class Dispatch:
    def __init__(self, stores: Stores, tasks: Tasks, queues: Queues, scheduler: Scheduler) -> None:
        self.stores = stores
        self.tasks = tasks
        self.queues = queues
        self.scheduler = scheduler

    def enqueue(
        self,
        identity: Identity,
        task_id: str,
        queue_id: str | None = None,
        queue_name: str | None = None,
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> Doc:
        """Send the task to the back of a queue (by id, by name, or the default queue).

        Allowed from the statuses the status machine lets reach ``queued``; a task already queued moves to the
        new queue. The task keeps the status it came from in ``enqueue_status`` and loses the ``development`` tag.
        """
        if queue_id and queue_name:
            raise ValidationFailed("pass either queue or queue_name, not both")

        before: list[str] = []

        def mutate(doc: Doc) -> Doc:
            previous = doc["status"]
            before.append(previous)
            check_transition(previous, Status.QUEUED, force=False)
            new = apply_status(doc, Status.QUEUED, reason=reason, message=message)
            new["execution"] = {**(doc.get("execution") or {}), "queue": queue["id"]}
            if previous != Status.QUEUED:
                new["enqueue_status"] = previous
            new["system_tags"] = [t for t in doc.get("system_tags") or [] if t != DEVELOPMENT_TAG]
            return new

        with self.stores.transaction():
            if queue_id:
                queue = self.queues.find(identity, queue_id)
            elif queue_name:
                queue = self.queues.find_by_name(identity, queue_name)
            else:
                queue = self.queues.default(identity)
            if not may_use_queue(identity, queue):
                raise Forbidden(f"You may not enqueue into queue {queue['name']!r}")
            # An unknown task, or one declaring needs that make no sense, is refused before its entry is written.
            doc = self.tasks.get(identity, task_id)
            needs = task_needs(doc, self.scheduler.policy(queue["id"]).defaults)
            entry, moved_from = self.stores.queue_entries.push(queue["id"], task_id, utcnow(), doc["user"], needs)
            # Only whoever may change the task as its owner, a writer of its project or an admin sends it to a
            # queue: an agent may not send a user's task to itself and so come to hold it.
            task = self.tasks.mutate(identity, task_id, mutate, scope=enqueue_scope(identity))
            self.stores.tasks.hold(task_id, None)
            notifications.task_status_changed(self.stores, before[-1], task)
            self._record(entry.queue, moved_from)
        return task

    def dequeue(
        self,
        identity: Identity,
        task_id: str,
        new_status: str | None = None,
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> Doc:
        """Take a queued task out of its queue: ``{updated, dequeued, fields}``; ``updated`` is 0 when the task is
        not queued (``clearml-agent execute`` calls this on every task it runs and relies on that).

        Without ``new_status`` the task goes back to the status it was enqueued from (or ``created``) and forgets
        its queue; with one (the agent sends ``in_progress``) it moves there and stays known as taken from it.
        """
        target = _status(new_status) if new_status else None
        with self.stores.transaction():
            entry = self.stores.queue_entries.remove(task_id)  # rolled back below unless the caller may change it
            doc = self.stores.tasks.get(write_scope(identity), task_id, for_update=True)
            if doc is None:
                raise InvalidTaskId(id=task_id)
            if doc["status"] != Status.QUEUED:
                return {"updated": 0, "dequeued": 0, "fields": {}}  # (an entry of such a task was stale)
            if target is not None:
                check_transition(doc["status"], target, force=False)
            new = self._sent_back(write_scope(identity), doc, target, reason, message)
            self._record(entry.queue if entry else None)
        fields = {k: new.get(k) for k in ("status", "status_changed", "status_reason", "status_message")}
        return {"updated": 1, "dequeued": int(entry is not None), "fields": fields}

    def remove_from_queue(self, identity: Identity, queue_id: str, task_id: str) -> int:
        """``queues.remove_task``: dequeue the task if it waits in this queue; how many were removed (0 or 1)."""
        self.queues.find(identity, queue_id)
        entry = self.stores.queue_entries.find(task_id)
        if entry is None or entry.queue != queue_id:
            return 0
        return int(self.dequeue(identity, task_id)["dequeued"])

    def take(self, identity: Identity, queue_id: str, worker_id: str | None = None) -> tuple[QueueEntry, Doc] | None:
        """The next waiting task of the queue that fits the calling worker (by its last status report) and its
        owner's quotas, in the queue's policy order (see clearway/domain/scheduling): taken atomically, so that
        concurrent agents never get the same task. The task stays ``queued`` until the agent reports it started
        (as ClearML's agent expects); the watchdog fails it if that never happens. None when nothing fits."""
        if not may_take_tasks(identity):
            raise Forbidden("Only agent credentials take tasks from queues")
        self.queues.find(identity, queue_id)
        if not self.stores.queue_entries.any_waiting(queue_id):
            return None  # the common case (idle agents polling) needs no write transaction
        return self.scheduler.take(identity, queue_id, worker_id)

    def stop(
        self,
        identity: Identity,
        task_id: str,
        *,
        force: bool = False,
        reason: str | None = None,
        message: str | None = None,
    ) -> Doc:
        """Ask a running task to stop: it stays ``in_progress`` with "stopping" in its status message until its
        agent (or its own SDK process) aborts it and reports it stopped. Any other task is simply stopped,
        when the status machine allows it (or with ``force``)."""
        with self.stores.transaction():
            doc = self.tasks.get(identity, task_id)
            if doc["status"] != Status.IN_PROGRESS:
                return self.tasks.change_status(
                    identity, task_id, Status.STOPPED, force=force, reason=reason or "stopped", message=message
                )

            def request_stop(doc: Doc) -> Doc:
                text = f"{STOPPING}: {message}" if message else STOPPING
                return {
                    **doc,
                    "status_reason": reason or "stop requested",
                    "status_message": text,
                    "last_update": now_iso(),
                }

            return self.tasks.mutate(identity, task_id, request_stop)

    def delete_queue(self, identity: Identity, queue_id: str, *, force: bool) -> int:
        """Delete a queue. Its waiting tasks are refused unless ``force``; then they go back to the status they
        were enqueued from, with a reason naming the queue. Returns how many were sent back."""
        with self.stores.transaction():
            queue = self.queues.find(identity, queue_id, manage=True)
            waiting = self.stores.queue_entries.entries([queue_id])[queue_id]
            if waiting and not force:
                raise QueueNotEmpty(
                    f"Queue {queue['name']!r} has {len(waiting)} waiting tasks; pass force to delete it anyway "
                    "(they go back to the status they were enqueued from)",
                    tasks=len(waiting),
                )
            scope = system_scope(identity.org_id)  # the waiting tasks belong to whoever enqueued them
            for entry in waiting:
                self.stores.queue_entries.remove(entry.task)
                doc = self.stores.tasks.get(scope, entry.task, for_update=True)
                if doc is not None and doc["status"] == Status.QUEUED:
                    self._sent_back(scope, doc, None, f"queue {queue['name']!r} was deleted", None)
            self.stores.queues.delete(queue_write_scope(identity), queue_id)
        return len(waiting)

    def _sent_back(self, scope: Scope, doc: Doc, target: Status | None, reason: str | None, message: str | None) -> Doc:
        previous = doc.get("enqueue_status")
        status = target or (Status(previous) if previous in _RESTORABLE else Status.CREATED)

        def mutate(current: Doc) -> Doc:
            new = apply_status(current, status, reason=reason, message=message)
            if target is None:
                new["execution"] = {k: v for k, v in (current.get("execution") or {}).items() if k != "queue"}
                new.pop("enqueue_status", None)
            return new

        new = self.stores.tasks.update(scope, doc["id"], mutate)
        assert new is not None  # locked by the caller's transaction
        if target is not None:  # moved on (an agent starts it); going back to where it came from is no news
            notifications.task_status_changed(self.stores, doc["status"], new)
        return new

    def _record(self, *queue_ids: str | None) -> None:
        """Note the length and waiting time of queues whose entries changed."""
        at = utcnow()
        for queue_id in {q for q in queue_ids if q is not None}:
            self.stores.queue_entries.record_metrics(queue_id, at)


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError as exc:
        raise ValidationFailed(f"invalid status {value!r}", allowed=[s.value for s in Status]) from exc
