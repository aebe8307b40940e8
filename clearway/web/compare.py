"""Compare 2-10 tasks: hyperparameters side by side, and their scalars overlaid (one chart per metric)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.errors import ValidationFailed
from clearway.services import Services
from clearway.store.base import Doc
from clearway.web.rendering import page, secured
from clearway.web.task import SCALAR_POINTS

MAX_TASKS = 10


def _task_ids(request: Request) -> list[str]:
    ids = list(dict.fromkeys(t for t in request.query_params.getlist("task") if t))
    if not 2 <= len(ids) <= MAX_TASKS:
        raise ValidationFailed(f"compare 2 to {MAX_TASKS} tasks (task=ID, repeated)")
    return ids


def param_rows(tasks: list[Doc]) -> list[tuple[str, list[str], bool]]:
    """(section/name, the value in each task, whether they differ), every parameter any of them has."""
    keys = sorted({f"{s}/{n}" for t in tasks for s, ps in (t.get("hyperparams") or {}).items() for n in ps or {}})
    rows = []
    for key in keys:
        section, _, name = key.partition("/")
        values = [str(((t.get("hyperparams") or {}).get(section) or {}).get(name, {}).get("value", "")) for t in tasks]
        rows.append((key, values, len(set(values)) > 1))
    return rows


def routes(services: Services) -> list[Route]:
    def compare(request: Request) -> Response:
        me = request_identity(request)
        tasks = [services.tasks.get(me, task_id) for task_id in _task_ids(request)]
        return page(request, "compare.html", tasks=tasks, rows=param_rows(tasks), query=request.url.query)

    def scalars(request: Request) -> Response:
        me = request_identity(request)
        charts: dict[str, list[dict[str, object]]] = {}
        for task_id in _task_ids(request):
            name = services.tasks.get(me, task_id).get("name") or task_id
            found = services.events.scalar_histogram(me, task_id, "iter", SCALAR_POINTS)
            for metric, variants in found.items():
                for variant, series in sorted(variants.items()):
                    charts.setdefault(metric, []).append(
                        {"name": f"{name}: {variant}", "x": series["x"], "y": series["y"]}
                    )
        body = {"charts": [{"metric": m, "series": s} for m, s in sorted(charts.items())]}
        return secured(Response(orjson.dumps(body), media_type="application/json"))

    return [Route("/compare", compare, methods=["GET"]), Route("/compare/scalars.json", scalars, methods=["GET"])]
