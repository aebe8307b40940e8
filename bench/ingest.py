"""Scalar ingestion: points per second through ``events.add_batch`` (one client and several at once) beside MLflow's
``runs/log-batch`` (as users run MLflow, and on Clearway's SQLite settings) and the driver's own bulk insert of the
same rows; and each side's own client logging the same points: the ClearML SDK against Clearway, MLflow's client
against MLflow."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bench import mlflow_client, sdk_ingest
from bench.backends import Backend
from bench.clearway_server import ClearwayServer, call
from bench.common import Context, Result, Target, at_least, interleave, stopwatch
from bench.mlflow_server import MlflowServer, new_run
from bench.raw import RawScalarTable
from bench.workload import mlflow_batch, scalar_lines, scalar_points

TITLE = "Scalar ingestion"
MLFLOW_TARGET = at_least(10, "MLflow")
RAW_TARGET = at_least(0.5, "raw insert")
Measure = Callable[[], float]


def run(ctx: Context) -> list[Result]:
    s = ctx.sizes
    one_client = s.batch * s.batches_one_client
    measures: dict[str, Measure] = {}
    raw: dict[str, str] = {}  # database -> how its raw reference inserts
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        measures[f"cw1:{backend.name}"] = _clearway(ctx, server, clients=1, batches=s.batches_one_client, batch=s.batch)
        measures[f"cw{s.clients}:{backend.name}"] = _clearway(
            ctx, server, clients=s.clients, batches=s.batches_per_client, batch=s.batch
        )
        measures[f"raw:{backend.name}"], raw[backend.name] = _raw(ctx, backend, one_client)
    mlflow = ctx.mlflow()
    same = ctx.mlflow(same_sqlite=True)
    if mlflow is not None and same is not None:
        measures["ml1"] = _mlflow(ctx, mlflow, clients=1, batches=s.batches_one_client, batch=s.batch)
        measures[f"ml{s.clients}"] = _mlflow(
            ctx, mlflow, clients=s.clients, batches=s.batches_per_client, batch=s.batch
        )
        # MLflow on Clearway's SQLite settings: what of the ratio is design, what is configuration.
        measures["ml1-same"] = _mlflow(ctx, same, clients=1, batches=s.batches_one_client, batch=s.batch)
        measures[f"ml{s.clients}-same"] = _mlflow(
            ctx, same, clients=s.clients, batches=s.batches_per_client, batch=s.batch
        )
    names = list(measures)
    samples = dict(zip(names, interleave(ctx.runs, *measures.values()), strict=True))

    results: list[Result] = []
    for backend in ctx.backends:
        db = backend.name
        for clients in (1, s.clients):
            name = f"events.add_batch, {clients} client{'s' if clients > 1 else ''} [{db}]"
            mine = samples[f"cw{clients}:{db}"]
            if mlflow is not None:
                results.append(_row(name, mine, f"MLflow log-batch, {clients} client(s)", samples[f"ml{clients}"]))
                same_label = f"MLflow log-batch, {clients} client(s), same SQLite settings"
                results.append(_row(name, mine, same_label, samples[f"ml{clients}-same"]))
            results.append(_row(name, mine, raw[db], samples[f"raw:{db}"], RAW_TARGET))
        results += _sdk_rows(ctx, backend, mlflow, samples[f"raw:{db}"], raw[db])
    results.extend(_memory_after(ctx, mlflow))
    return results


def _sdk_rows(
    ctx: Context, backend: Backend, mlflow: MlflowServer | None, raw_samples: list[float], raw: str
) -> list[Result]:
    """Each side's own client logging the same points: the ClearML SDK's ``report_scalar`` loop against Clearway,
    MLflow's ``log_metrics`` loop (and ``log_batch``) against MLflow, interleaved run by run."""
    points = ctx.sizes.sdk_points
    loop_alone: list[float] = []

    def clearml_sdk() -> float:
        end_to_end, loop = sdk_ingest.points_per_second(ctx, ctx.clearway(backend), points)
        loop_alone.append(loop)
        return end_to_end

    measures: list[Callable[[], float]] = [clearml_sdk]
    if mlflow is not None:
        log = mlflow_client.points_per_second
        measures += [partial(log, ctx, mlflow, mode, points) for mode in mlflow_client.MODES]
    sdk, *theirs = interleave(ctx.runs, *measures)
    name = f"SDK Logger.report_scalar loop, {points:,} points [{backend.name}]"
    note = f"the SDK's loop alone: {statistics.median(loop_alone):,.0f} points/s"
    labels = list(mlflow_client.MODES.values()) if mlflow is not None else []
    rows = [
        _row(name, sdk, f"MLflow's own client: {label}", samples, note=note)
        for label, samples in zip(labels, theirs, strict=True)
    ]
    return [*rows, _row(name, sdk, raw, raw_samples, RAW_TARGET, note=note)]


