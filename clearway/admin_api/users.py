"""Users, roles, passwords and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from clearway.admin_api.deps import admin, services
from clearway.domain.identity import Identity, Role
from clearway.services import Services

router = APIRouter(tags=["users"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]


class User(BaseModel):
    id: str
    name: str
    role: Role
    org_id: str
    created: str


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.USER
    password: str | None = Field(default=None, description="Optional; at least 8 characters.")


class RoleChange(BaseModel):
    role: Role


class Password(BaseModel):
    password: str = Field(description="At least 8 characters; stored only as an argon2 hash.")


class Key(BaseModel):
    access_key: str
    created: str
    revoked: str | None


class NewKey(BaseModel):
    access_key: str
    secret_key: str = Field(description="Shown this once; only its hash is kept.")


@router.get("/users", response_model=list[User])
def list_users(me: Admin, svc: Svc) -> list[dict]:
    return svc.accounts.users(me)


@router.post("/users", response_model=User, status_code=status.HTTP_201_CREATED)
def create_user(body: NewUser, me: Admin, svc: Svc) -> dict:
    return svc.accounts.create_user(me, body.name, body.role, body.password)


@router.get("/users/{user_id}", response_model=User)
def get_user(user_id: str, me: Admin, svc: Svc) -> dict:
    return svc.accounts.user(me, user_id)


@router.patch("/users/{user_id}", response_model=User)
def change_role(user_id: str, body: RoleChange, me: Admin, svc: Svc) -> dict:
    return svc.accounts.set_role(me, user_id, body.role)


@router.put("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def set_password(user_id: str, body: Password, me: Admin, svc: Svc) -> None:
    svc.accounts.set_password(me, user_id, body.password)


@router.delete("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def remove_password(user_id: str, me: Admin, svc: Svc) -> None:
    svc.accounts.set_password(me, user_id, None)


@router.get("/users/{user_id}/keys", response_model=list[Key])
def list_keys(user_id: str, me: Admin, svc: Svc) -> list[dict]:
    return svc.accounts.keys(me, user_id)


@router.post("/users/{user_id}/keys", response_model=NewKey, status_code=status.HTTP_201_CREATED)
def create_key(user_id: str, me: Admin, svc: Svc) -> NewKey:
    pair = svc.accounts.create_key(me, user_id)
    return NewKey(access_key=pair.access_key, secret_key=pair.secret_key)


@router.delete("/keys/{access_key}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(access_key: str, me: Admin, svc: Svc) -> None:
    """Revoke a key: its tokens stop working within seconds."""
    svc.accounts.revoke_key(me, access_key)
