"""tasks.enqueue, tasks.dequeue, tasks.stop: the task side of queues, registered on the ``tasks`` service."""

from __future__ import annotations

from typing import Any

from clearway.clearml_api.context import Call
from clearway.clearml_api.registry import Request
from clearway.clearml_api.services.tasks import service


class EnqueueRequest(Request):
    task: str
    queue: str | None = None
    queue_name: str | None = None
    status_reason: str | None = None
    status_message: str | None = None
    verify_watched_queue: bool = False


class DequeueRequest(Request):
    task: str
    new_status: str | None = None
    status_reason: str | None = None
    status_message: str | None = None


class StopRequest(Request):
    task: str
    force: bool = False
    status_reason: str | None = None
    status_message: str | None = None


@service.endpoint("enqueue", EnqueueRequest)
def enqueue(call: Call, req: EnqueueRequest) -> dict[str, Any]:
    task = call.services.dispatch.enqueue(
        call.me, req.task, req.queue, req.queue_name, reason=req.status_reason, message=req.status_message
    )
    queue = task["execution"]["queue"]
    fields = {k: task.get(k) for k in ("status", "status_reason", "status_message", "status_changed", "last_update")}
    out: dict[str, Any] = {"queued": 1, "updated": 1, "fields": {**fields, "execution.queue": queue}}
    if req.verify_watched_queue:
        out["queue_watched"] = call.services.workers.is_watched(call.me, queue)
    return out


@service.endpoint("dequeue", DequeueRequest)
def dequeue(call: Call, req: DequeueRequest) -> dict[str, Any]:
    return call.services.dispatch.dequeue(
        call.me, req.task, req.new_status, reason=req.status_reason, message=req.status_message
    )


@service.endpoint("stop", StopRequest)
def stop(call: Call, req: StopRequest) -> dict[str, Any]:
    task = call.services.dispatch.stop(
        call.me, req.task, force=req.force, reason=req.status_reason, message=req.status_message
    )
    fields = {k: task.get(k) for k in ("status", "status_reason", "status_message", "status_changed")}
    return {"updated": 1, "fields": fields}
