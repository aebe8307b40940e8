"""MLflow's own client in a subprocess (the MLflow virtual environment's Python), logging the same points as the
SDK's ``Logger.report_scalar`` loop, as an MLflow user writes it: ``mlflow.log_metrics`` per point with
``synchronous=False`` (MLflow's background batching, as the ClearML SDK batches in the background), or
``MlflowClient.log_batch`` 1,000 metrics at a time. Timed until every point is stored (``flush_async_logging``)."""

from __future__ import annotations

import os
import subprocess

from bench.common import Context
from bench.mlflow_env import VENV
from bench.mlflow_server import MlflowServer
from bench.workload import SERIES

MODES = {
    "log_metrics": "mlflow.log_metrics per point, synchronous=False",
    "log_batch": "MlflowClient.log_batch, 1,000 metrics per call",
}
SCRIPT = f"""
import sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

mode, points = sys.argv[1], int(sys.argv[2])
series = {SERIES!r}
mlflow.set_experiment("bench-sdk")
run = mlflow.start_run()
print("RUN", run.info.run_id, flush=True)
print("START", time.time(), flush=True)
if mode == "log_metrics":
    for n in range(points):
        metric, variant = series[n % len(series)]
        mlflow.log_metrics({{f"{{metric}}/{{variant}}": 1.0 / (1 + n)}}, step=n // len(series), synchronous=False)
    print("LOOPED", time.time(), flush=True)
    mlflow.flush_async_logging()
else:
    client, now = MlflowClient(), int(time.time() * 1000)
    for first in range(0, points, 1000):
        batch = []
        for n in range(first, min(points, first + 1000)):
            metric, variant = series[n % len(series)]
            batch.append(Metric(f"{{metric}}/{{variant}}", 1.0 / (1 + n), now + n, n // len(series)))
        client.log_batch(run.info.run_id, metrics=batch)
    print("LOOPED", time.time(), flush=True)
print("FLUSHED", time.time(), flush=True)
mlflow.end_run()
"""


def points_per_second(ctx: Context, server: MlflowServer, mode: str, points: int) -> float:
    """Points per second from the first logging call until MLflow holds every point (checked after)."""
    workdir = ctx.fresh_dir("mlflow-client")
    (workdir / "log.py").write_text(SCRIPT)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CLEARML_", "CLEARWAY_"))},
        "MLFLOW_TRACKING_URI": server.url,
        "HOME": str(workdir),
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "log.py", mode, str(points)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"MLflow client script failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    lines = dict(line.partition(" ")[::2] for line in done.stdout.splitlines() if " " in line)
    key = "/".join(SERIES[0])
    with server.client() as http:
        params = {"run_id": lines["RUN"], "metric_key": key, "max_results": points}
        response = http.get("/metrics/get-history", params=params)
    response.raise_for_status()
    stored = len(response.json().get("metrics", []))
    if stored != len(range(0, points, len(SERIES))):
        raise RuntimeError(f"MLflow stored {stored} points of {key}, expected {points // len(SERIES)}")
    return points / (float(lines["FLUSHED"]) - float(lines["START"]))
