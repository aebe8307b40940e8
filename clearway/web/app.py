"""The web UI's ASGI app: its routes, static files, compression and error pages."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from clearway.errors import ClearwayError, MissingCredentials
from clearway.services import Services
from clearway.web import PREFIX, task_actions
from clearway.web import admin as admin_views
from clearway.web import auth as auth_views
from clearway.web import compare as compare_views
from clearway.web import datasets as dataset_views
from clearway.web import gateway as gateway_views
from clearway.web import models as model_views
from clearway.web import projects as project_views
from clearway.web import queues as queue_views
from clearway.web import task as task_views
from clearway.web.rendering import HERE, page, render_refusal


def create_web_app(services: Services) -> Starlette:
    static = _Static(directory=HERE / "static")
    routes = [
        *auth_views.routes(services),
        *project_views.routes(services),
        *task_views.routes(services),
        *task_actions.routes(services),
        *model_views.routes(services),
        *dataset_views.routes(services),
        *queue_views.routes(services),
        *admin_views.routes(services),
        *compare_views.routes(services),
        *gateway_views.routes(services),
        Route("/static/{path:path}", static.serve, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(GZipMiddleware, minimum_size=500)],
        exception_handlers={ClearwayError: _error, 404: _not_found, 405: _not_found},
    )


class _Static(StaticFiles):
    """The vendored and own static files, under one route (cached: their names change with their versions)."""

    async def serve(self, request: Request) -> Response:
        scope: Scope = {**request.scope, "path": "/" + request.path_params["path"]}
        response = await self.get_response(request.path_params["path"], scope)
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClearwayError)
    if exc.status == 401:
        return render_refusal(request.url.path, exc)
    return page(request, "error.html", exc.status, error=exc.message)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return page(request, "error.html", status, error="Not found" if status == 404 else "Method not allowed")


def refusal(path: str, exc: ClearwayError) -> Response:
    """What the identity middleware answers on the UI's paths: the login page for a missing or ended session."""
    if isinstance(exc, MissingCredentials) or exc.status == 401:
        return render_refusal(path, exc)
    return render_refusal(path, exc, login=False)


__all__ = ["PREFIX", "create_web_app", "refusal"]
