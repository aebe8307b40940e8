"""Builds the ASGI app from the settings: one process, one port, every surface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from clearway import web
from clearway.admin_api import OPENAPI_PATH
from clearway.admin_api import PREFIX as ADMIN_PREFIX
from clearway.auth.client_address import ClientAddress
from clearway.auth.middleware import IdentityMiddleware
from clearway.clearml_api.registry import collect
from clearway.clearml_api.router import ClearmlApi
from clearway.clearml_api.services import ALL as CLEARML_SERVICES
from clearway.errors import ClearwayError
from clearway.files_api.routes import FileServer
from clearway.gateway import authenticates_itself
from clearway.gateway.routes import GatewayApi
from clearway.notify import PREFIX as EVENTS_PREFIX
from clearway.ops import metrics
from clearway.ops.exposition import PATH as METRICS_PATH
from clearway.ops.exposition import metrics_route
from clearway.ops.telemetry import Telemetry
from clearway.problems import problem
from clearway.services import Services
from clearway.settings import Settings
from clearway.store import migrations


class OutdatedSchema(RuntimeError):
    pass


def prepare_database(settings: Settings) -> None:
    """Create the schema in an empty database (the embedded one on first use, or an empty PostgreSQL database);
    refuse any database whose schema is not current. Processes starting together take turns under a lock, so one
    creates the schema and the others find it made."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if migrations.current_revision(url) is None:
        from clearway.store.sql.locks import exclusive

        with exclusive(url, "schema"):
            if migrations.current_revision(url) is None:
                migrations.upgrade(url)
    if not migrations.is_current(url):
        raise OutdatedSchema(
            f"The database schema is not current (at {migrations.current_revision(url)}, "
            f"code expects {migrations.head_revision(url)}). Run: clearway db upgrade"
        )


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# The only paths that answer without credentials, besides ClearML endpoints declared public=True (auth.login).
# /metrics has its own token or address list (clearway.ops.exposition).
PUBLIC_PATHS = frozenset({"/health", ADMIN_PREFIX + OPENAPI_PATH, METRICS_PATH})


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or Settings()
    services = services or Services.build(settings)
    clearml = ClearmlApi(services, collect(CLEARML_SERVICES))
    files = FileServer(services)
    gateway = GatewayApi(services)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        services.watchdog.start(settings.watchdog_interval_sec)
        services.notifier.start()
        services.gateway.log.start()
        try:
            yield
        finally:
            await gateway.close()
            services.gateway.log.stop()
            services.notifier.stop()
            services.watchdog.stop()
            metrics.process_ended()

    admin = Mount(ADMIN_PREFIX, app=_BuiltOnFirstCall(lambda: _admin_api(services)))
    # Before the ClearML routes, whose /{version}/{name} would take /events/stream.
    events = Mount(EVENTS_PREFIX, app=_BuiltOnFirstCall(lambda: _events_api(services)))
    ui = Mount(web.PREFIX, app=_BuiltOnFirstCall(lambda: _web_ui(services)))
    routes = [
        Route("/health", health),
        metrics_route(services),
        admin,
        events,
        ui,
        *files.routes(),
        *gateway.routes(),
        *clearml.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = services
    app.add_middleware(
        IdentityMiddleware,
        auth=services.auth,
        addresses=ClientAddress(settings.trusted_proxies),
        # The gateway's routes identify their callers themselves (gateway tokens, Snap4City's token in the body).
        is_public=lambda path: (
            path in PUBLIC_PATHS or web.is_public(path) or clearml.is_public(path) or authenticates_itself(path)
        ),
        refusal=lambda path, exc: _refusal(clearml, path, exc),
        web_sessions=services.web_sessions,
        cookie_allowed=web.cookie_allowed,
    )
    app.add_middleware(Telemetry, endpoint_of=_endpoint_labels(clearml, routes), access_log=settings.access_log)
    return app


def _refusal(clearml: ClearmlApi, path: str, exc: ClearwayError) -> Response:
    """A refusal rendered as the surface at that path renders its errors."""
    if path.startswith(web.PREFIX + "/"):
        from clearway.web.app import refusal

        return refusal(path, exc)
    return clearml.refusal(path, exc) if clearml.handles(path) else problem(exc)


def _endpoint_labels(clearml: ClearmlApi, routes: list[BaseRoute]) -> Callable[[str], str]:
    """A path's endpoint label for metrics: the ClearML endpoint's name, or the first segment of one of our own
    routes (files, admin, health...); "other" for anything else, so the number of labels stays bounded."""
    segments = {getattr(route, "path", "").strip("/").split("/")[0] for route in routes}
    segments.discard("")
    segments = {s for s in segments if not s.startswith("{")}

    def label(path: str) -> str:
        name = clearml.endpoint_name(path)
        if name is not None:
            return name
        first = path.strip("/").split("/", 1)[0]
        return first if first in segments else "other"

    return label


def _admin_api(services: Services) -> ASGIApp:
    from clearway.admin_api.app import create_admin_api  # FastAPI: about a quarter of the server's start

    return create_admin_api(services)


def _web_ui(services: Services) -> ASGIApp:
    from clearway.web.app import create_web_app  # Jinja2 and the templates: loaded when the UI is first opened

    return create_web_app(services)


def _events_api(services: Services) -> ASGIApp:
    from clearway.notify.api import create_events_api  # FastAPI, as the admin API

    return create_events_api(services)


class _BuiltOnFirstCall:
    """An ASGI app built when its first request comes (on the event loop, so once), so that the server starts
    without paying for it."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)

    @property
    def routes(self) -> list[BaseRoute]:
        """The built app's routes, building it if need be: route listings (the route walk test) see every route."""
        if self._app is None:
            self._app = self._build()
        return self._app.routes  # type: ignore[attr-defined, no-any-return]
