"""``/events``: the live stream, and each user's own subscriptions and deliveries (FastAPI, OpenAPI at
``/events/openapi.json``). Admins also manage their organisation's through the admin API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clearway.auth.middleware import request_identity
from clearway.domain.identity import Identity
from clearway.domain.subscriptions import DELIVERY_STATES, MAX_PAGE, kinds_catalog
from clearway.notify.shapes import Delivery, Kind, NewSubscription, Subscription, SubscriptionChange
from clearway.notify.stream import stream_response
from clearway.problems import render_errors_as_problems, storable_input
from clearway.services import Services

OPENAPI_PATH = "/openapi.json"
bearer = HTTPBearer(auto_error=False, description="A token from auth.login, or the OIDC issuer's access token.")


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _caller(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Identity:
    return request_identity(request)


Me = Annotated[Identity, Depends(_caller)]
Svc = Annotated[Services, Depends(_services)]
router = APIRouter()


@router.get("/stream", response_class=StreamingResponse, tags=["live stream"])
def stream(request: Request, me: Me, svc: Svc) -> StreamingResponse:
    """Server-sent events: every event you may see, from ``Last-Event-ID`` on (or from now). Filters: ``kind``
    (repeatable: task.completed, task.*), ``project``, ``task``."""
    return stream_response(svc, request)


@router.get("/kinds", response_model=list[Kind], tags=["subscriptions"])
def kinds(me: Me) -> list[dict]:
    return kinds_catalog()


@router.get("/subscriptions", response_model=list[Subscription], tags=["subscriptions"])
def list_subscriptions(me: Me, svc: Svc) -> list[dict]:
    return svc.subscriptions.list(me)


@router.post("/subscriptions", response_model=Subscription, status_code=status.HTTP_201_CREATED, tags=["subscriptions"])
def create_subscription(body: NewSubscription, me: Me, svc: Svc) -> dict:
    """A webhook's answer carries its signing secret, which is not shown again."""
    return svc.subscriptions.create(me, body.model_dump(exclude_none=True))


@router.get("/subscriptions/{subscription_id}", response_model=Subscription, tags=["subscriptions"])
def get_subscription(subscription_id: str, me: Me, svc: Svc) -> dict:
    return svc.subscriptions.get(me, subscription_id)


@router.patch("/subscriptions/{subscription_id}", response_model=Subscription, tags=["subscriptions"])
def change_subscription(subscription_id: str, body: SubscriptionChange, me: Me, svc: Svc) -> dict:
    return svc.subscriptions.update(me, subscription_id, body.model_dump(exclude_unset=True))


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["subscriptions"])
def delete_subscription(subscription_id: str, me: Me, svc: Svc) -> None:
    svc.subscriptions.delete(me, subscription_id)


State = Annotated[str | None, Query(description=f"Only those {' or '.join(DELIVERY_STATES)} (default: all).")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/deliveries", response_model=list[Delivery], tags=["deliveries"])
def deliveries(me: Me, svc: Svc, state: State = None, limit: Limit = 100) -> list[dict]:
    """Your deliveries, newest first; ``state=dead`` for the dead letters, given up after the retry period."""
    return svc.subscriptions.deliveries(me, state, limit)


@router.post("/deliveries/{delivery_id}/retry", status_code=status.HTTP_204_NO_CONTENT, tags=["deliveries"])
def retry(delivery_id: int, me: Me, svc: Svc) -> None:
    """Send a dead letter again now, with a new retry period."""
    svc.subscriptions.retry(me, delivery_id)


def create_events_api(services: Services) -> FastAPI:
    api = FastAPI(
        dependencies=[Depends(storable_input)],
        title="Clearway live notifications",
        version="1",
        description="The live event stream, and your notification subscriptions and their deliveries.",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    api.state.services = services
    api.include_router(router)
    render_errors_as_problems(api)
    return api
