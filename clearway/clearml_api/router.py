"""Dispatch of ``/[vX.Y/]service.action`` requests, whatever the HTTP method (GET with a body included)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.clearml_api import envelope
from clearway.clearml_api.context import Call
from clearway.clearml_api.recorder import ResponseRecorder
from clearway.clearml_api.registry import Endpoint
from clearway.errors import (
    ClearwayError,
    EndpointNotFound,
    InternalError,
    MalformedJSON,
    RequestTooLarge,
    ValidationFailed,
)
from clearway.services import Services

log = logging.getLogger(__name__)
PATH = re.compile(r"^/(?:v(?P<version>\d+\.?\d*)/)?(?P<name>\w+\.\w+)/?$")


class ClearmlApi:
    def __init__(self, services: Services, endpoints: dict[str, Endpoint]) -> None:
        self.services = services
        self.endpoints = endpoints
        directory = services.settings.record_responses_dir
        self.recorder = ResponseRecorder(directory) if directory is not None else None

    def handles(self, path: str) -> bool:
        """Whether the path is a ``[/vX.Y]/service.action`` call, known or not."""
        return PATH.match(path) is not None

    def endpoint_name(self, path: str) -> str | None:
        """The name of a ``service.action`` path's endpoint; ``"unknown"`` for an unknown one; None for any other
        path."""
        match = PATH.match(path)
        if match is None:
            return None
        return match["name"] if match["name"] in self.endpoints else "unknown"

    def is_public(self, path: str) -> bool:
        """Whether the path calls an endpoint declared ``public=True``."""
        match = PATH.match(path)
        endpoint = self.endpoints.get(match["name"]) if match else None
        return endpoint is not None and endpoint.public

    def refusal(self, path: str, exc: ClearwayError) -> Response:
        """An error in the ClearML envelope for a call refused before it reached its endpoint."""
        match = PATH.match(path)
        name = match["name"] if match else path.strip("/")
        return envelope.error(name, (match["version"] if match else None) or "2.31", exc)

    def routes(self) -> list[Route]:
        methods = ["GET", "POST", "PUT"]
        paths = ["/{name:str}", "/{name:str}/", "/{version:str}/{name:str}", "/{version:str}/{name:str}/"]
        return [Route(path, self.handle, methods=methods) for path in paths]

    async def handle(self, http: HttpRequest) -> Response:
        match = PATH.match(http.url.path)
        name = match["name"] if match else http.url.path.strip("/")
        version = (match["version"] if match else None) or "2.31"
        endpoint = self.endpoints.get(name) if match else None
        if endpoint is None:
            return envelope.error(
                name, version, EndpointNotFound(f"Unable to find endpoint for name {name} and version {version}")
            )
        try:
            body = await self._read_body(http)
            data = await run_in_threadpool(self._dispatch, endpoint, http, body)
        except ClearwayError as exc:
            return envelope.error(name, version, exc)
        except Exception:  # noqa: BLE001 - the client must get an envelope, never a bare 500 page
            log.exception("endpoint %s failed", name)
            return envelope.error(name, version, InternalError())
        response = envelope.ok(name, version, data)
        if self.recorder is not None:
            self.recorder.record(name, version, bytes(response.body))
        return response

    async def _read_body(self, http: HttpRequest) -> bytes:
        limit = self.services.settings.max_request_bytes
        declared = http.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"Request body over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in http.stream():
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(f"Request body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _dispatch(self, endpoint: Endpoint, http: HttpRequest, body: bytes) -> dict[str, Any] | None:
        identity = None if endpoint.public else request_identity(http)
        call = Call(identity=identity, services=self.services, http=http, body=body)
        if endpoint.raw_body:
            return endpoint.handler(call, None)
        fields = _parse_json(body)
        fields.update({k: v for k, v in http.query_params.items() if k not in fields})
        try:
            request = endpoint.model.model_validate(fields)
        except ValidationError as exc:
            raise ValidationFailed(_describe(exc), errors=_errors(exc)) from exc
        return endpoint.handler(call, request)


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJSON(f"Malformed request body: {exc}") from exc
    if not isinstance(fields, dict):
        raise MalformedJSON("Request body must be a JSON object")
    return fields


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]} for e in exc.errors()]


def _describe(exc: ValidationError) -> str:
    return "Validation error: " + "; ".join(f"{e['field']}: {e['error']}" for e in _errors(exc))
