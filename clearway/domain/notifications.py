"""Domain events for live notifications: what happened, to what, in which organisation.

Every emitter here is one call at the point of the change, inside its transaction: the event goes to the outbox
with the change, so a crash can neither lose an event nor send one for a change that did not commit. Who may see
an event is decided by the access rules of the thing it is about (see :mod:`clearway.domain.event_access`);
delivering it is :mod:`clearway.notify`'s job.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from clearway.domain.ids import new_id
from clearway.store.base import Doc, Stores
from clearway.store.notifications import NewEvent
from clearway.timeutil import utcnow


class Subject(StrEnum):
    """What an event is about; each has its own rule for who may see it (domain/event_access.py)."""

    TASK = "task"  # whoever may read the task: its owner, those it is shared with, admins
    WORKER = "worker"  # every member of the organisation (as workers.get_all)
    QUEUE = "queue"  # whoever may see the queue
    MACHINE = "machine"  # a gateway machine: admins
    SECURITY = "security"  # admins


# kind -> (subject, description). Kinds are "<category>.<event>"; subscriptions may also name "<category>.*".
KINDS: dict[str, tuple[Subject, str]] = {
    "task.created": (Subject.TASK, "a task was created"),
    "task.queued": (Subject.TASK, "a task was sent to a queue"),
    "task.started": (Subject.TASK, "a task started running"),
    "task.completed": (Subject.TASK, "a task completed"),
    "task.failed": (Subject.TASK, "a task failed"),
    "task.stopped": (Subject.TASK, "a task was stopped"),
    "task.published": (Subject.TASK, "a task was published"),
    "task.unschedulable": (Subject.TASK, "a queued task cannot be scheduled"),
    "worker.online": (Subject.WORKER, "a worker (agent) started reporting"),
    "worker.offline": (Subject.WORKER, "a worker unregistered or stopped reporting"),
    "gpu.free": (Subject.WORKER, "GPUs of a worker became free"),
    "gpu.busy": (Subject.WORKER, "GPUs of a worker became busy"),
    "queue.stalled": (Subject.QUEUE, "a queue has had tasks waiting too long with no live worker"),
    "queue.recovered": (Subject.QUEUE, "a stalled queue has a live worker again, or no waiting task"),
    "machine.down": (Subject.MACHINE, "a gateway serving machine stopped answering"),
    "machine.up": (Subject.MACHINE, "a gateway serving machine answers again"),
    "security.login_failures": (Subject.SECURITY, "repeated failed logins for one key, user or address"),
    "security.address_denied": (Subject.SECURITY, "a call from an address outside an allowlist was refused"),
}
CATEGORIES = frozenset(kind.split(".")[0] for kind in KINDS)


def is_known_pattern(pattern: str) -> bool:
    """A kind, a category (``task.*``) or everything (``*``)."""
    return pattern == "*" or pattern in KINDS or (pattern.endswith(".*") and pattern[:-2] in CATEGORIES)


# The task statuses that are announced, and as what; other changes (a reset, a dequeue) are not.
_STATUS_KINDS = {
    "queued": "task.queued",
    "in_progress": "task.started",
    "completed": "task.completed",
    "failed": "task.failed",
    "stopped": "task.stopped",
    "published": "task.published",
}
# A GPU counts as busy at or above this utilisation (percent) or this share of its memory in use (percent).
GPU_BUSY_PERCENT = 10.0


def emit(
    stores: Stores,
    kind: str,
    org_id: str,
    subject_id: str | None,
    data: Doc,
    *,
    owner_id: str | None = None,
    project_id: str | None = None,
) -> None:
    """Write one event to the outbox, in the current transaction (or in one of its own)."""
    subject, _ = KINDS[kind]
    stores.outbox.add(
        NewEvent(
            event_id=new_id(),
            org_id=org_id,
            kind=kind,
            subject_type=subject.value,
            subject_id=subject_id,
            owner_id=owner_id,
            project_id=project_id,
            at=utcnow(),
            data=data,
        )
    )


# tasks
def task_created(stores: Stores, task: Doc) -> None:
    _task_event(stores, "task.created", task, None)


def task_status_changed(stores: Stores, previous: str | None, task: Doc) -> None:
    """Announce the task's new status when it changed to one worth announcing."""
    kind = _STATUS_KINDS.get(task.get("status") or "")
    if kind is not None and previous != task.get("status"):
        _task_event(stores, kind, task, previous)


def task_unschedulable(stores: Stores, task: Doc, reason: str) -> None:
    """A queued task that no worker can ever take as things stand (the scheduler says why)."""
    _task_event(stores, "task.unschedulable", task, task.get("status"), reason=reason)


