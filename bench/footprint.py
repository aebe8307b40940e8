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

    start_seconds: list[float]

    def start(self) -> float: ...
    def stop(self) -> None: ...
    def rss_mb(self) -> float: ...


def run(ctx: Context) -> list[Result]:
    # Clearway first: MLflow keeps its many processes busy for a while after it answers, which would slow the
    # starts measured next to it (1.9 s instead of 0.9 s here).
    mine = {backend.name: _restarts(ctx.clearway(backend), ctx.sizes.starts) for backend in ctx.backends}
    mlflow = ctx.mlflow()
    theirs = _restarts(mlflow, ctx.sizes.mlflow_starts) if mlflow is not None else ([], [])
    results = []
    for backend in ctx.backends:
        starts, idle = mine[backend.name]
        reference = "MLflow" if mlflow is not None else None
        results += [
            Result(
                "footprint",
                f"start to first answered API call [{backend.name}]",
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


def _restarts(server: _Server, starts: int) -> tuple[list[float], list[float]]:
    """Restart the server until it has been started ``starts`` times (at least once more here); every start
    time it has seen, and its idle memory after each restart made here."""
    idle = []
    while not idle or len(server.start_seconds) < starts:
        server.stop()
        server.start()
        time.sleep(SETTLE_SECONDS)
        idle.append(server.rss_mb())
    return server.start_seconds[-max(starts, len(idle)) :], idle
