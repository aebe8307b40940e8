"""Reading back: a scalar series (``events.scalar_metrics_iter_histogram``) beside MLflow's ``metrics/get-history``,
and a long console log paged through ``events.get_task_log`` beside the driver's own select of the same rows."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bench.clearway_server import ClearwayServer, call
from bench.common import Context, Result, interleave, stopwatch
from bench.mlflow_server import MlflowServer, new_run
from bench.raw import select_seconds
from bench.workload import log_lines, mlflow_batch, scalar_lines, scalar_points

TITLE = "Reading back"
SEED_BATCH = 5000


def run(ctx: Context) -> list[Result]:
    s = ctx.sizes
    mlflow = ctx.mlflow()
    history = _mlflow_history(ctx, mlflow, s.series_points) if mlflow is not None else None
    results = []
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        http = ctx.stack.enter_context(server.client())
        task = _seeded_task(http, s.series_points, s.log_lines)
        db = backend.name
        series = f"scalar_metrics_iter_histogram, {s.series_points:,} points [{db}]"
        measures = [_histogram(http, task, s.series_points), _raw_scalars(server, task, s.series_points)]
        if history is not None:
            measures.append(history)
        samples = interleave(s.latency_requests, *measures)
        results.append(_row(series, samples[0], f"raw {db} select of the points", samples[1]))
        if history is not None:
            results.append(
                _row(series, samples[0], f"MLflow metrics/get-history, {s.series_points:,} points", samples[2])
            )
        log, raw_log = interleave(
            ctx.runs, _log(http, task, s.log_lines, s.log_page), _raw_log(server, task, s.log_lines)
        )
        name = f"get_task_log, {s.log_lines:,} lines in pages of {s.log_page:,} [{db}]"
        results.append(_row(name, log, f"raw {db} select of the lines", raw_log))
    return results


def _row(name: str, mine: list[float], reference: str, theirs: list[float]) -> Result:
    return Result("reads", name, "ms", mine, higher_is_better=False, reference=reference, reference_samples=theirs)


def _seeded_task(http: httpx.Client, points: int, lines: int) -> str:
    task = call(http, "tasks.create", {"name": "reads", "type": "training"})["id"]
    for start in range(0, points, SEED_BATCH):
        call(
            http,
            "events.add_batch",
            content=scalar_lines(task, scalar_points(start, min(SEED_BATCH, points - start), 1)),
        )
    for start in range(0, lines, SEED_BATCH):
        call(http, "events.add_batch", content=log_lines(task, start, min(SEED_BATCH, lines - start)))
    return task


def _histogram(http: httpx.Client, task: str, points: int) -> Callable[[], float]:
    def measure() -> float:
        with stopwatch() as elapsed:
            data = call(http, "events.scalar_metrics_iter_histogram", {"task": task, "key": "iter"})
        if len(data["loss"]["train"]["y"]) != points:
            raise RuntimeError("scalar_metrics_iter_histogram returned the wrong number of points")
        return elapsed() * 1000

    return measure


def _log(http: httpx.Client, task: str, lines: int, page: int) -> Callable[[], float]:
    def measure() -> float:
        seen = 0
        scroll = None
        with stopwatch() as elapsed:
            while True:
                body = {"task": task, "batch_size": page, "navigate_earlier": True, "scroll_id": scroll}
                data = call(http, "events.get_task_log", body)
                if not data["returned"]:
                    break
                seen += data["returned"]
                scroll = data["scroll_id"]
        if seen != lines:
            raise RuntimeError(f"get_task_log paged {seen} lines, expected {lines}")
        return elapsed() * 1000

    return measure


def _raw_scalars(server: ClearwayServer, task: str, points: int) -> Callable[[], float]:
    sql = (
        "SELECT metric, variant, iter, value, timestamp FROM scalar_events WHERE task = ?"
        " ORDER BY metric, variant, iter, id"
    )
    return lambda: select_seconds(server.database_url, sql, (task,), points) * 1000


def _raw_log(server: ClearwayServer, task: str, lines: int) -> Callable[[], float]:
    sql = "SELECT timestamp, level, worker, msg FROM log_events WHERE task = ? ORDER BY timestamp DESC, id DESC"
    return lambda: select_seconds(server.database_url, sql, (task,), lines) * 1000


def _mlflow_history(ctx: Context, mlflow: MlflowServer, points: int) -> Callable[[], float]:
    http = ctx.stack.enter_context(mlflow.client())
    run_id = new_run(http, "bench-reads")
    for start in range(0, points, 1000):
        body = mlflow_batch(run_id, scalar_points(start, min(1000, points - start), 1))
        http.post("/runs/log-batch", content=body, headers={"Content-Type": "application/json"}).raise_for_status()

    def measure() -> float:
        params = {"run_id": run_id, "metric_key": "loss/train", "max_results": points}
        with stopwatch() as elapsed:
            response = http.get("/metrics/get-history", params=params)
        response.raise_for_status()
        if len(response.json()["metrics"]) != points:
            raise RuntimeError("MLflow get-history returned the wrong number of points")
        return elapsed() * 1000

    return measure
