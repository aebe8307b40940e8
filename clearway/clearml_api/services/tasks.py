"""tasks.*: thin translations onto :mod:`clearway.domain.tasks`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from clearway.clearml_api.context import Call
from clearway.clearml_api.queries import FilterRules, GetAllRequest, StrList
from clearway.clearml_api.registry import Request, Service
from clearway.domain import task_fields
from clearway.domain.task_outputs import Options, Outcome
from clearway.domain.task_status import Status
from clearway.store.base import Doc
from clearway.timeutil import now_iso

service = Service("tasks")


class TaskRequest(Request):
    task: str


class ForceRequest(TaskRequest):
    force: bool = False


class StatusRequest(ForceRequest):
    status_reason: str | None = None
    status_message: str | None = None


class CompletedRequest(StatusRequest):
    publish: bool = False


class PublishRequest(StatusRequest):
    publish_model: bool = True


class OutputsRequest(ForceRequest):
    """What becomes of the task's outputs on delete and reset (domain/task_outputs.py)."""

    delete_output_models: bool = True
    return_file_urls: bool = False
    delete_external_artifacts: bool = True

    def options(self, call: Call) -> Options:
        deletes_files = self.delete_external_artifacts and call.services.settings.delete_task_files
        files_url = f"{call.http.base_url}files/" if deletes_files else None
        return Options(self.delete_output_models, self.return_file_urls, files_url)


class ResetRequest(OutputsRequest):
    clear_all: bool = False


class FieldsRequest(Request):
    """Create and edit take the task's fields as they are; the domain checks and normalises them."""

    name: str | None = None
    type: str | None = None
    comment: str | None = None
    project: str | None = None
    parent: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    script: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    output_dest: str | None = None
    hyperparams: dict[str, Any] | None = None
    configuration: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None
    models: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    input: dict[str, Any] | None = None


class EditRequest(FieldsRequest):
    task: str
    force: bool = False


class CloneRequest(TaskRequest):
    new_task_name: str | None = None
    new_task_comment: str | None = None
    new_task_tags: list[str] | None = None
    new_task_system_tags: list[str] | None = None
    new_task_parent: str | None = None
    new_task_project: str | None = None
    new_task_hyperparams: dict[str, Any] | None = None
    new_task_configuration: dict[str, Any] | None = None
    new_task_container: dict[str, Any] | None = None
    execution_overrides: dict[str, Any] | None = None


class TasksGetAll(GetAllRequest):
    project: StrList = None
    status: StrList = None
    type: StrList = None
    user: StrList = None
    parent: StrList = None


class Requirements(Request):
    pip: str | list[str] | None = None
    conda: str | list[str] | None = None
    org_pip: str | list[str] | None = None
    org_conda: str | list[str] | None = None


class SetRequirementsRequest(TaskRequest):
    requirements: Requirements


class HyperParam(Request):
    section: str
    name: str | None = None
    value: Any = None
    type: str | None = None
    description: str | None = None


class EditHyperParamsRequest(TaskRequest):
    hyperparams: list[HyperParam]
    replace_hyperparams: str = "none"
    force: bool = False


class GetHyperParamsRequest(Request):
    tasks: list[str] = Field(min_length=1)


class DeleteHyperParamsRequest(TaskRequest):
    hyperparams: list[HyperParam]
    force: bool = False


class ConfigItem(Request):
    name: str
    value: Any = None
    type: str | None = None
    description: str | None = None


class EditConfigurationRequest(TaskRequest):
    configuration: list[ConfigItem]
    replace_configuration: bool = False
    force: bool = False


class ArchiveRequest(Request):
    tasks: list[str] = Field(min_length=1)


class DeleteRequest(OutputsRequest):
    pass


class ArtifactsRequest(ForceRequest):
    artifacts: list[dict[str, Any]]


class AddModelRequest(TaskRequest):
    name: str
    model: str
    type: str = "output"
    iteration: int | None = None


class DeleteModelsRequest(TaskRequest):
    models: list[dict[str, Any]]


def _updated(**fields: Any) -> dict[str, Any]:
    return {"updated": 1, "fields": fields}


@service.endpoint("create", FieldsRequest)
def create(call: Call, req: FieldsRequest) -> dict[str, Any]:
    return {"id": call.services.tasks.create(call.me, req.model_dump(exclude_none=True))["id"]}


