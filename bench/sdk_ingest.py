"""The real ``clearml`` SDK in a subprocess: a ``Logger.report_scalar`` loop, timed until the server has every point."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from bench.clearway_server import ClearwayServer, call
from bench.common import Context, wait_until
from bench.workload import SERIES

# report_use_subprocess: false avoids the SDK's fork deadlock (wire contract, section 9.1).
CLEARML_CONF = "sdk { development { report_use_subprocess: false } }\n"
SCRIPT = f"""
import sys, time
from clearml import Task

points = int(sys.argv[1])
series = {SERIES!r}
task = Task.init(project_name="bench", task_name="sdk ingest", auto_connect_frameworks=False,
                 auto_resource_monitoring=False, auto_connect_streams=False)
logger = task.get_logger()
print("TASK", task.id, flush=True)
print("START", time.time(), flush=True)
for n in range(points):
    metric, variant = series[n % len(series)]
    logger.report_scalar(metric, variant, value=1.0 / (1 + n), iteration=n // len(series))
print("LOOPED", time.time(), flush=True)
task.flush(wait_for_uploads=True)
print("FLUSHED", time.time(), flush=True)
task.close()
"""


def points_per_second(ctx: Context, server: ClearwayServer, points: int) -> tuple[float, float]:
    """Points per second from the loop's first report until the server holds them all, and of the loop alone
    (the SDK's own cost, which bounds the first)."""
    workdir = ctx.fresh_dir("sdk")
    (workdir / "clearml.conf").write_text(CLEARML_CONF)
    (workdir / "ingest.py").write_text(SCRIPT)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "CLEARWAY_", "TRAINS_"))},
        **server.credentials,
        "CLEARML_CONFIG_FILE": str(workdir / "clearml.conf"),
        "HOME": str(workdir),
        "PYTHONWARNINGS": "ignore",
    }
    with open(workdir / "sdk.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "ingest.py", str(points)], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=log
        )
    try:
        lines = _lines_until(proc, "FLUSHED")
        task, start, looped = lines["TASK"], float(lines["START"]), float(lines["LOOPED"])
        with server.client() as http:
            wait_until(lambda: _stored(http, task) >= points, 300, "the SDK's scalars to be stored", interval=0.02)
        end = time.time()
        if proc.wait(120) != 0:
            raise RuntimeError(f"SDK script failed:\n{(workdir / 'sdk.log').read_text()[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return points / (end - start), points / (looped - start)


def _lines_until(proc: subprocess.Popen[bytes], last: str) -> dict[str, str]:
    """The ``KEY value`` lines the script prints, read until ``last``."""
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    for raw in proc.stdout:
        key, _, value = raw.decode().strip().partition(" ")
        seen[key] = value
        if key == last:
            return seen
    raise RuntimeError(f"SDK script ended before printing {last} (exit {proc.wait()})")


def _stored(http: httpx.Client, task: str) -> int:
    body = {"task": task, "event_type": "training_stats_scalar", "batch_size": 1}
    return int(call(http, "events.get_task_events", body)["total"])
