"""models.*: thin translations onto :mod:`clearway.domain.models`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from clearway.clearml_api.context import Call
from clearway.clearml_api.queries import FilterRules, GetAllRequest, StrList
from clearway.clearml_api.registry import Request, Service
from clearway.errors import ClearwayError
from clearway.store.base import Doc

service = Service("models")


class ModelRequest(Request):
    model: str


class ModelFields(Request):
    name: str | None = None
    uri: str | None = None
    comment: str | None = None
    framework: str | None = None
    design: dict[str, Any] | str | None = None
    labels: dict[str, int] | None = None
    ready: bool | None = None
    task: str | None = None
    project: str | None = None
    parent: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    iteration: int | None = None
    metadata: list[dict[str, Any]] | dict[str, Any] | None = None


class CreateRequest(ModelFields):
    name: str
    uri: str
    public: bool = False  # accepted and ignored: sharing is decided by access rules, not by the client


class EditRequest(ModelFields):
    model: str


class UpdateRequest(ModelRequest):
    name: str | None = None
    comment: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    ready: bool | None = None
    project: str | None = None
    task: str | None = None
    iteration: int | None = None


class ModelsGetAll(GetAllRequest):
    project: StrList = None
    task: StrList = None
    framework: StrList = None
    user: StrList = None
    uri: StrList = None
    ready: bool | None = None


class SetReadyRequest(ModelRequest):
    publish_task: bool = True
    force_publish_task: bool = False


class IdsRequest(Request):
    ids: list[str] = Field(min_length=1)


class PublishManyRequest(IdsRequest):
    publish_tasks: bool = True
    force_publish_task: bool = False


class DeleteRequest(ModelRequest):
    force: bool = False


class DeleteManyRequest(IdsRequest):
    force: bool = False


class ArchiveRequest(Request):
    model: str | None = None
    ids: list[str] | None = None


class UpdateForTaskRequest(Request):
    task: str
    uri: str | None = None
    name: str | None = None
    comment: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    override_model_id: str | None = None
    iteration: int | None = None


class TaskRequest(Request):
    task: str


class MetadataItem(Request):
    key: str
    type: str | None = None
    value: str | None = None


class AddMetadataRequest(ModelRequest):
    metadata: list[MetadataItem]
    replace_metadata: bool = False


class DeleteMetadataRequest(ModelRequest):
    keys: list[str]


@service.endpoint("create", CreateRequest)
def create(call: Call, req: CreateRequest) -> dict[str, Any]:
    doc = call.services.models.create(call.me, req.model_dump(exclude_none=True, exclude={"public"}))
    return {"id": doc["id"], "created": True}


@service.endpoint("get_by_id", ModelRequest)
def get_by_id(call: Call, req: ModelRequest) -> dict[str, Any]:
    return {"model": call.services.models.get(call.me, req.model)}


@service.endpoint("get_by_task_id", TaskRequest)
def get_by_task_id(call: Call, req: TaskRequest) -> dict[str, Any]:
    return {"model": call.services.models.output_of(call.me, req.task)}


# ClearML's rules for the fields models.get_all filters on (see clearml_api/queries.py).
MODEL_FILTERS = FilterRules(
    patterns=("comment",),
    lists=("framework", "uri", "user", "project", "task", "parent", "metadata.*"),
    ranges=("created", "last_metrics.*", "last_iteration"),
    dates=("last_update", "last_change"),
    equals=("ready",),
    text=("id", "name", "comment", "parent", "task", "project"),
    paths={"user": ("owner_id",)},
)


@service.endpoint("get_all", ModelsGetAll)
def get_all(call: Call, req: ModelsGetAll) -> dict[str, Any]:
    query = req.to_query(call.services.settings.max_page_size, rules=MODEL_FILTERS)
    return {"models": call.services.models.list(call.me, query, req.only_fields)}


def _edit(call: Call, model_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    call.services.models.edit(call.me, model_id, fields)
    return {"updated": 1, "fields": fields}


@service.endpoint("edit", EditRequest)
def edit(call: Call, req: EditRequest) -> dict[str, Any]:
    return _edit(call, req.model, req.model_dump(exclude_none=True, exclude={"model"}))


@service.endpoint("update", UpdateRequest)
def update(call: Call, req: UpdateRequest) -> dict[str, Any]:
    return _edit(call, req.model, req.model_dump(exclude_none=True, exclude={"model"}))


@service.endpoint("update_for_task", UpdateForTaskRequest)
def update_for_task(call: Call, req: UpdateForTaskRequest) -> dict[str, Any]:
    fields = req.model_dump(exclude_none=True, exclude={"task", "override_model_id"})
    doc, created = call.services.models.update_for_task(call.me, req.task, fields, req.override_model_id)
    return {"id": doc["id"], "created": created, "updated": int(not created), "fields": fields}


def _set_ready(call: Call, model_id: str, publish_task: bool, force_publish_task: bool) -> dict[str, Any]:
    changed, task = call.services.models.set_ready(
        call.me, model_id, publish_task=publish_task, force_publish_task=force_publish_task
    )
    published = {"id": task["id"], "data": {"updated": 1, "fields": {"status": task["status"]}}} if task else None
    return {"updated": int(changed), "published_task": published}


@service.endpoint("set_ready", SetReadyRequest)
def set_ready(call: Call, req: SetReadyRequest) -> dict[str, Any]:
    return _set_ready(call, req.model, req.publish_task, req.force_publish_task)


@service.endpoint("publish", SetReadyRequest)
def publish(call: Call, req: SetReadyRequest) -> dict[str, Any]:
    """Not a ClearML endpoint: a plain-named alias of ``set_ready`` for our own clients."""
    return _set_ready(call, req.model, req.publish_task, req.force_publish_task)


def _many(ids: list[str], action: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The ``*_many`` answer: each id succeeds or fails on its own, as ClearML reports it."""
    succeeded, failed = [], []
    for model_id in ids:
        try:
            succeeded.append({"id": model_id, **action(model_id)})
        except ClearwayError as exc:
            error = {"codes": [exc.status, exc.subcode], "msg": exc.message, "data": exc.data}
            failed.append({"id": model_id, "error": error})
    return {"succeeded": succeeded, "failed": failed}