@service.endpoint("get_by_id", TaskRequest)
def get_by_id(call: Call, req: TaskRequest) -> dict[str, Any]:
    return {"task": call.services.tasks.get(call.me, req.task)}


# ClearML's rules for the fields tasks.get_all filters on (see clearml_api/queries.py).
TASK_FILTERS = FilterRules(
    patterns=("comment", "report"),
    lists=("user", "type", "status", "project", "parent", "hyperparams.*", "execution.queue", "models.input.model"),
    ranges=("created", "started", "active_duration", "last_metrics.*", "last_iteration"),
    dates=("status_changed", "last_update", "last_change"),
    equals=("runtime.*",),
    text=(
        "id",
        "name",
        "comment",
        "report",
        "models.input.*.model",
        "models.output.*.model",
        "script.repository",
        "script.entry_point",
    ),
    paths={"user": ("owner_id",), "models.input.model": ("models", "input", "*", "model")},
)


@service.endpoint("get_all", TasksGetAll)
def get_all(call: Call, req: TasksGetAll) -> dict[str, Any]:
    query = req.to_query(call.services.settings.max_page_size, rules=TASK_FILTERS)
    return {"tasks": call.services.tasks.list(call.me, query, req.only_fields)}


@service.endpoint("edit", EditRequest)
def edit(call: Call, req: EditRequest) -> dict[str, Any]:
    fields = req.model_dump(exclude_none=True, exclude={"task", "force"})
    call.services.tasks.edit(call.me, req.task, fields, force=req.force)
    return _updated(**fields)


def _status_endpoint(action: str, target: Status, model: type[StatusRequest] = StatusRequest) -> None:
    def handler(call: Call, req: StatusRequest) -> dict[str, Any]:
        doc = call.services.tasks.change_status(
            call.me, req.task, target, force=req.force, reason=req.status_reason, message=req.status_message
        )
        return _updated(status=doc["status"])

    handler.__name__ = action
    service.endpoint(action, model)(handler)


_status_endpoint("started", Status.IN_PROGRESS)
_status_endpoint("stopped", Status.STOPPED)
_status_endpoint("failed", Status.FAILED)
_status_endpoint("close", Status.CLOSED)


@service.endpoint("completed", CompletedRequest)
def completed(call: Call, req: CompletedRequest) -> dict[str, Any]:
    tasks = call.services.tasks
    doc = tasks.change_status(
        call.me, req.task, Status.COMPLETED, force=req.force, reason=req.status_reason, message=req.status_message
    )
    if req.publish:
        doc = tasks.change_status(call.me, req.task, Status.PUBLISHED, force=req.force)
    return _updated(status=doc["status"])


@service.endpoint("publish", PublishRequest)
def publish(call: Call, req: PublishRequest) -> dict[str, Any]:
    doc = call.services.tasks.change_status(
        call.me, req.task, Status.PUBLISHED, force=req.force, reason=req.status_reason, message=req.status_message
    )
    return _updated(status=doc["status"])


def _outputs(outcome: Outcome) -> dict[str, Any]:
    """What delete and reset did to the task's outputs; ``events`` as ``events.delete_for_task`` answers."""
    out: dict[str, Any] = {"deleted_models": outcome.deleted_models, "events": {"deleted": outcome.deleted_events}}
    if outcome.urls is not None:
        out["urls"] = outcome.urls
    return out


@service.endpoint("reset", ResetRequest)
def reset(call: Call, req: ResetRequest) -> dict[str, Any]:
    outcome = call.services.task_outputs.reset(
        call.me, req.task, force=req.force, clear_all=req.clear_all, options=req.options(call)
    )
    out = {"updated": 1, "fields": {"status": Status.CREATED.value}, **_outputs(outcome)}
    if outcome.dequeued:
        out["dequeued"] = {"removed": 1}
    return out


@service.endpoint("clone", CloneRequest)
def clone(call: Call, req: CloneRequest) -> dict[str, Any]:
    overrides = {
        "name": req.new_task_name,
        "comment": req.new_task_comment,
        "tags": req.new_task_tags,
        "system_tags": req.new_task_system_tags,
        "parent": req.new_task_parent,
        "project": req.new_task_project,
        "hyperparams": req.new_task_hyperparams,
        "configuration": req.new_task_configuration,
        "container": req.new_task_container,
        "execution": req.execution_overrides,
    }
    return {"id": call.services.tasks.clone(call.me, req.task, overrides)["id"]}


