"""Errors on our own (non-ClearML) HTTP surfaces, rendered as RFC 9457 problem documents.

The ClearML API has its own envelope (:mod:`clearway.clearml_api.envelope`); every other surface renders a
:class:`~clearway.errors.ClearwayError` here, so routes never write error bodies by hand.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clearway.errors import ClearwayError, InternalError

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
