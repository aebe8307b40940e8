"""Web UI: the server time of the tasks table (a page of 50 of one project, newest first, with a hyperparameter
and a last-metric column) over the listing section's store of many tasks, beside ``tasks.get_all`` of the same page
through the ClearML API (the same domain call without the page around it). Runnable alone:
``python -m bench --sections web_ui``."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bench.clearway_server import ClearwayServer, call
from bench.common import Context, Result, at_most, interleave, stopwatch
from bench.listing import _seed
from clearway.web.projects import FIELDS as TABLE_FIELDS

TITLE = "Web UI"
TARGET = at_most(50, "ms p50")
PAGE = 50


def run(ctx: Context) -> list[Result]:
    s = ctx.sizes
    results = []
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        project = _project(server, s.tasks)
        http = ctx.stack.enter_context(server.client())
        page = f"/web/tasks?project={project}&hp=General/lr&metric=loss/train"
        body = {
            "project": [project],
            "system_tags": ["-archived"],
            "order_by": ["-last_update"],
            "page": 0,
            "page_size": PAGE,
            "only_fields": TABLE_FIELDS,
        }
        samples = interleave(s.latency_requests, _web(http, page), _api(http, body))
        results.append(
            Result(
                "web_ui",
                f"tasks table page of {PAGE}, {s.tasks:,} tasks [{backend.name}]",
                "ms",
                samples[0],
                higher_is_better=False,
                reference="tasks.get_all of the same page",
                reference_samples=samples[1],
                target=TARGET,
            )
        )
    return results


def _project(server: ClearwayServer, count: int) -> str:
    """A project of the listing section's store, seeded here when that section did not run in this run."""
    with server.client() as http:
        found = call(http, "projects.get_all", {"name": "^listing 0$"})["projects"]
    return found[0]["id"] if found else _seed(server, count)[0]


def _web(http: httpx.Client, path: str) -> Callable[[], float]:
    def measure() -> float:
        with stopwatch() as elapsed:
            response = http.get(path)
        if response.status_code != 200 or "experiment" not in response.text:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return elapsed() * 1000

    return measure


def _api(http: httpx.Client, body: dict[str, object]) -> Callable[[], float]:
    def measure() -> float:
        with stopwatch() as elapsed:
            tasks = call(http, "tasks.get_all", body)["tasks"]
        if not tasks:
            raise RuntimeError("tasks.get_all returned no tasks")
        return elapsed() * 1000

    return measure