@service.endpoint("ping", TaskRequest)
def ping(call: Call, req: TaskRequest) -> dict[str, Any]:
    call.services.tasks.mutate(call.me, req.task, lambda doc: {**doc, "last_update": now_iso()})
    return {}


def _section_edit(call: Call, task_id: str, change: Any) -> dict[str, Any]:
    call.services.tasks.mutate(call.me, task_id, change)
    return {"updated": 1}


@service.endpoint("set_requirements", SetRequirementsRequest)
def set_requirements(call: Call, req: SetRequirementsRequest) -> dict[str, Any]:
    requirements = req.requirements.model_dump(exclude_none=True)
    return _section_edit(call, req.task, lambda doc: task_fields.set_requirements(doc, requirements))


@service.endpoint("edit_hyper_params", EditHyperParamsRequest)
def edit_hyper_params(call: Call, req: EditHyperParamsRequest) -> dict[str, Any]:
    items = [p.model_dump(exclude_none=True) for p in req.hyperparams]
    return _section_edit(call, req.task, lambda doc: task_fields.edit_hyper_params(doc, items, req.replace_hyperparams))


@service.endpoint("get_hyper_params", GetHyperParamsRequest)
def get_hyper_params(call: Call, req: GetHyperParamsRequest) -> dict[str, Any]:
    tasks = [call.services.tasks.get(call.me, task_id) for task_id in req.tasks]
    return {"params": [{"task": doc["id"], "hyperparams": task_fields.hyper_params_list(doc)} for doc in tasks]}


@service.endpoint("delete_hyper_params", DeleteHyperParamsRequest)
def delete_hyper_params(call: Call, req: DeleteHyperParamsRequest) -> dict[str, Any]:
    items = [p.model_dump(exclude_none=True) for p in req.hyperparams]
    return {
        "deleted": _section_edit(call, req.task, lambda doc: task_fields.delete_hyper_params(doc, items))["updated"]
    }


@service.endpoint("edit_configuration", EditConfigurationRequest)
def edit_configuration(call: Call, req: EditConfigurationRequest) -> dict[str, Any]:
    items = [c.model_dump(exclude_none=True) for c in req.configuration]
    return _section_edit(
        call, req.task, lambda doc: task_fields.edit_configuration(doc, items, req.replace_configuration)
    )


@service.endpoint("add_or_update_artifacts", ArtifactsRequest)
def add_or_update_artifacts(call: Call, req: ArtifactsRequest) -> dict[str, Any]:
    return _section_edit(call, req.task, lambda doc: task_fields.upsert_artifacts(doc, req.artifacts))


@service.endpoint("delete_artifacts", ArtifactsRequest)
def delete_artifacts(call: Call, req: ArtifactsRequest) -> dict[str, Any]:
    deleted = 0

    def change(doc: Doc) -> Doc:
        nonlocal deleted
        doc, deleted = task_fields.delete_artifacts(doc, req.artifacts)
        return doc

    call.services.tasks.mutate(call.me, req.task, change)
    return {"deleted": deleted}


@service.endpoint("add_or_update_model", AddModelRequest)
def add_or_update_model(call: Call, req: AddModelRequest) -> dict[str, Any]:
    call.services.models.attach_to_task(call.me, req.task, req.type, req.name, req.model)
    return {"updated": 1}


@service.endpoint("delete_models", DeleteModelsRequest)
def delete_models(call: Call, req: DeleteModelsRequest) -> dict[str, Any]:
    return _section_edit(call, req.task, lambda doc: task_fields.delete_models(doc, req.models))


@service.endpoint("delete", DeleteRequest)
def delete(call: Call, req: DeleteRequest) -> dict[str, Any]:
    outcome = call.services.task_outputs.delete(call.me, req.task, force=req.force, options=req.options(call))
    return {"deleted": True, **_outputs(outcome)}


@service.endpoint("archive", ArchiveRequest)
def archive(call: Call, req: ArchiveRequest) -> dict[str, Any]:
    for task_id in req.tasks:
        call.services.tasks.add_system_tag(call.me, task_id, "archived")
    return {"archived": len(req.tasks)}
