"""The data every section sends: scalar and console events as the SDK writes them, and the same points for MLflow."""

from __future__ import annotations

import json
import math
import time

SERIES = (("loss", "train"), ("loss", "val"), ("accuracy", "train"), ("accuracy", "val"))
HOST = "bench-host"


def scalar_points(start: int, count: int, series: int = len(SERIES)) -> list[tuple[str, str, int, float, int]]:
    """``count`` points (metric, variant, iteration, value, timestamp ms), cycling over ``series`` series."""
    now = int(time.time() * 1000)
    out = []
    for n in range(start, start + count):
        metric, variant = SERIES[n % series]
        iteration = n // series
        out.append((metric, variant, iteration, 1.0 / (1 + iteration) + 0.01 * math.sin(n), now + n))
    return out


def scalar_lines(task: str, points: list[tuple[str, str, int, float, int]]) -> bytes:
    """An ``events.add_batch`` body: one json line per point, with the keys the SDK sends."""
    return "\n".join(
        json.dumps(
            {
                "timestamp": ts,
                "type": "training_stats_scalar",
                "task": task,
                "iter": it,
                "metric": metric,
                "variant": variant,
                "value": value,
                "allow_locked": False,
                "model_event": False,
                "method": "get",
            }
        )
        for metric, variant, it, value, ts in points
    ).encode()


def log_lines(task: str, start: int, count: int) -> bytes:
    """An ``events.add_batch`` body of ``count`` console lines."""
    now = int(time.time() * 1000)
    return "\n".join(
        json.dumps(
            {
                "timestamp": now + n,
                "type": "log",
                "task": task,
                "level": "info",
                "worker": HOST,
                "msg": f"epoch {n // 100} step {n}: loss={1.0 / (1 + n):.6f} lr=0.0001 throughput=1234.5 samples/s",
                "allow_locked": False,
                "model_event": False,
                "method": "get",
            }
        )
        for n in range(start, start + count)
    ).encode()


def mlflow_batch(run_id: str, points: list[tuple[str, str, int, float, int]]) -> bytes:
    """A ``runs/log-batch`` body with the same points (key ``metric/variant``, step = iteration)."""
    metrics = [
        {"key": f"{metric}/{variant}", "value": value, "timestamp": ts, "step": it}
        for metric, variant, it, value, ts in points
    ]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()
