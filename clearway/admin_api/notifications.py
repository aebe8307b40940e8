"""The organisation's notification subscriptions and deliveries (members manage their own at /events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from clearway.admin_api.deps import admin, services
from clearway.domain.identity import Identity
from clearway.domain.subscriptions import DELIVERY_STATES, MAX_PAGE
from clearway.notify.shapes import Delivery, NewSubscription, Subscription
from clearway.services import Services

router = APIRouter(prefix="/notifications", tags=["notifications"])
Admin = Annotated[Identity, Depends(admin)]
Svc = Annotated[Services, Depends(services)]
State = Annotated[str | None, Query(description=f"Only those {' or '.join(DELIVERY_STATES)} (default: all).")]


@router.get("/subscriptions", response_model=list[Subscription])
def list_subscriptions(me: Admin, svc: Svc) -> list[dict]:
    """Every subscription of the organisation's members."""
    return svc.subscriptions.list_all(me)


@router.post("/subscriptions", response_model=Subscription, status_code=status.HTTP_201_CREATED)
def create_subscription(body: NewSubscription, me: Admin, svc: Svc) -> dict:
    """A subscription of yours: security, worker, GPU, queue and gateway machine events are the organisation's."""
    return svc.subscriptions.create(me, body.model_dump(exclude_none=True))


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_subscription(subscription_id: str, me: Admin, svc: Svc) -> None:
    svc.subscriptions.delete_any(me, subscription_id)


@router.get("/deliveries", response_model=list[Delivery])
def deliveries(
    me: Admin, svc: Svc, state: State = None, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100
) -> list[dict]:
    """Deliveries of every member's subscriptions, newest first; ``state=dead`` for the dead letters."""
    return svc.subscriptions.deliveries_of_all(me, state, limit)


@router.post("/deliveries/{delivery_id}/retry", status_code=status.HTTP_204_NO_CONTENT)
def retry(delivery_id: int, me: Admin, svc: Svc) -> None:
    svc.subscriptions.retry_any(me, delivery_id)
