"""Per request: an id (kept from a sane ``X-Request-Id`` of the proxy, else made), returned in the response's
``X-Request-Id`` and set on every log line of the request; one access log line; the request metrics.

Endpoints are labelled by name (a ClearML ``service.action``, or the surface: files, admin...), never by raw path,
so that the metrics keep a bounded number of series. The access line carries the method, the path without its
query string, the status, the time taken, the client address and the user id: never a header or a body.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearway.ops import metrics
from clearway.ops.logs import request_id

log = logging.getLogger("clearway.access")
HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class Telemetry:
    def __init__(self, app: ASGIApp, endpoint_of: Callable[[str], str], access_log: bool) -> None:
        self.app = app
        self.endpoint_of = endpoint_of  # path -> the endpoint label
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        rid = given.decode() if given is not None and _SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            endpoint = self.endpoint_of(scope["path"])
            metrics.REQUESTS.labels(endpoint, str(status)).inc()
            metrics.LATENCY.labels(endpoint).observe(elapsed)
            if self.access_log:
                state = scope.get("state", {})
                identity = state.get("identity")
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client": state.get("client_ip"),
                        "user": getattr(identity, "user_id", None),
                    },
                )
            request_id.reset(token)
