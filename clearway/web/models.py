"""The models list and the model page (GENERAL, LABELS, METADATA, LINEAGE); publish and archive."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.identity import Identity
from clearway.domain.query import Condition, InList, ListQuery, field_path, parse_tag_filter
from clearway.errors import NotFound
from clearway.services import Services
from clearway.store.base import Doc
from clearway.web import PREFIX
from clearway.web.projects import PAGE_SIZE, page_number
from clearway.web.rendering import checked_form, page, redirect
from clearway.web.task import local_url

MODEL_TABS = ["general", "labels", "metadata", "lineage"]
_FIELDS = [
    "id",
    "name",
    "framework",
    "ready",
    "user",
    "created",
    "last_update",
    "task",
    "project",
    "tags",
    "system_tags",
    "uri",
]


def routes(services: Services) -> list[Route]:
    def models(request: Request) -> Response:
        me = request_identity(request)
        name = request.query_params.get("name") or None
        archived = bool(request.query_params.get("archived"))
        query = ListQuery(
            name=f"(?i){re.escape(name)}" if name else None,
            system_tags=None if archived else parse_tag_filter(["-archived"]),
            order_by=["-created"],
            page=page_number(request),
            page_size=PAGE_SIZE,
        )
        found = services.models.list(me, query, _FIELDS)
        names = services.accounts.names(me, {m.get("user") or "" for m in found})
        return page(
            request,
            "models.html",
            models=found,
            names=names,
            page_number=page_number(request),
            has_next=len(found) == PAGE_SIZE,
        )

    def model_tab(request: Request) -> Response:
        me = request_identity(request)
        tab = request.path_params.get("tab", MODEL_TABS[0])
        if tab not in MODEL_TABS:
            raise NotFound(f"No tab {tab!r}")
        model = services.models.get(me, request.path_params["model_id"])
        task = _readable_task(services, me, model.get("task"))
        users = [task.get("user") if task else None, model.get("user")]
        names = services.accounts.names(me, {u for u in users if u})
        # LINEAGE: the task that made it, the tasks that use it as input, and its parent model.
        users_of = (
            services.tasks.list(me, ListQuery(where=[_uses(model["id"])], page_size=100), ["id", "name", "status"])
            if tab == "lineage"
            else []
        )
        return page(
            request,
            "model.html",
            model=model,
            tab=tab,
            tabs=MODEL_TABS,
            task=task,
            names=names,
            users_of=users_of,
            local_url=local_url,
        )

    async def model_action(request: Request) -> Response:
        await checked_form(request)
        me = request_identity(request)
        model_id, action = request.path_params["model_id"], request.path_params["action"]
        if action == "publish":
            await run_in_threadpool(services.models.set_ready, me, model_id, publish_task=False)
        elif action in ("archive", "unarchive"):
            await run_in_threadpool(services.models.set_archived, me, model_id, action == "archive")
        else:
            raise NotFound(f"No action {action!r}")
        return redirect(f"{PREFIX}/models/{model_id}/general")

    return [
        Route("/models", models, methods=["GET"]),
        Route("/models/{model_id}", model_tab, methods=["GET"]),
        Route("/models/{model_id}/actions/{action}", model_action, methods=["POST"]),
        Route("/models/{model_id}/{tab}", model_tab, methods=["GET"]),
    ]


def _uses(model_id: str) -> Condition:
    """Tasks that take the model as an input."""
    terms = parse_tag_filter([model_id])
    assert terms is not None
    return InList(field_path("models.input.model"), terms)


def _readable_task(services: Services, me: Identity, task_id: object) -> Doc | None:
    """The model's task, when the caller may read it (a shared model's task may be out of reach)."""
    if not isinstance(task_id, str) or not task_id:
        return None
    found = services.tasks.list(me, ListQuery(ids=[task_id], search_hidden=True), ["id", "name", "status", "user"])
    return found[0] if found else None