def _row(
    name: str, mine: list[float], reference: str, theirs: list[float], target: Target = MLFLOW_TARGET, note: str = ""
) -> Result:
    return Result(
        "ingest", name, "points/s", mine, reference=reference, reference_samples=theirs, target=target, note=note
    )


def _memory_after(ctx: Context, mlflow: MlflowServer | None) -> list[Result]:
    reference = [mlflow.rss_mb()] if mlflow is not None else []
    return [
        Result(
            "footprint",
            f"resident memory after ingestion [{backend.name}]",
            "MiB",
            [ctx.clearway(backend).rss_mb()],
            higher_is_better=False,
            reference="MLflow after the same ingestion" if reference else None,
            reference_samples=reference,
        )
        for backend in ctx.backends
    ]


def _in_parallel(clients: int, send: Callable[[int], int]) -> float:
    """Points per second with ``clients`` threads each calling ``send(i)`` (which returns its point count)."""
    start = threading.Barrier(clients + 1)

    def worker(i: int) -> int:
        start.wait()
        return send(i)

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker, i) for i in range(clients)]
        with stopwatch() as elapsed:
            start.wait()
            total = sum(f.result() for f in futures)
    return total / elapsed()


def _clearway(ctx: Context, server: ClearwayServer, *, clients: int, batches: int, batch: int) -> Measure:
    https = [ctx.stack.enter_context(server.client()) for _ in range(clients)]
    tasks = [
        call(http, "tasks.create", {"name": f"ingest {i}", "type": "training"})["id"] for i, http in enumerate(https)
    ]
    offset = [0]

    def measure() -> float:
        start = offset[0]
        offset[0] += batches * batch
        bodies = [
            [scalar_lines(task, scalar_points(start + k * batch, batch)) for k in range(batches)] for task in tasks
        ]

        def send(i: int) -> int:
            for body in bodies[i]:
                added = call(https[i], "events.add_batch", content=body)["added"]
                if added != batch:
                    raise RuntimeError(f"events.add_batch added {added} of {batch}")
            return batches * batch

        return _in_parallel(clients, send)

    return measure


def _mlflow(ctx: Context, server: MlflowServer, *, clients: int, batches: int, batch: int) -> Measure:
    https = [ctx.stack.enter_context(server.client()) for _ in range(clients)]
    runs = [new_run(http, "bench-ingest") for http in https]
    offset = [0]

    def measure() -> float:
        start = offset[0]
        offset[0] += batches * batch
        bodies = [[mlflow_batch(run, scalar_points(start + k * batch, batch)) for k in range(batches)] for run in runs]

        def send(i: int) -> int:
            for body in bodies[i]:
                response = https[i].post("/runs/log-batch", content=body, headers={"Content-Type": "application/json"})
                if response.status_code != 200:
                    raise RuntimeError(f"mlflow log-batch failed ({response.status_code}): {response.text[:300]}")
            return batches * batch

        return _in_parallel(clients, send)

    return measure


def _raw(ctx: Context, backend: Backend, points: int) -> tuple[Measure, str]:
    url = ctx.stack.enter_context(backend.database(ctx.fresh_dir(f"raw-{backend.name}")))
    table = RawScalarTable(url)
    ctx.stack.callback(table.close)
    offset = [0]

    def measure() -> float:
        start = offset[0]
        offset[0] += points
        return table.insert_rate("0" * 32, scalar_points(start, points))

    return measure, table.method
