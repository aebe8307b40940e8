"""The audit log, newest first, one page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from clearway.admin_api.deps import admin, services
from clearway.domain.audit import MAX_PAGE_SIZE, Action
from clearway.domain.identity import Identity
from clearway.domain.query import MAX_OFFSET
from clearway.services import Services

router = APIRouter(tags=["audit"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]


class Entry(BaseModel):
    id: int
    at: str
    actor_id: str | None
    actor_name: str | None
    client_ip: str | None
    action: str
    outcome: str
    target: str | None
    detail: dict[str, Any]


class Page(BaseModel):
    entries: list[Entry]
    page: int
    page_size: int


@router.get("/audit", response_model=Page)
def entries(
    me: Admin,
    svc: Svc,
    action: Action | None = None,
    user_id: Annotated[str | None, Query(description="Entries of this actor.")] = None,
    since: Annotated[
        datetime | None, Query(description="From this time (inclusive; ISO-8601, UTC if no zone).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    page: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> Page:
    found = svc.audit.entries(
        me,
        action=action.value if action else None,
        user_id=user_id,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return Page(entries=[Entry.model_validate(e) for e in found], page=page, page_size=page_size)
