"""Actions on a task from its page: clone (with edited parameters), enqueue, abort, reset, archive, publish."""

from __future__ import annotations

import copy
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.identity import Identity
from clearway.domain.task_outputs import Options
from clearway.domain.task_status import Status
from clearway.errors import NotFound
from clearway.services import Services
from clearway.web import PREFIX
from clearway.web.rendering import checked_form, redirect, text

Action = Callable[[Services, Identity, str, FormData], str]


def _clone(services: Services, me: Identity, task_id: str, form: FormData) -> str:
    source = services.tasks.get(me, task_id)
    params = copy.deepcopy(source.get("hyperparams") or {})
    for key, value in form.multi_items():
        if isinstance(value, str) and key.startswith("hp:"):
            section, _, name = key[3:].partition("/")
            if section in params and name in params[section]:
                params[section][name] = {**params[section][name], "value": value}
    clone = services.tasks.clone(me, task_id, {"name": text(form, "name") or None, "hyperparams": params})
    return clone["id"]


def _enqueue(services: Services, me: Identity, task_id: str, form: FormData) -> str:
    services.dispatch.enqueue(me, task_id, queue_id=text(form, "queue") or None, reason="enqueued from the web UI")
    return task_id


def _abort(services: Services, me: Identity, task_id: str, _form: FormData) -> str:
    services.dispatch.stop(me, task_id, reason="aborted from the web UI")
    return task_id


def _reset(services: Services, me: Identity, task_id: str, _form: FormData) -> str:
    services.task_outputs.reset(me, task_id, force=False, clear_all=False, options=Options())
    return task_id


def _publish(services: Services, me: Identity, task_id: str, _form: FormData) -> str:
    services.tasks.change_status(me, task_id, Status.PUBLISHED, reason="published from the web UI")
    return task_id


def _archive(services: Services, me: Identity, task_id: str, _form: FormData) -> str:
    services.tasks.add_system_tag(me, task_id, "archived")
    return task_id


def _unarchive(services: Services, me: Identity, task_id: str, _form: FormData) -> str:
    services.tasks.mutate(
        me, task_id, lambda doc: {**doc, "system_tags": [t for t in doc.get("system_tags") or [] if t != "archived"]}
    )
    return task_id


ACTIONS: dict[str, Action] = {
    "clone": _clone,
    "enqueue": _enqueue,
    "abort": _abort,
    "reset": _reset,
    "publish": _publish,
    "archive": _archive,
    "unarchive": _unarchive,
}


def routes(services: Services) -> list[Route]:
    async def act(request: Request) -> Response:
        form = await checked_form(request)
        action = ACTIONS.get(request.path_params["action"])
        if action is None:
            raise NotFound(f"No action {request.path_params['action']!r}")
        me = request_identity(request)
        shown = await run_in_threadpool(action, services, me, request.path_params["task_id"], form)
        return redirect(f"{PREFIX}/tasks/{shown}/execution")

    return [Route("/tasks/{task_id}/actions/{action}", act, methods=["POST"])]
