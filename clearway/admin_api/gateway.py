"""The gateway's records and tokens, acting as the caller: developers manage their own, admins their
organisation's. Creating a record needs write access to the task it names."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from clearway.admin_api.deps import member, services
from clearway.domain.gateway.records import Kind
from clearway.domain.identity import Identity
from clearway.services import Services

router = APIRouter(prefix="/gateway", tags=["gateway"])
Me = Annotated[Identity, Depends(member)]
Svc = Annotated[Services, Depends(services)]


class Callers(BaseModel):
    users: list[str] = Field(default=[], description="User ids; with groups, only these may call (and admins).")
    groups: list[str] = Field(default=[], description="Group ids.")


class Record(BaseModel):
    id: str = Field(description="The public id callers use: random, revocable.")
    kind: str
    owner_id: str
    created: str
    callers: Callers


class Machine(Record):
    name: str
    serving_task: str
    url: str
    health: str = Field(description="up, down or unknown (not called yet).")
    health_changed: str | None = None
    health_reason: str | None = None


class NewMachine(BaseModel):
    serving_task: str = Field(description="The clearml-serving service task id the app serves.")
    url: str = Field(description="Where its inference app listens: http(s)://host:port")
    name: str | None = Field(default=None, max_length=200)
    callers: Callers | None = None


class Endpoint(Record):
    parent: str = Field(description="The machine's id.")
    endpoint: str
    machine_name: str


class NewEndpoint(BaseModel):
    machine: str = Field(description="The machine's id.")
    endpoint: str = Field(description="The endpoint's name in clearml-serving (as in /serve/<name>).")
    callers: Callers | None = None


class Param(BaseModel):
    name: str = Field(description="A hyperparameter: Section/name, or name (in General).")
    type: Literal["int", "float", "bool", "str"]
    min: float | None = Field(default=None, ge=-1e15, le=1e15, description="Least value (a string's least length).")
    max: float | None = Field(default=None, ge=-1e15, le=1e15, description="Greatest value (a string's length).")


class Template(Record):
    name: str
    task: str
    queue: str
    queue_name: str
    params: list[Param]


class NewTemplate(BaseModel):
    task: str = Field(description="The task each run clones.")
    queue: str = Field(description="The queue runs go to (name or id).")
    params: list[Param] = Field(default=[], description="What callers may override, with types and limits.")
    callers: Callers | None = None


class Token(BaseModel):
    id: str
    user_id: str
    name: str
    rate_per_minute: int
    daily_runs: int
    created: str
    expires: str | None
    revoked: str | None


class NewToken(BaseModel):
    user_id: str | None = Field(default=None, description="Whose token (default: yours; others': admins only).")
    name: str = Field(default="", max_length=200)
    expires_days: float | None = Field(default=None, gt=0, le=3650)
    rate_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    daily_runs: int | None = Field(default=None, ge=0, le=1_000_000)


class CreatedToken(Token):
    token: str = Field(description="The token itself: shown once, kept only as a digest.")


def _callers(value: Callers | None) -> dict[str, Any] | None:
    return value.model_dump() if value else None


@router.get("/machines", response_model=list[Machine])
def list_machines(me: Me, svc: Svc) -> list[dict]:
    return svc.gateway.records.list(me, Kind.MACHINE)


@router.post("/machines", response_model=Machine, status_code=status.HTTP_201_CREATED)
def create_machine(body: NewMachine, me: Me, svc: Svc) -> dict:
    return svc.gateway.records.create_machine(me, body.serving_task, body.url, body.name, _callers(body.callers))


@router.delete("/machines/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_machine(record_id: str, me: Me, svc: Svc) -> None:
    svc.gateway.records.revoke(me, Kind.MACHINE, record_id)


@router.get("/endpoints", response_model=list[Endpoint])
def list_endpoints(me: Me, svc: Svc, machine: Annotated[str | None, Query()] = None) -> list[dict]:
    return svc.gateway.records.list(me, Kind.ENDPOINT, machine)


@router.post("/endpoints", response_model=Endpoint, status_code=status.HTTP_201_CREATED)
def create_endpoint(body: NewEndpoint, me: Me, svc: Svc) -> dict:
    return svc.gateway.records.create_endpoint(me, body.machine, body.endpoint, _callers(body.callers))


@router.delete("/endpoints/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_endpoint(record_id: str, me: Me, svc: Svc) -> None:
    svc.gateway.records.revoke(me, Kind.ENDPOINT, record_id)


@router.get("/templates", response_model=list[Template])
def list_templates(me: Me, svc: Svc) -> list[dict]:
    return svc.gateway.records.list(me, Kind.TEMPLATE)


@router.post("/templates", response_model=Template, status_code=status.HTTP_201_CREATED)
def create_template(body: NewTemplate, me: Me, svc: Svc) -> dict:
    specs = [p.model_dump() for p in body.params]
    return svc.gateway.records.create_template(me, body.task, body.queue, specs, _callers(body.callers))


@router.delete("/templates/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_template(record_id: str, me: Me, svc: Svc) -> None:
    svc.gateway.records.revoke(me, Kind.TEMPLATE, record_id)


@router.get("/tokens", response_model=list[Token])
def list_tokens(me: Me, svc: Svc) -> list[dict]:
    """Your gateway tokens (an admin: the organisation's)."""
    return svc.gateway.tokens.list(me)


@router.post("/tokens", response_model=CreatedToken, status_code=status.HTTP_201_CREATED)
def create_token(body: NewToken, me: Me, svc: Svc) -> dict:
    record, token = svc.gateway.tokens.create(
        me,
        body.user_id or me.user_id,
        name=body.name,
        expires_days=body.expires_days,
        rate_per_minute=body.rate_per_minute,
        daily_runs=body.daily_runs,
    )
    return {**record, "token": token}


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, me: Me, svc: Svc) -> None:
    svc.gateway.tokens.revoke(me, token_id)
