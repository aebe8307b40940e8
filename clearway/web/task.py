"""The task page and its tabs: EXECUTION, CONFIGURATION, ARTIFACTS, INFO, CONSOLE, SCALARS, PLOTS, DEBUG SAMPLES."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.identity import Identity
from clearway.domain.query import ListQuery
from clearway.errors import ClearwayError, NotFound
from clearway.services import Services
from clearway.store.base import Doc
from clearway.web.rendering import page, secured

TABS = ["execution", "configuration", "artifacts", "info", "console", "scalars", "plots", "debug"]
TAB_NAMES = {"debug": "DEBUG SAMPLES"}
CONSOLE_BATCH = 200
SEARCH_SCAN = 20_000  # console lines a search reads at most
SCALAR_POINTS = 10_000  # per series, downsampled past that


def local_url(uri: Any) -> str | None:
    """A link for a stored file: our own file server's paths stay on this site (so the session cookie goes with
    the download); other http(s) addresses as they are; anything else (s3://, file://) is not a link."""
    if not isinstance(uri, str):
        return None
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return None
    if parts.path.startswith("/files/"):
        return parts.path
    return uri


def user_properties(doc: Doc) -> dict[str, Any]:
    return (doc.get("hyperparams") or {}).get("properties") or {}


def routes(services: Services) -> list[Route]:
    def task_tab(request: Request) -> Response:
        me = request_identity(request)
        tab = request.path_params.get("tab", TABS[0])
        if tab not in TABS:
            raise NotFound(f"No tab {tab!r}")
        task = services.tasks.get(me, request.path_params["task_id"])
        context: dict[str, Any] = {}
        if tab == "console":
            context = _console(services, me, task["id"], request)
        elif tab == "plots":
            context = {"plots": _plots(services, me, task["id"])}
        elif tab == "debug":
            context = {"samples": services.events.debug_images(me, task["id"], 3)["metrics"]}
        elif tab == "artifacts":
            context = {"output_model": services.models.output_of(me, task["id"])}
        names = services.accounts.names(me, {task.get("user") or ""})
        project = _project_name(services, me, task)
        return page(
            request,
            "task.html",
            inline_styles=tab == "plots",
            task=task,
            tab=tab,
            tabs=TABS,
            tab_names=TAB_NAMES,
            owner=names.get(task.get("user") or "", ""),
            project_name=project,
            local_url=local_url,
            user_properties=user_properties(task),
            queues=services.queues.list(me, _all_queues(), None) if tab == "execution" else [],
            **context,
        )

    def console_lines(request: Request) -> Response:
        me = request_identity(request)
        task = services.tasks.get(me, request.path_params["task_id"])
        return page(request, "console_lines.html", task=task, **_console(services, me, task["id"], request))

    def scalars(request: Request) -> Response:
        """The task's scalars for uPlot: per metric, the iterations and one series per variant."""
        me = request_identity(request)
        found = services.events.scalar_histogram(me, request.path_params["task_id"], "iter", SCALAR_POINTS)
        charts = []
        for metric, variants in sorted(found.items()):
            series = [{"name": name, "x": v["x"], "y": v["y"]} for name, v in sorted(variants.items())]
            charts.append({"metric": metric, "series": series})
        response = Response(orjson.dumps({"charts": charts}), media_type="application/json")
        return secured(response)

    return [
        Route("/tasks/{task_id}", task_tab, methods=["GET"]),
        Route("/tasks/{task_id}/scalars.json", scalars, methods=["GET"]),
        Route("/tasks/{task_id}/console/lines", console_lines, methods=["GET"]),
        Route("/tasks/{task_id}/{tab}", task_tab, methods=["GET"]),
    ]


def _all_queues() -> ListQuery:
    return ListQuery(order_by=["name"], page_size=200)


def _project_name(services: Services, me: Identity, task: Doc) -> str:
    project_id = task.get("project")
    if not project_id:
        return ""
    try:
        return str(services.projects.get(me, project_id).get("name") or "")
    except ClearwayError:  # a task shared with the caller, in a project the caller may not read
        return ""


def _console(services: Services, me: Identity, task_id: str, request: Request) -> dict[str, Any]:
    """One page of console lines, oldest first, from the ``scroll`` position; with ``q``, only the lines that
    contain it (reading at most :data:`SEARCH_SCAN` events from the position). ``next_scroll`` is None at the end."""
    query = (request.query_params.get("q") or "").strip()
    needle = query.lower()
    scroll: str | None = request.query_params.get("scroll") or None
    lines: list[Doc] = []
    scanned, total = 0, 0
    while len(lines) < CONSOLE_BATCH and scanned < (SEARCH_SCAN if query else CONSOLE_BATCH):
        log = services.events.task_log(
            me,
            task_id,
            batch_size=CONSOLE_BATCH,
            navigate_earlier=False,
            order="asc",
            scroll_id=scroll,
            from_timestamp=None,
        )
        total, events, scroll = log["total"], log["events"], log["scroll_id"]
        scanned += len(events)
        for event in events:  # the SDK sends several printed lines in one event
            for line in str(event.get("msg", "")).splitlines():
                if needle in line.lower():
                    lines.append({"timestamp": event.get("timestamp"), "msg": line})
        if len(events) < CONSOLE_BATCH:
            scroll = None
            break
    return {"lines": lines, "next_scroll": scroll, "q": query, "total": total}


def _plots(services: Services, me: Identity, task_id: str) -> list[Doc]:
    out = []
    for event in services.events.plots(me, task_id, 1)["plots"]:
        try:
            figure = json.loads(event.get("plot_str") or "{}")
        except ValueError:
            continue
        if isinstance(figure, dict):
            title = f"{event.get('metric', '')} / {event.get('variant', '')}"
            out.append({"title": title, "iter": event.get("iter"), "figure": figure})
    return out
