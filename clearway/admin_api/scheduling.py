"""Scheduling: queue policies and defaults, quotas and fair-share weights, and why a queue's tasks wait."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from clearway.admin_api.deps import admin, services
from clearway.domain.identity import Identity
from clearway.domain.scheduling.explain import MAX_EXPLAINED
from clearway.domain.scheduling.manage import MAX_LIMIT
from clearway.domain.scheduling.needs import MAX_GB, MAX_GPUS
from clearway.services import Services

router = APIRouter(tags=["scheduling"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]
SubjectType = Literal["user", "group"]


class Policy(BaseModel):
    queue: str
    name: str
    policy: Literal["fifo", "fair"] = Field(
        description="fair: owners with the least recent usage first; fifo: arrival."
    )
    allow_priority: bool = Field(
        description="Whether a task's clearway.priority moves it ahead within its owner's share."
    )
    gpus: int = Field(description="GPUs a task that declares none needs.")
    gpu_memory_gb: float = Field(description="GPU memory per GPU (GB) a task that declares none needs.")
    memory_gb: float = Field(description="Machine memory (GB) a task that declares none needs.")


class PolicyChange(BaseModel):
    policy: Literal["fifo", "fair"] | None = None
    allow_priority: bool | None = None
    gpus: int | None = Field(default=None, ge=0, le=MAX_GPUS)
    gpu_memory_gb: float | None = Field(default=None, ge=0, le=MAX_GB)
    memory_gb: float | None = Field(default=None, ge=0, le=MAX_GB)


class Quota(BaseModel):
    subject_type: SubjectType
    subject_id: str
    subject_name: str
    max_running: int | None = Field(description="Most tasks running at once; null: no limit.")
    max_gpus: int | None = Field(description="Most GPUs held at once; null: no limit.")
    weight: float = Field(description="Fair-share weight: twice the weight, twice the share.")


class QuotaChange(BaseModel):
    max_running: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    max_gpus: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    weight: float = Field(default=1.0, gt=0, le=1_000_000)


class WaitingTask(BaseModel):
    position: int
    task: str
    owner: str | None
    added: str
    gpus: int
    gpu_memory_gb: float
    memory_gb: float
    priority: int
    reason: str = Field(
        description="next; fair-share or FIFO order; no fitting worker free now; over quota; cannot be scheduled "
        "(no live worker could ever run it)."
    )
    estimated_start: str | None = Field(description="From the live workers that fit and the queue's mean run time.")


class QueueRef(BaseModel):
    id: str
    name: str | None


class Explanation(BaseModel):
    queue: QueueRef
    policy: str
    allow_priority: bool
    gpus: int
    gpu_memory_gb: float
    memory_gb: float
    live_workers: int
    mean_run_sec: float | None
    tasks: list[WaitingTask] = Field(description="The waiting tasks in dispatch order.")


@router.get("/queues/{queue_id}/policy", response_model=Policy)
def get_policy(queue_id: str, me: Admin, svc: Svc) -> dict:
    return svc.scheduling.policy(me, queue_id)


@router.patch("/queues/{queue_id}/policy", response_model=Policy)
def change_policy(queue_id: str, body: PolicyChange, me: Admin, svc: Svc) -> dict:
    return svc.scheduling.set_policy(me, queue_id, body.model_dump(exclude_none=True))


@router.get("/queues/{queue_id}/explain", response_model=Explanation)
def explain(
    queue_id: str, me: Admin, svc: Svc, limit: Annotated[int, Query(ge=1, le=MAX_EXPLAINED)] = MAX_EXPLAINED
) -> dict:
    return svc.scheduling.explain(me, queue_id, limit)


@router.get("/quotas", response_model=list[Quota])
def list_quotas(me: Admin, svc: Svc) -> list[dict]:
    return svc.scheduling.quotas(me)


@router.put("/quotas/{subject_type}/{subject_id}", response_model=Quota)
def set_quota(subject_type: SubjectType, subject_id: str, body: QuotaChange, me: Admin, svc: Svc) -> dict:
    return svc.scheduling.set_quota(
        me, subject_type, subject_id, max_running=body.max_running, max_gpus=body.max_gpus, weight=body.weight
    )


@router.delete("/quotas/{subject_type}/{subject_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_quota(subject_type: SubjectType, subject_id: str, me: Admin, svc: Svc) -> None:
    svc.scheduling.remove_quota(me, subject_type, subject_id)
