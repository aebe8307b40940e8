"""Footprint: seconds from process start to the first answered API call, and resident memory when idle
(summed over every process of the server), for Clearway and for MLflow. Memory after ingestion is in ``ingest``."""

from __future__ import annotations

import time
from typing import Protocol

from bench.common import Context, Result, at_most

TITLE = "Footprint"
SETTLE_SECONDS = 2.0  # after the first answer, before reading idle memory
START_TARGET = at_most(1.5, "s")
IDLE_TARGET = at_most(120, "MiB")


class _Server(Protocol):
    """What this section uses of ClearwayServer and MlflowServer."""

    def start(self) -> float: ...
    def stop(self) -> None: ...
    def rss_mb(self) -> float: ...


def run(ctx: Context) -> list[Result]:
    """Restarts interleaved (Clearway on each database, then MLflow, in turn), each from a database already set up
    by the server's first start, which is not counted on either side."""
    servers: dict[str, _Server] = {backend.name: ctx.clearway(backend) for backend in ctx.backends}
    mlflow = ctx.mlflow()
    if mlflow is not None:
        servers["mlflow"] = mlflow
    measured: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in servers}
    for turn in range(max(ctx.sizes.starts, ctx.sizes.mlflow_starts)):
        for name, server in servers.items():
            if turn >= (ctx.sizes.mlflow_starts if name == "mlflow" else ctx.sizes.starts):
                continue
            starts, idle = measured[name]
            server.stop()
            starts.append(server.start())
            time.sleep(SETTLE_SECONDS)
            idle.append(server.rss_mb())
    theirs = measured.get("mlflow", ([], []))
    reference = "MLflow, default settings" if mlflow is not None else None
    results = []
    for backend in ctx.backends:
        starts, idle = measured[backend.name]
        results += [
            Result(
                "footprint",
                f"start to first answered API call, database already set up [{backend.name}]",
                "s",
                starts,
                higher_is_better=False,
                reference=reference,
                reference_samples=theirs[0],
                target=START_TARGET,
            ),
            Result(
                "footprint",
                f"resident memory, idle [{backend.name}]",
                "MiB",
                idle,
                higher_is_better=False,
                reference=reference,
                reference_samples=theirs[1],
                target=IDLE_TARGET,
            ),
        ]
    return results
