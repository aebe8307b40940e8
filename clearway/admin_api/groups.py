"""Groups of users, and the sharing of projects with users and groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from clearway.admin_api.deps import admin, services
from clearway.domain.identity import Identity
from clearway.domain.sharing import GranteeType, ShareMode
from clearway.services import Services

router = APIRouter(tags=["groups and shares"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]


class Group(BaseModel):
    id: str
    name: str
    created: str
    members: list[str] = Field(description="User ids.")


class NewGroup(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Share(BaseModel):
    project_id: str
    grantee_type: GranteeType
    grantee_id: str
    grantee_name: str | None
    mode: ShareMode
    created: str
    created_by: str | None


class ShareChange(BaseModel):
    mode: ShareMode = Field(description="read: see the project and all in it; write: also change it.")


@router.get("/groups", response_model=list[Group])
def list_groups(me: Admin, svc: Svc) -> list[dict]:
    return svc.sharing.list_groups(me)


@router.post("/groups", response_model=Group, status_code=status.HTTP_201_CREATED)
def create_group(body: NewGroup, me: Admin, svc: Svc) -> dict:
    return svc.sharing.create_group(me, body.name)


@router.get("/groups/{group_id}", response_model=Group)
def get_group(group_id: str, me: Admin, svc: Svc) -> dict:
    return svc.sharing.get_group(me, group_id)


@router.delete("/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group_id: str, me: Admin, svc: Svc) -> None:
    svc.sharing.delete_group(me, group_id)


@router.put("/groups/{group_id}/members/{user_id}", response_model=Group)
def add_member(group_id: str, user_id: str, me: Admin, svc: Svc) -> dict:
    return svc.sharing.set_member(me, group_id, user_id, True)


@router.delete("/groups/{group_id}/members/{user_id}", response_model=Group)
def remove_member(group_id: str, user_id: str, me: Admin, svc: Svc) -> dict:
    return svc.sharing.set_member(me, group_id, user_id, False)


@router.get("/projects/{project_id}/shares", response_model=list[Share])
def list_shares(project_id: str, me: Admin, svc: Svc) -> list[dict]:
    return svc.sharing.shares(me, project_id)


@router.put("/projects/{project_id}/shares/{grantee_type}/{grantee_id}", response_model=list[Share])
def share(
    project_id: str, grantee_type: GranteeType, grantee_id: str, body: ShareChange, me: Admin, svc: Svc
) -> list[dict]:
    """Share the project (and its subprojects) with a user or a group, or change the mode of a share."""
    return svc.sharing.share(me, project_id, grantee_type, grantee_id, body.mode)


@router.delete("/projects/{project_id}/shares/{grantee_type}/{grantee_id}", status_code=status.HTTP_204_NO_CONTENT)
def unshare(project_id: str, grantee_type: GranteeType, grantee_id: str, me: Admin, svc: Svc) -> None:
    svc.sharing.unshare(me, project_id, grantee_type, grantee_id)