def _task_event(stores: Stores, kind: str, task: Doc, previous: str | None, **extra: Any) -> None:
    data = {
        "task": {
            "id": task["id"],
            "name": task.get("name"),
            "type": task.get("type"),
            "project": task.get("project"),
            "user": task.get("user"),
            "status": task.get("status"),
            "previous_status": previous,
            "status_reason": task.get("status_reason") or None,
            "queue": (task.get("execution") or {}).get("queue"),
            "worker": task.get("last_worker"),
        },
        **extra,
    }
    emit(stores, kind, task["company"], task["id"], data, owner_id=task.get("user"), project_id=task.get("project"))


# workers and their GPUs
def worker_online(stores: Stores, org_id: str, worker: Doc) -> None:
    emit(stores, "worker.online", org_id, worker["id"], {"worker": _worker_summary(worker)})


def worker_offline(stores: Stores, org_id: str, worker: Doc, reason: str) -> None:
    emit(stores, "worker.offline", org_id, worker["id"], {"worker": _worker_summary(worker), "reason": reason})


def gpus_changed(stores: Stores, org_id: str, worker: Doc, before: Doc | None, after: Doc | None) -> None:
    """Compare two machine-statistics reports of a worker: GPUs that became free, or busy, are announced."""
    if before is None or after is None:
        return
    was, now = busy_gpus(before), busy_gpus(after)
    if was is None or now is None or len(was) != len(now):
        return  # no GPU figures, or a different set of GPUs: nothing to compare
    freed = [i for i, (a, b) in enumerate(zip(was, now, strict=True)) if a and not b]
    taken = [i for i, (a, b) in enumerate(zip(was, now, strict=True)) if b and not a]
    summary = _worker_summary(worker)
    counts = {"total": len(now), "busy": sum(now), "free": len(now) - sum(now)}
    if freed:
        emit(stores, "gpu.free", org_id, worker["id"], {"worker": summary, "gpus": freed, **counts})
    if taken:
        emit(stores, "gpu.busy", org_id, worker["id"], {"worker": summary, "gpus": taken, **counts})


def busy_gpus(stats: Doc) -> list[bool] | None:
    """Per GPU, whether it is busy, from clearml-agent's ``machine_stats``; None without GPU figures."""
    usage = _floats(stats.get("gpu_usage"))
    used, free = _floats(stats.get("gpu_memory_used")), _floats(stats.get("gpu_memory_free"))
    count = max(len(usage), len(used))
    if count == 0:
        return None
    busy = []
    for index in range(count):
        utilisation = usage[index] if index < len(usage) else 0.0
        total = (used[index] + free[index]) if index < len(used) and index < len(free) else 0.0
        memory = 100.0 * used[index] / total if total > 0 else 0.0
        busy.append(utilisation >= GPU_BUSY_PERCENT or memory >= GPU_BUSY_PERCENT)
    return busy


def _worker_summary(worker: Doc) -> Doc:
    gpus = busy_gpus(worker.get("machine_stats") or {})
    return {
        "id": worker["id"],
        "queues": list(worker.get("queues") or []),
        "gpus": None if gpus is None else {"total": len(gpus), "busy": sum(gpus)},
    }


def _floats(value: Any) -> list[float]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


# queues
def queue_stalled(stores: Stores, org_id: str, queue: Doc, waiting: int, oldest_wait_sec: float) -> None:
    data = {"queue": {"id": queue["id"], "name": queue.get("name")}, "waiting": waiting, "wait_sec": oldest_wait_sec}
    emit(stores, "queue.stalled", org_id, queue["id"], data)


def queue_recovered(stores: Stores, org_id: str, queue: Doc) -> None:
    emit(stores, "queue.recovered", org_id, queue["id"], {"queue": {"id": queue["id"], "name": queue.get("name")}})


# gateway machines
def machine_down(stores: Stores, org_id: str, machine_id: str, name: str | None = None, reason: str = "") -> None:
    """A gateway serving machine stopped answering (one call from the gateway's health checks)."""
    emit(stores, "machine.down", org_id, machine_id, {"machine": {"id": machine_id, "name": name}, "reason": reason})


def machine_up(stores: Stores, org_id: str, machine_id: str, name: str | None = None) -> None:
    emit(stores, "machine.up", org_id, machine_id, {"machine": {"id": machine_id, "name": name}})


# security
def security_denial(stores: Stores, kind: str, org_id: str, detail: Doc) -> None:
    emit(stores, kind, org_id, None, detail)
