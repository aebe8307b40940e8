"""What a task needs and what a worker has, in GPUs, GPU memory per GPU and machine memory.

A task declares its needs in its user properties (``task.set_user_properties``), which are cloned with it; a queue
may give defaults for each. A worker's capacity comes from its last status report (what clearml-agent sends in
``machine_stats``: memory in MB, one value per GPU for usage and memory). A report older than the stale threshold
says nothing: such a worker, or one that never reported, receives only tasks that declare nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearway.errors import ValidationFailed
from clearway.timeutil import parse_iso

GPUS = "clearway.gpus"
GPU_MEMORY_GB = "clearway.gpu_memory_gb"
MEMORY_GB = "clearway.memory_gb"
PRIORITY = "clearway.priority"
MAX_GPUS = 64
MAX_GB = 1_000_000.0
MAX_PRIORITY = 1_000_000
_MB_PER_GB = 1024.0
UNSCHEDULABLE = "cannot be scheduled"  # how the reason of a task no live worker could ever run begins


@dataclass(frozen=True)
class Needs:
    gpus: int = 0
    gpu_memory_gb: float = 0.0  # on each of the GPUs
    memory_gb: float = 0.0
    priority: int = 0

    @property
    def declared(self) -> bool:
        return bool(self.gpus or self.gpu_memory_gb or self.memory_gb)

    def describe(self) -> str:
        parts = []
        if self.gpus:
            each = f" with {self.gpu_memory_gb:g} GB each" if self.gpu_memory_gb else ""
            parts.append(f"{self.gpus} GPU{'s' if self.gpus > 1 else ''}{each}")
        if self.memory_gb:
            parts.append(f"{self.memory_gb:g} GB of memory")
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class Capacity:
    """What a worker offers: the free memory (GB) of each GPU it may use, largest first, and its machine memory
    (GB; None when not reported). ``known`` is false for a worker without a recent report."""

    gpu_memory_gb: tuple[float, ...] = ()
    memory_gb: float | None = None
    known: bool = False

    def fits(self, needs: Needs) -> bool:
        if not self.known:
            return not needs.declared
        if needs.memory_gb and (self.memory_gb is None or needs.memory_gb > self.memory_gb):
            return False
        if not needs.gpus:
            return True
        return len(self.gpu_memory_gb) >= needs.gpus and self.gpu_memory_gb[needs.gpus - 1] >= needs.gpu_memory_gb


UNKNOWN = Capacity()


def task_needs(task: dict[str, Any], defaults: Needs | None = None) -> Needs:
    """The task's declared needs, each falling back to the queue's default; a bad value is refused."""
    properties = ((task.get("hyperparams") or {}).get("properties")) or {}

    def value(name: str) -> Any:
        item = properties.get(name)
        raw = item.get("value") if isinstance(item, dict) else None
        return None if raw is None or (isinstance(raw, str) and not raw.strip()) else raw

    base = defaults or Needs()
    gpus = _number(value(GPUS), GPUS, integer=True, top=MAX_GPUS)
    gpu_memory = _number(value(GPU_MEMORY_GB), GPU_MEMORY_GB, top=MAX_GB)
    memory = _number(value(MEMORY_GB), MEMORY_GB, top=MAX_GB)
    priority = _number(value(PRIORITY), PRIORITY, integer=True, top=MAX_PRIORITY, signed=True)
    needs = Needs(
        gpus=int(gpus if gpus is not None else base.gpus),
        gpu_memory_gb=float(gpu_memory if gpu_memory is not None else base.gpu_memory_gb),
        memory_gb=float(memory if memory is not None else base.memory_gb),
        priority=int(priority or 0),
    )
    if gpu_memory and gpus is None and not needs.gpus:  # asking for GPU memory asks for a GPU
        return Needs(1, needs.gpu_memory_gb, needs.memory_gb, needs.priority)
    if not needs.gpus:  # no GPU: no GPU memory either (a queue's default does not apply)
        return Needs(0, 0.0, needs.memory_gb, needs.priority)
    return needs


def _number(raw: Any, name: str, *, integer: bool = False, top: float, signed: bool = False) -> float | None:
    if raw is None:
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(f"user property {name} must be a number, not {raw!r}") from None
    low = -top if signed else 0
    if not math.isfinite(number) or not low <= number <= top or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise ValidationFailed(f"user property {name} must be {kind} from {low:g} to {top:g}, not {raw!r}")
    return number


def check_defaults(needs: Needs) -> Needs:
    """A queue's defaults, checked like a task's declaration."""
    if not 0 <= needs.gpus <= MAX_GPUS or not 0 <= needs.gpu_memory_gb <= MAX_GB or not 0 <= needs.memory_gb <= MAX_GB:
        raise ValidationFailed(f"default needs are 0 to {MAX_GPUS} GPUs and 0 to {MAX_GB:g} GB")
    return needs


def worker_capacity(worker: dict[str, Any] | None, now: datetime, stale_sec: float, busy_percent: float) -> Capacity:
    """What the worker reported free in its last report, if that is recent: GPUs busier than ``busy_percent``
    are left out."""
    if worker is None:
        return UNKNOWN
    reported = parse_iso(worker.get("last_report_time"))
    stats = worker.get("machine_stats")
    if reported is None or not isinstance(stats, dict) or (now - reported).total_seconds() > stale_sec:
        return UNKNOWN
    usage, free, _used = _gpu_lists(stats)
    count = max(len(usage), len(free))
    usable = [
        (free[i] if i < len(free) else 0.0) / _MB_PER_GB
        for i in range(count)
        if (usage[i] if i < len(usage) else 0.0) < busy_percent
    ]
    memory = _scalar(stats.get("memory_free"))
    return Capacity(tuple(sorted(usable, reverse=True)), None if memory is None else memory / _MB_PER_GB, True)


def worker_total(worker: dict[str, Any]) -> Capacity:
    """Everything the worker's machine has (free or not), from its last report whatever its age: what a task
    could get there some day."""
    stats = worker.get("machine_stats")
    if not isinstance(stats, dict):
        return Capacity(known=True)
    usage, free, used = _gpu_lists(stats)
    count = max(len(usage), len(free), len(used))
    totals = [
        ((free[i] if i < len(free) else 0.0) + (used[i] if i < len(used) else 0.0)) / _MB_PER_GB for i in range(count)
    ]
    free_mem, used_mem = _scalar(stats.get("memory_free")), _scalar(stats.get("memory_used"))
    memory = None if free_mem is None else (free_mem + (used_mem or 0.0)) / _MB_PER_GB
    return Capacity(tuple(sorted(totals, reverse=True)), memory, True)


def _gpu_lists(stats: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    return _list(stats.get("gpu_usage")), _list(stats.get("gpu_memory_free")), _list(stats.get("gpu_memory_used"))


def _list(value: Any) -> list[float]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [float(v) if _is_number(v) else 0.0 for v in values]


def _scalar(value: Any) -> float | None:
    if isinstance(value, list):
        numbers = [float(v) for v in value if _is_number(v)]
        return sum(numbers) / len(numbers) if numbers else None
    return float(value) if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
