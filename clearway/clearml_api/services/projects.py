"""projects.*"""

from __future__ import annotations

import re
from typing import Any

from clearway.clearml_api.context import Call
from clearway.clearml_api.queries import FilterRules, GetAllRequest, StrList
from clearway.clearml_api.registry import Request, Service
from clearway.errors import ValidationFailed

service = Service("projects")


class CreateRequest(Request):
    name: str
    description: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    default_output_destination: str | None = None


class ProjectRequest(Request):
    project: str


class UpdateRequest(ProjectRequest):
    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    default_output_destination: str | None = None


class DeleteRequest(ProjectRequest):
    force: bool = False
    delete_contents: bool = False


class ProjectsGetAll(GetAllRequest):
    basename: str | None = None
    user: StrList = None
    shallow_search: bool = False


@service.endpoint("create", CreateRequest)
def create(call: Call, req: CreateRequest) -> dict[str, Any]:
    return {"id": call.services.projects.create(call.me, req.model_dump(exclude_none=True))["id"]}


@service.endpoint("get_by_id", ProjectRequest)
def get_by_id(call: Call, req: ProjectRequest) -> dict[str, Any]:
    return {"project": call.services.projects.get(call.me, req.project)}


# ClearML's rules for the fields projects.get_all filters on (see clearml_api/queries.py); ``user`` is ours.
PROJECT_FILTERS = FilterRules(
    patterns=("description",),
    lists=("user",),
    ranges=("last_update",),
    text=("id", "name", "description"),
    paths={"user": ("owner_id",)},
)


@service.endpoint("get_all", ProjectsGetAll)
def get_all(call: Call, req: ProjectsGetAll) -> dict[str, Any]:
    query = req.to_query(call.services.settings.max_page_size, rules=PROJECT_FILTERS)
    if req.basename is not None:
        if query.name is not None:
            raise ValidationFailed("name and basename cannot be combined")
        query.name = f"(^|/){re.escape(req.basename)}$"
    return {"projects": call.services.projects.list(call.me, query, req.only_fields)}


@service.endpoint("update", UpdateRequest)
def update(call: Call, req: UpdateRequest) -> dict[str, Any]:
    fields = req.model_dump(exclude_none=True, exclude={"project"})
    call.services.projects.update(call.me, req.project, fields)
    return {"updated": 1, "fields": fields}


@service.endpoint("delete", DeleteRequest)
def delete(call: Call, req: DeleteRequest) -> dict[str, Any]:
    return call.services.projects.delete(call.me, req.project, force=req.force, delete_contents=req.delete_contents)
