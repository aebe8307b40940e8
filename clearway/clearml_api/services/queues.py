"""queues.*: thin translations onto :mod:`clearway.domain.queues` and :mod:`clearway.domain.dispatch`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from clearway.clearml_api.context import Call
from clearway.clearml_api.queries import FilterRules, GetAllRequest
from clearway.clearml_api.registry import Request, Service
from clearway.domain.queues import BACK, FRONT
from clearway.ops import metrics
from clearway.timeutil import iso, utcnow

service = Service("queues")
WORKER_HEADER = "X-ClearML-Worker"


class CreateRequest(Request):
    name: str
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    access: dict[str, Any] | None = None  # who may see and enqueue: see domain/access.py


class QueueRequest(Request):
    queue: str


class GetByIdRequest(QueueRequest):
    max_task_entries: int | None = Field(default=None, ge=0)


class QueuesGetAll(GetAllRequest):
    max_task_entries: int | None = Field(default=None, ge=0)


class UpdateRequest(QueueRequest):
    name: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    access: dict[str, Any] | None = None


class DeleteRequest(QueueRequest):
    force: bool = False


class QueueTaskRequest(QueueRequest):
    task: str


class MoveRequest(QueueTaskRequest):
    count: int = Field(default=1, ge=1)


class NextTaskRequest(QueueRequest):
    get_task_info: bool = False


class MetricsRequest(Request):
    from_date: float
    to_date: float
    interval: int
    queue_ids: list[str] | None = None


@service.endpoint("create", CreateRequest)
def create(call: Call, req: CreateRequest) -> dict[str, Any]:
    return {"id": call.services.queues.create(call.me, req.model_dump(exclude_none=True))["id"]}


@service.endpoint("get_by_id", GetByIdRequest)
def get_by_id(call: Call, req: GetByIdRequest) -> dict[str, Any]:
    return {"queue": call.services.queues.get(call.me, req.queue, req.max_task_entries)}


# ClearML's rules for the fields queues.get_all filters on (see clearml_api/queries.py).
QUEUE_FILTERS = FilterRules(lists=("metadata.*",), text=("id", "name"))


@service.endpoint("get_all", QueuesGetAll)
def get_all(call: Call, req: QueuesGetAll) -> dict[str, Any]:
    query = req.to_query(call.services.settings.max_page_size, rules=QUEUE_FILTERS)
    return {"queues": call.services.queues.list(call.me, query, req.only_fields, req.max_task_entries)}


@service.endpoint("get_default")
def get_default(call: Call, _req: Request) -> dict[str, Any]:
    queue = call.services.queues.default(call.me)
    return {"id": queue["id"], "name": queue["name"]}


@service.endpoint("get_num_entries", QueueRequest)
def get_num_entries(call: Call, req: QueueRequest) -> dict[str, Any]:
    return {"num": call.services.queues.count(call.me, req.queue)}


@service.endpoint("update", UpdateRequest)
def update(call: Call, req: UpdateRequest) -> dict[str, Any]:
    fields = req.model_dump(exclude_none=True, exclude={"queue"})
    call.services.queues.update(call.me, req.queue, fields)
    return {"updated": 1, "fields": fields}


@service.endpoint("delete", DeleteRequest)
def delete(call: Call, req: DeleteRequest) -> dict[str, Any]:
    call.services.dispatch.delete_queue(call.me, req.queue, force=req.force)
    return {"deleted": 1}


@service.endpoint("add_task", QueueTaskRequest)
def add_task(call: Call, req: QueueTaskRequest) -> dict[str, Any]:
    """Adding a task to a queue enqueues it: only queued tasks wait in queues."""
    call.services.dispatch.enqueue(call.me, req.task, req.queue)
    return {"added": 1}


@service.endpoint("remove_task", QueueTaskRequest)
def remove_task(call: Call, req: QueueTaskRequest) -> dict[str, Any]:
    """Removing a task from its queue dequeues it (back to the status it was enqueued from)."""
    return {"removed": call.services.dispatch.remove_from_queue(call.me, req.queue, req.task)}


def _move_endpoint(action: str, offset: Any) -> None:
    def handler(call: Call, req: MoveRequest) -> dict[str, Any]:
        moved = offset(req.count)
        return {"position": call.services.queues.move(call.me, req.queue, req.task, moved)}

    handler.__name__ = action
    service.endpoint(action, MoveRequest)(handler)


_move_endpoint("move_task_forward", lambda count: count)
_move_endpoint("move_task_backward", lambda count: -count)
_move_endpoint("move_task_to_front", lambda _count: FRONT)
_move_endpoint("move_task_to_back", lambda _count: BACK)


@service.endpoint("get_next_task", NextTaskRequest)
def get_next_task(call: Call, req: NextTaskRequest) -> dict[str, Any]:
    """The next waiting task that fits the calling agent's worker (named by the ``X-ClearML-Worker`` header every
    clearml session sends), taken for it; ``{}`` when nothing waiting fits."""
    taken = call.services.dispatch.take(call.me, req.queue, call.http.headers.get(WORKER_HEADER) or None)
    if taken is None:
        return {}
    entry, task = taken
    metrics.DISPATCHES.inc()
    metrics.QUEUE_WAIT.observe(max(0.0, (utcnow() - entry.added).total_seconds()))
    out: dict[str, Any] = {"entry": {"task": entry.task, "added": iso(entry.added)}}
    if req.get_task_info:
        out["task_info"] = {"user": task.get("user"), "company": task.get("company")}
    return out


@service.endpoint("get_queue_metrics", MetricsRequest)
def get_queue_metrics(call: Call, req: MetricsRequest) -> dict[str, Any]:
    queues = call.services.queues.metrics(call.me, req.queue_ids, req.from_date, req.to_date, req.interval)
    return {"queues": queues}
