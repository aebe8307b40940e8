"""The gateway's routes: native ones under ``/gateway/v1`` and Snap4City's under ``/clearml/serve``.

Each call is identified here (:mod:`clearway.gateway.callers`), logged once whatever its outcome (without its
token or parameter values), and answered with the model's own answer, a JSON result, or a problem document.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from clearway.auth.middleware import request_client_ip
from clearway.domain.documents import check_json
from clearway.errors import ClearwayError, InternalError, ValidationFailed
from clearway.gateway import PREFIX, SNAP4CITY_PREFIX
from clearway.gateway.bodies import json_object, only_fields, raw_body, text_field
from clearway.gateway.callers import Caller, RecentCallers, bearer, count_call, identify
from clearway.gateway.proxy import Answer, Proxy
from clearway.ops import metrics
from clearway.problems import problem
from clearway.services import Services
from clearway.timeutil import parse_iso

log = logging.getLogger(__name__)
ENQUEUE_FIELDS = ("params", "queue")
SNAP_ENQUEUE_FIELDS = ("access_token", "task_id", "queue", "params")
SNAP_ONDEMAND_FIELDS = ("access_token", "machine_id", "endpoint", "params")
CALLS = metrics.counter("clearway_gateway_calls_total", "Gateway calls answered", ["kind", "status"])
LATENCY = metrics.histogram(
    "clearway_gateway_call_duration_seconds",
    "Time to answer a gateway call (the serving machine's time included)",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


@dataclass
class Call:
    """What the request log keeps of one call, filled in as the call goes."""

    kind: str
    caller: Caller | None = None
    record_id: str | None = None
    endpoint: str | None = None
    bytes_in: int = 0
    started: float = field(default_factory=time.perf_counter)


class GatewayApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.gateway = services.gateway
        self.proxy = Proxy(services.settings, services.gateway.health)
        self.recent = RecentCallers(services.gateway.tokens, services.settings.key_cache_sec)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                PREFIX + "/ondemand/{machine}/{endpoint:path}",
                self._logged("ondemand", self.ondemand),
                methods=["POST"],
            ),
            Route(PREFIX + "/enqueue/{template}", self._logged("enqueue", self.enqueue), methods=["POST"]),
            Route(PREFIX + "/runs/{run}", self._guarded(self.run), methods=["GET"]),
            Route(PREFIX + "/runs/{run}/artifacts/{name:path}", self._guarded(self.artifact), methods=["GET"]),
            Route(PREFIX + "/logs", self._guarded(self.logs), methods=["GET"]),
            Route(PREFIX + "/stats", self._guarded(self.stats), methods=["GET"]),
            Route(SNAP4CITY_PREFIX + "/enqueue_task", self._logged("enqueue", self.snap_enqueue), methods=["POST"]),
            Route(SNAP4CITY_PREFIX + "/ondemand", self._logged("ondemand", self.snap_ondemand), methods=["POST"]),
        ]

    async def close(self) -> None:
        await self.proxy.close()

    # calls
    async def ondemand(self, request: Request, call: Call) -> Response:
        check_json(list(request.path_params.values()), "request")
        call.record_id, call.endpoint = request.path_params["machine"], request.path_params["endpoint"]
        call.caller = await self._known(request, bearer(request))
        body = await raw_body(request, self.settings.gateway_max_body_bytes)
        call.bytes_in = len(body)
        answer = await self._serve(call, body, request.headers.get("content-type"))
        return Response(answer.content, status_code=answer.status, headers=answer.headers)

    async def snap_ondemand(self, request: Request, call: Call) -> Response:
        body = await raw_body(request, self.settings.gateway_max_body_bytes)
        call.bytes_in = len(body)
        fields = json_object(body)
        call.caller = await self._known(request, bearer(request) or fields.get("access_token"))
        only_fields(fields, SNAP_ONDEMAND_FIELDS)
        call.record_id = text_field(fields, "machine_id")
        call.endpoint = text_field(fields, "endpoint")
        payload = fields.get("params", {})
        if not isinstance(payload, dict | list):
            raise ValidationFailed("params must be a JSON object (the model's input)")
        answer = await self._serve(call, json.dumps(payload).encode(), "application/json")
        return Response(answer.content, status_code=answer.status, headers=answer.headers)

    async def enqueue(self, request: Request, call: Call) -> Response:
        check_json(list(request.path_params.values()), "request")
        call.record_id = request.path_params["template"]
        call.caller = await self._caller(request, bearer(request))
        body = await raw_body(request, self.settings.gateway_max_body_bytes)
        call.bytes_in = len(body)
        fields = json_object(body, required=False)
        only_fields(fields, ENQUEUE_FIELDS)
        run = await self._enqueue(call, fields.get("params"), fields.get("queue"))
        return JSONResponse(run, status_code=202)

    async def snap_enqueue(self, request: Request, call: Call) -> Response:
        body = await raw_body(request, self.settings.gateway_max_body_bytes)
        call.bytes_in = len(body)
        fields = json_object(body)
        call.caller = await self._caller(request, bearer(request) or fields.get("access_token"))
        only_fields(fields, SNAP_ENQUEUE_FIELDS)
        call.record_id = text_field(fields, "task_id")
        queue = text_field(fields, "queue")
        run = await self._enqueue(call, fields.get("params"), queue)
        return JSONResponse(run, status_code=202)

    async def _known(self, request: Request, token: Any) -> Caller:
        """The caller, without leaving the event loop when it called with the same token in the last seconds."""
        client_ip = request_client_ip(request)
        caller = self.recent.get(token, client_ip) if isinstance(token, str) else None
        if caller is not None:
            self._note(request, caller)
            await count_call(self.services, caller)
            return caller
        caller = await self._caller(request, token)
        self.recent.put(token, client_ip, caller)
        return caller

    async def _serve(self, call: Call, body: bytes, content_type: str | None) -> Answer:
        assert call.caller is not None and call.record_id is not None and call.endpoint is not None
        identity, machine_id, endpoint, records = (
            call.caller.identity,
            call.record_id,
            call.endpoint,
            self.gateway.records,
        )
        # Records seen in the last seconds are resolved on the event loop; else in a worker thread (a query).
        resolved = records.resolve(identity, machine_id, endpoint, cached_only=True)
        if resolved is None:
            resolved = await run_in_threadpool(records.resolve, identity, machine_id, endpoint)
        assert resolved is not None
        machine, found = resolved
        call.endpoint = found["endpoint"]
        return await self.proxy.serve(machine, found["endpoint"], body, content_type)

    async def _enqueue(self, call: Call, given: Any, queue: Any) -> dict[str, Any]:
        assert call.caller is not None and call.record_id is not None
        caller, template_id, runs = call.caller, call.record_id, self.gateway.runs

        def enqueue() -> dict[str, Any]:
            template, values = runs.check(caller.identity, template_id, given, queue)
            return runs.enqueue(caller.identity, template, values, caller.token)

        return await run_in_threadpool(enqueue)

    # reads
    async def run(self, request: Request) -> Response:
        check_json(list(request.path_params.values()), "request")
        caller = await self._caller(request, bearer(request))
        view = await run_in_threadpool(self.gateway.runs.view, caller.identity, request.path_params["run"])
        return JSONResponse(view)

    async def artifact(self, request: Request) -> Response:
        check_json(list(request.path_params.values()), "request")
        caller = await self._caller(request, bearer(request))
        record, blob = await run_in_threadpool(
            self.gateway.runs.artifact, caller.identity, request.path_params["run"], request.path_params["name"]
        )
        headers = {"content-length": str(blob.size)}
        media_type = record.content_type or "application/octet-stream"

        def chunks():  # type: ignore[no-untyped-def]
            try:
                yield from blob.chunks(0, blob.size)
            finally:
                blob.close()

        return StreamingResponse(chunks(), headers=headers, media_type=media_type)

    async def logs(self, request: Request) -> Response:
        caller = await self._caller(request, bearer(request))
        query = request.query_params
        check_json(list(query.values()), "request")
        filters = {
            "since": _moment(query.get("since"), "since"),
            "until": _moment(query.get("until"), "until"),
            "kind": query.get("kind"),
            "record": query.get("record"),
            "caller": query.get("caller"),
            "status": _integer(query.get("status"), "status"),
        }
        page = _integer(query.get("page"), "page")
        page_size = _integer(query.get("page_size"), "page_size")
        page, page_size = page if page is not None else 0, page_size if page_size is not None else 100
        result = await run_in_threadpool(self.gateway.log.page, caller.identity, filters, page, page_size)
        return JSONResponse(result)

    async def stats(self, request: Request) -> Response:
        caller = await self._caller(request, bearer(request))
        return JSONResponse(await run_in_threadpool(self.gateway.log.stats, caller.identity))

    # plumbing
    async def _caller(self, request: Request, token: Any) -> Caller:
        caller = await identify(self.services, token if isinstance(token, str) else None, request_client_ip(request))
        self._note(request, caller)
        return caller

    @staticmethod
    def _note(request: Request, caller: Caller | None) -> None:
        if caller is not None:
            request.scope.setdefault("state", {})["identity"] = caller.identity  # for the access log and telemetry

    def _guarded(self, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ClearwayError as exc:
                return _problem(exc)

        return guarded

    def _logged(
        self, kind: str, endpoint: Callable[[Request, Call], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint, its errors as problems, and one log row per call."""

        async def logged(request: Request) -> Response:
            call = Call(kind)
            error = None
            try:
                response = await endpoint(request, call)
            except ClearwayError as exc:
                response, error = _problem(exc), exc.message
            except Exception as exc:  # noqa: BLE001 - the caller gets a problem document, never a bare page
                log.exception("%s %s failed", request.method, request.url.path)
                response, error = _problem(InternalError()), type(exc).__name__
            body = getattr(response, "body", b"")
            elapsed = time.perf_counter() - call.started
            CALLS.labels(kind, str(response.status_code)).inc()
            LATENCY.labels(kind).observe(elapsed)
            self.gateway.log.add(
                kind=kind,
                identity=call.caller.identity if call.caller else None,
                client_ip=request_client_ip(request),
                record_id=call.record_id,
                endpoint=call.endpoint,
                status=response.status_code,
                latency_ms=elapsed * 1000,
                bytes_in=call.bytes_in,
                bytes_out=len(body),
                error=error,
            )
            return response

        return logged


def _problem(exc: ClearwayError) -> Response:
    retry = exc.data.get("retry_after")
    return problem(exc, {"Retry-After": str(retry)} if retry is not None else None)


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an ISO-8601 time") from exc


def _integer(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an integer") from exc