@service.endpoint("publish_many", PublishManyRequest)
def publish_many(call: Call, req: PublishManyRequest) -> dict[str, Any]:
    return _many(req.ids, lambda mid: _set_ready(call, mid, req.publish_tasks, req.force_publish_task))


def _archive(call: Call, ids: list[str], archived: bool) -> dict[str, Any]:
    key = "archived" if archived else "unarchived"
    return _many(ids, lambda mid: {key: bool(call.services.models.set_archived(call.me, mid, archived))})


@service.endpoint("archive_many", IdsRequest)
def archive_many(call: Call, req: IdsRequest) -> dict[str, Any]:
    return _archive(call, req.ids, True)


@service.endpoint("unarchive_many", IdsRequest)
def unarchive_many(call: Call, req: IdsRequest) -> dict[str, Any]:
    return _archive(call, req.ids, False)


@service.endpoint("archive", ArchiveRequest)
def archive(call: Call, req: ArchiveRequest) -> dict[str, Any]:
    """Not a ClearML endpoint: ``archive_many`` for one ``model`` (or ``ids``)."""
    return _archive(call, [*([req.model] if req.model else []), *(req.ids or [])], True)


def _deleted(doc: Doc) -> dict[str, Any]:
    return {"deleted": True, "url": doc.get("uri")}


@service.endpoint("delete", DeleteRequest)
def delete(call: Call, req: DeleteRequest) -> dict[str, Any]:
    return _deleted(call.services.models.delete(call.me, req.model, force=req.force))


@service.endpoint("delete_many", DeleteManyRequest)
def delete_many(call: Call, req: DeleteManyRequest) -> dict[str, Any]:
    return _many(req.ids, lambda mid: _deleted(call.services.models.delete(call.me, mid, force=req.force)))


@service.endpoint("add_or_update_metadata", AddMetadataRequest)
def add_or_update_metadata(call: Call, req: AddMetadataRequest) -> dict[str, Any]:
    items = [item.model_dump() for item in req.metadata]
    call.services.models.set_metadata(call.me, req.model, items, req.replace_metadata)
    return {"updated": 1}


@service.endpoint("delete_metadata", DeleteMetadataRequest)
def delete_metadata(call: Call, req: DeleteMetadataRequest) -> dict[str, Any]:
    call.services.models.delete_metadata(call.me, req.model, req.keys)
    return {"updated": 1}
