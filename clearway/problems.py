"""Errors on our own (non-ClearML) HTTP surfaces, rendered as RFC 9457 problem documents.

The ClearML API has its own envelope (:mod:`clearway.clearml_api.envelope`); every other surface renders a
:class:`~clearway.errors.ClearwayError` here, so routes never write error bodies by hand.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clearway.domain.documents import MAX_DEPTH, check_json
from clearway.errors import BadRequest, ClearwayError, InternalError, MethodNotAllowed, NotFound, ValidationFailed

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]


def problem(exc: ClearwayError, headers: dict[str, str] | None = None) -> JSONResponse:
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    body = {"type": f"urn:clearway:error:{slug}", "title": exc.default_message, "status": exc.status}
    body["detail"] = exc.message
    headers = dict(headers or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=exc.status, headers=headers, media_type="application/problem+json")


def guarded(endpoint: Endpoint) -> Endpoint:
    """Render the endpoint's ClearwayErrors as problems, and anything unexpected as a logged 500."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ClearwayError as exc:
            return problem(exc)
        except Exception:  # noqa: BLE001 - the client gets a problem document, never a bare page
            log.exception("%s %s failed", request.method, request.url.path)
            return problem(InternalError())

    return wrapper


async def storable_input(request: Request) -> None:
    """A FastAPI dependency: what the ClearML API checks of every body (clearway.domain.documents.check_json),
    checked on our JSON APIs too: text every database can keep (no NUL, no lone surrogates) in the path, the query
    and the body, and bounded nesting."""
    check_json([*request.path_params.values(), *request.query_params.values()], "request")
    body = await request.body()
    try:
        parsed = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return  # not JSON: the route's own validation answers
    except RecursionError as exc:
        raise ValidationFailed(f"Request body is nested more than {MAX_DEPTH} levels deep") from exc
    check_json(parsed, "request body")


def render_errors_as_problems(api: FastAPI) -> None:
    """One handler for a FastAPI app: every error becomes one of clearway.errors' classes, rendered as a problem."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def as_clearway_error(request: Request, exc: Exception) -> ClearwayError:
        if isinstance(exc, ClearwayError):
            return exc
        if isinstance(exc, RequestValidationError):
            fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            return ValidationFailed(f"Validation error: {fields}")
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return MethodNotAllowed(f"{request.method} is not supported here")
        if isinstance(exc, HTTPException) and exc.status_code == 404:
            return NotFound(f"No route {request.url.path}")
        if isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
            return BadRequest(str(exc.detail))  # a body that is no JSON at all, or too deep to parse
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return InternalError()

    async def render(request: Request, exc: Exception) -> Response:
        return problem(as_clearway_error(request, exc))

    for exc_type in (ClearwayError, RequestValidationError, HTTPException, Exception):
        api.add_exception_handler(exc_type, render)
