"""Listing: a page of ``tasks.get_all`` (filters, order_by, only_fields, page_size 100) over a store of many tasks,
beside MLflow's ``runs/search`` page of the same size over as many runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from bench.backends import connect_raw
from bench.clearway_server import ClearwayServer, call
from bench.common import Context, Result, at_most, interleave, stopwatch
from bench.mlflow_server import MlflowServer
from bench.mlflow_server import call as mlflow_call

TITLE = "Listing"
PAGE = 100
PROJECTS = 10
STATUSES = ("completed", "failed", "in_progress", "created", "stopped")
TYPES = ("training", "testing", "inference", "data_processing")
ONLY_FIELDS = ["id", "name", "status", "type", "user", "project", "tags", "system_tags", "created", "last_update"]
TARGET = at_most(50, "ms p50")


def run(ctx: Context) -> list[Result]:
    s = ctx.sizes
    mlflow = ctx.mlflow()
    search = _mlflow_search(ctx, mlflow, s.tasks) if mlflow is not None else None
    results = []
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        projects = _seed(server, s.tasks)
        http = ctx.stack.enter_context(server.client())
        queries = _queries(projects[0])
        measures = [_get_all(http, body) for body in queries.values()]
        if search is not None:
            measures.append(search)
        samples = interleave(s.latency_requests, *measures)
        for i, label in enumerate(queries):
            results.append(
                Result(
                    "listing",
                    f"tasks.get_all {label}, {s.tasks:,} tasks [{backend.name}]",
                    "ms",
                    samples[i],
                    higher_is_better=False,
                    reference=f"MLflow runs/search page, {s.tasks:,} runs" if search is not None else None,
                    reference_samples=samples[-1] if search is not None else [],
                    target=TARGET,
                )
            )
    return results


def _queries(project: str) -> dict[str, dict[str, Any]]:
    common = {"only_fields": ONLY_FIELDS, "page_size": PAGE}
    return {
        "(one project, not archived, newest first)": {
            **common,
            "project": [project],
            "system_tags": ["-archived"],
            "order_by": ["-last_update"],
            "page": 0,
        },
        "(all projects, status + type + tag, newest first)": {
            **common,
            "status": ["completed", "failed"],
            "type": ["training"],
            "tags": ["resnet"],
            "order_by": ["-last_update"],
            "page": 0,
        },
        "(one project, by name, page 3)": {
            **common,
            "project": [project],
            "order_by": ["name"],
            "page": 2,
        },
    }


def _get_all(http: httpx.Client, body: dict[str, Any]) -> Callable[[], float]:
    def measure() -> float:
        with stopwatch() as elapsed:
            tasks = call(http, "tasks.get_all", body)["tasks"]
        if not tasks:
            raise RuntimeError(f"tasks.get_all returned no tasks for {body}")
        return elapsed() * 1000

    return measure


def _seed(server: ClearwayServer, count: int) -> list[str]:
    """``count`` tasks in a few projects, with mixed statuses, types, tags and times; returns the project ids.

    One task is made by the domain (``Tasks.create``); the others are copies of it given their own id, fields and
    status (``apply_status``), inserted through the store in one transaction: the same documents, quickly.
    """
    from clearway.domain.ids import new_id
    from clearway.domain.task_status import Status, apply_status
    from clearway.timeutil import iso, utcnow

    me = server.identity
    start = utcnow() - timedelta(seconds=count)
    with server.services() as services:
        projects = [services.projects.create(me, {"name": f"listing {i}"})["id"] for i in range(PROJECTS)]
        hyperparams = {"General": {"lr": {"section": "General", "name": "lr", "value": "0.001"}}}
        template = services.tasks.create(me, {"name": "template", "type": "training", "hyperparams": hyperparams})
        with services.stores.transaction():
            for i in range(count):
                moment = iso(start + timedelta(seconds=i))
                doc = {
                    **template,
                    "id": new_id(),
                    "name": f"experiment {i:06d}",
                    "type": TYPES[i % len(TYPES)],
                    "project": projects[i % PROJECTS],
                    "tags": ["resnet" if i % 3 == 0 else "bert", f"batch-{i % 7}"],
                    "system_tags": ["archived"] if i % 10 == 9 else [],
                    "created": moment,
                    "last_update": moment,
                }
                status = Status(STATUSES[i % len(STATUSES)])
                if status is not Status.CREATED:
                    doc = {**apply_status(doc, status), "last_update": moment}
                services.stores.tasks.insert(me.org_id, me.user_id, doc)
    if server.backend.name == "postgresql":
        # What autovacuum does within a minute of a bulk load: without statistics the planner guesses badly.
        with connect_raw(server.database_url) as conn:
            conn.execute("ANALYZE tasks")
    return projects


def _mlflow_search(ctx: Context, mlflow: MlflowServer, count: int) -> Callable[[], float]:
    http = ctx.stack.enter_context(mlflow.client())
    experiment = mlflow_call(http, "experiments/create", {"name": "bench-listing"})["experiment_id"]
    mlflow.seed_runs(experiment, count)
    body = {
        "experiment_ids": [experiment],
        "filter": "attributes.status = 'FINISHED'",
        "order_by": ["attributes.start_time DESC"],
        "max_results": PAGE,
    }

    def measure() -> float:
        with stopwatch() as elapsed:
            runs = mlflow_call(http, "runs/search", body).get("runs", [])
        if not runs:
            raise RuntimeError("MLflow runs/search returned no runs")
        return elapsed() * 1000

    return measure
