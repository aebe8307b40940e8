"""Listing: a page of ``tasks.get_all`` (filters, order_by, only_fields, page_size 100) over a store of many tasks,
beside MLflow's ``runs/search`` page of the same size over as many runs."""

from __future__ import annotations

import hashlib
import time
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
    searches = _mlflow_searches(ctx, mlflow, s.tasks) if mlflow is not None else {}
    results = []
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        projects = _seed(server, s.tasks)
        http = ctx.stack.enter_context(server.client())
        queries = _queries(projects[0])
        labels = list(queries)
        measures = [_get_all(http, body) for body in queries.values()]
        for label in labels:
            if label in searches:
                _check_same_page(label, call(http, "tasks.get_all", queries[label])["tasks"], searches[label])
                measures.append(_search(*searches[label]))
        samples = interleave(s.latency_requests, *measures)
        theirs = dict(zip([label for label in labels if label in searches], samples[len(labels) :], strict=True))
        for i, label in enumerate(labels):
            results.append(
                Result(
                    "listing",
                    f"tasks.get_all {label}, {s.tasks:,} tasks [{backend.name}]",
                    "ms",
                    samples[i],
                    higher_is_better=False,
                    reference=f"MLflow runs/search, the same query over {s.tasks:,} runs" if label in theirs else None,
                    reference_samples=theirs.get(label, []),
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
                    "last_iteration": 0,
                    "last_metrics": _last_metrics(_loss(i)),
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


# The same tasks as MLflow runs: a project is an experiment, an archived task a deleted run, a tag a tag's value.
MLFLOW_STATUS = {"completed": "FINISHED", "failed": "FAILED", "in_progress": "RUNNING", "created": "SCHEDULED",
                 "stopped": "KILLED"}  # fmt: skip


# MLflow compares a status with one value only (IN is for run ids): completed or failed is "none of the others".
_FINISHED_OR_FAILED = " AND ".join(f"attributes.status != '{MLFLOW_STATUS[s]}'" for s in STATUSES[2:])


Search = tuple[httpx.Client, dict[str, Any]]


def _mlflow_searches(ctx: Context, mlflow: MlflowServer, count: int) -> dict[str, Search]:
    """For each of Clearway's queries (by label), the matching ``runs/search``: same filter, order and page."""
    http = ctx.stack.enter_context(mlflow.client())
    experiments = [
        mlflow_call(http, "experiments/create", {"name": f"listing {i}"})["experiment_id"] for i in range(PROJECTS)
    ]
    mlflow.seed_runs(experiments, _mlflow_runs(count))
    common = {"max_results": PAGE}
    one = {**common, "experiment_ids": [experiments[0]]}
    bodies = {
        "(one project, not archived, newest first)": {
            **one, "run_view_type": "ACTIVE_ONLY", "order_by": ["attributes.start_time DESC"]
        },
        "(all projects, status + type + tag, newest first)": {
            **common,
            "experiment_ids": experiments,
            "run_view_type": "ALL",
            "filter": f"{_FINISHED_OR_FAILED} AND tags.type = 'training' AND tags.family = 'resnet'",
            "order_by": ["attributes.start_time DESC"],
        },
        "(one project, by name, page 3)": {**one, "run_view_type": "ALL", "order_by": ["attributes.run_name ASC"]},
    }  # fmt: skip
    # Page 3 is asked for as MLflow's clients ask for it: with the token the second page gave (got once, untimed).
    token = None
    for _ in range(2):
        token = mlflow_call(http, "runs/search", {**bodies["(one project, by name, page 3)"], "page_token": token})[
            "next_page_token"
        ]
    bodies["(one project, by name, page 3)"]["page_token"] = token
    return {label: (http, body) for label, body in bodies.items()}


def _check_same_page(label: str, tasks: list[dict[str, Any]], search: Search) -> None:
    """Both sides answer the same page (the same names in the same order), or the comparison means nothing."""
    runs = mlflow_call(search[0], "runs/search", search[1]).get("runs", [])
    theirs = [run["info"]["run_name"] for run in runs]
    if [task["name"] for task in tasks] != theirs:
        raise RuntimeError(f"MLflow's page differs from Clearway's for {label}: {theirs[:3]}...")


def _search(http: httpx.Client, body: dict[str, Any]) -> Callable[[], float]:
    def measure() -> float:
        with stopwatch() as elapsed:
            runs = mlflow_call(http, "runs/search", body).get("runs", [])
        if not runs:
            raise RuntimeError(f"MLflow runs/search returned no runs for {body}")
        return elapsed() * 1000

    return measure


def _last_metrics(value: float) -> dict[str, Any]:
    """``loss/val`` at iteration 0, as a task's ``last_metrics`` holds it (keyed by the names' MD5)."""
    entry = {"metric": "loss", "variant": "val", "value": value, "iter": 0, "count": 1, "min_value": value,
             "min_value_iteration": 0, "max_value": value, "max_value_iteration": 0}  # fmt: skip
    return {hashlib.md5(b"loss").hexdigest(): {hashlib.md5(b"val").hexdigest(): entry}}


def _mlflow_runs(count: int) -> list[dict[str, Any]]:
    """What ``_seed`` gives the tasks, run by run: name, experiment (project), status, start time, deleted
    (archived), tags, the parameter and the metric."""
    now = int(time.time() * 1000)
    return [
        {
            "name": f"experiment {i:06d}",
            "experiment": i % PROJECTS,
            "status": MLFLOW_STATUS[STATUSES[i % len(STATUSES)]],
            "start_time": now - (count - i) * 1000,
            "deleted": i % 10 == 9,
            "tags": {"family": "resnet" if i % 3 == 0 else "bert", "batch": f"batch-{i % 7}", "type": TYPES[i % 4]},
            "params": {"lr": "0.001"},
            "metrics": {"loss/val": _loss(i)},
        }
        for i in range(count)
    ]


def _loss(i: int) -> float:
    return 1.0 / (1 + i % 97)
