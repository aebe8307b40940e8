"""``GET /metrics``: readable with ``Authorization: Bearer <CLEARWAY_METRICS_TOKEN>`` or from an address in
``CLEARWAY_METRICS_ALLOW``; off (404) when neither is set."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_client_ip
from clearway.domain.allowlists import parse_address, parse_networks
from clearway.errors import Forbidden, MissingCredentials, NotFound
from clearway.ops import metrics
from clearway.problems import guarded
from clearway.services import Services

PATH = "/metrics"


def metrics_route(services: Services) -> Route:
    settings = services.settings
    token = settings.metrics_token
    allowed = parse_networks(settings.metrics_allow)
    metrics.instrument_pool(services.stores.db.engine)  # type: ignore[attr-defined]

    def admit(request: Request) -> None:
        if not token and not allowed:
            raise NotFound("Metrics are off: set CLEARWAY_METRICS_TOKEN or CLEARWAY_METRICS_ALLOW")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
            return
        address = parse_address(request_client_ip(request))
        if address is not None and any(address in network for network in allowed):
            return
        if token and not given:
            raise MissingCredentials("Metrics need the metrics token")
        raise Forbidden("Not allowed to read the metrics")

    @guarded
    async def endpoint(request: Request) -> Response:
        admit(request)
        body = await run_in_threadpool(metrics.render, services)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    return Route(PATH, endpoint)
