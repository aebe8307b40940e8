"""Client address allowlists: organisation, role and user level."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from clearway.admin_api.deps import admin, services
from clearway.domain.allowlists import Level
from clearway.domain.identity import Identity, Role
from clearway.services import Services

router = APIRouter(tags=["address allowlists"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]


class AllowlistsOut(BaseModel):
    org: list[str] = Field(description="CIDR ranges every member's address must be in (empty: no restriction).")
    roles: dict[str, list[str]] = Field(description="Per role.")
    users: dict[str, list[str]] = Field(description="Per user id.")


class Ranges(BaseModel):
    cidrs: list[str] = Field(description="CIDR ranges, e.g. 10.0.0.0/8; an empty list lifts the restriction.")


@router.get("/allowlists", response_model=AllowlistsOut)
def show(me: Admin, svc: Svc) -> dict:
    return svc.allowlists.show(me)


@router.put("/allowlists/org", response_model=Ranges)
def set_org(body: Ranges, me: Admin, svc: Svc) -> Ranges:
    return Ranges(cidrs=svc.allowlists.replace(me, Level.ORG, None, body.cidrs))


@router.put("/allowlists/roles/{role}", response_model=Ranges)
def set_role(role: Role, body: Ranges, me: Admin, svc: Svc) -> Ranges:
    return Ranges(cidrs=svc.allowlists.replace(me, Level.ROLE, role.value, body.cidrs))


@router.put("/allowlists/users/{user_id}", response_model=Ranges)
def set_user(user_id: str, body: Ranges, me: Admin, svc: Svc) -> Ranges:
    return Ranges(cidrs=svc.allowlists.replace(me, Level.USER, user_id, body.cidrs))
