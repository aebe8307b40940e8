"""The admin API as a FastAPI app, mounted by :mod:`clearway.app` at ``/admin/api``."""

from __future__ import annotations

import json
import logging

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from clearway.admin_api import OPENAPI_PATH, allowlists, audit, groups, users
from clearway.domain.documents import MAX_DEPTH, check_json
from clearway.errors import BadRequest, ClearwayError, InternalError, MethodNotAllowed, NotFound, ValidationFailed
from clearway.problems import problem
from clearway.services import Services

log = logging.getLogger(__name__)


def create_admin_api(services: Services) -> FastAPI:
    api = FastAPI(
        dependencies=[Depends(_storable_input)],
        title="Clearway admin API",
        version="1",
        description="Users, keys, groups, project shares, address allowlists and the audit log of your organisation.",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    api.state.services = services
    for module in (users, groups, allowlists, audit):
        api.include_router(module.router)
    for exc_type in (ClearwayError, RequestValidationError, HTTPException, Exception):
        api.add_exception_handler(exc_type, _render)
    return api


async def _storable_input(request: Request) -> None:
    """What the ClearML API checks of every body (clearway.domain.documents.check_json), checked here too: text
    every database can keep (no NUL, no lone surrogates) in the path, the query and the body, bounded nesting."""
    check_json([*request.path_params.values(), *request.query_params.values()], "request")
    body = await request.body()
    try:
        parsed = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return  # not JSON: the route's own validation answers
    except RecursionError as exc:
        raise ValidationFailed(f"Request body is nested more than {MAX_DEPTH} levels deep") from exc
    check_json(parsed, "request body")


async def _render(request: Request, exc: Exception) -> Response:
    """The one handler: every error becomes one of clearway.errors' classes, rendered as a problem document."""
    return problem(_as_clearway_error(request, exc))


def _as_clearway_error(request: Request, exc: Exception) -> ClearwayError:
    if isinstance(exc, ClearwayError):
        return exc
    if isinstance(exc, RequestValidationError):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return ValidationFailed(f"Validation error: {fields}")
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return MethodNotAllowed(f"{request.method} is not supported here")
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return NotFound(f"No admin API route {request.url.path}")
    if isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
        return BadRequest(str(exc.detail))  # a body that is no JSON at all, or too deep to parse
    log.error("admin API %s %s failed", request.method, request.url.path, exc_info=exc)
    return InternalError()
