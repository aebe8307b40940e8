"""workers.*: thin translations onto :mod:`clearway.domain.workers`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from clearway.clearml_api.context import Call
from clearway.clearml_api.registry import Request, Service

service = Service("workers")

Number = float | int
MAX_SECONDS = 10 * 365 * 24 * 3600  # a worker timeout or "seen within": ten years is already no limit
Reading = Number | list[Number] | None


class WorkerRequest(Request):
    worker: str


class RegisterRequest(WorkerRequest):
    queues: list[str] | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    timeout: int | None = Field(default=None, gt=0, le=MAX_SECONDS)


class MachineStats(Request):
    """What ``clearml-agent`` measures (MB, MB/s, percent); per-core and per-GPU readings are lists."""

    cpu_usage: Reading = None
    cpu_temperature: Reading = None
    memory_used: Reading = None
    memory_free: Reading = None
    disk_free_home: Reading = None
    disk_free_temp: Reading = None
    disk_read: Reading = None
    disk_write: Reading = None
    network_rx: Reading = None
    network_tx: Reading = None
    gpu_usage: Reading = None
    gpu_temperature: Reading = None
    gpu_memory_used: Reading = None
    gpu_memory_free: Reading = None
    gpu_fraction: Reading = None


class StatusReportRequest(WorkerRequest):
    timestamp: int | None = None  # the agent's clock; the server's is the one kept
    task: str | None = None
    queue: str | None = None
    queues: list[str] | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    machine_stats: MachineStats | None = None


class GetAllRequest(Request):
    last_seen: int | None = Field(default=None, ge=0, le=MAX_SECONDS)


class Period(Request):
    from_date: float
    to_date: float
    interval: int = Field(ge=1)


class StatItem(Request):
    key: str
    category: Literal["avg", "min", "max"] = "avg"


class GetStatsRequest(Period):
    items: list[StatItem] = Field(min_length=1)
    worker_ids: list[str] | None = None
    split_by_variant: bool = False


class RuntimeProperty(Request):
    key: str
    value: str
    expiry: int | None = None


class SetRuntimePropertiesRequest(WorkerRequest):
    runtime_properties: list[RuntimeProperty]


@service.endpoint("register", RegisterRequest)
def register(call: Call, req: RegisterRequest) -> dict[str, Any]:
    fields = req.model_dump(exclude={"worker"})
    call.services.workers.register(call.me, req.worker, **fields)
    return {}


@service.endpoint("unregister", WorkerRequest)
def unregister(call: Call, req: WorkerRequest) -> dict[str, Any]:
    call.services.workers.unregister(call.me, req.worker)
    return {}


@service.endpoint("status_report", StatusReportRequest)
def status_report(call: Call, req: StatusReportRequest) -> dict[str, Any]:
    report = req.model_dump(exclude={"worker", "timestamp"})
    if req.machine_stats is not None:
        report["machine_stats"] = req.machine_stats.model_dump(exclude_none=True)
    call.services.workers.status_report(call.me, req.worker, report)
    return {}


@service.endpoint("get_all", GetAllRequest)
def get_all(call: Call, req: GetAllRequest) -> dict[str, Any]:
    return {"workers": call.services.workers.list(call.me, req.last_seen)}


@service.endpoint("get_activity_report", Period)
def get_activity_report(call: Call, req: Period) -> dict[str, Any]:
    return call.services.workers.activity_report(call.me, req.from_date, req.to_date, req.interval)


@service.endpoint("get_stats", GetStatsRequest)
def get_stats(call: Call, req: GetStatsRequest) -> dict[str, Any]:
    items = [item.model_dump() for item in req.items]
    workers = call.services.workers.stats(
        call.me, req.worker_ids, items, req.from_date, req.to_date, req.interval, req.split_by_variant
    )
    return {"workers": workers}


@service.endpoint("get_runtime_properties", WorkerRequest)
def get_runtime_properties(call: Call, req: WorkerRequest) -> dict[str, Any]:
    """The agent asks every poll: a ``force`` property switches its pulling on or off (``uptime`` schedules)."""
    return {"runtime_properties": call.services.workers.get(call.me, req.worker).get("runtime_properties") or []}


@service.endpoint("set_runtime_properties", SetRuntimePropertiesRequest)
def set_runtime_properties(call: Call, req: SetRuntimePropertiesRequest) -> dict[str, Any]:
    properties = [p.model_dump(exclude_none=True) for p in req.runtime_properties]
    call.services.workers.set_runtime_properties(call.me, req.worker, properties)
    return {}
