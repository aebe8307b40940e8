"""Builds the ASGI app from the settings: one process, one port, every surface."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clearway.clearml_api.registry import collect
from clearway.clearml_api.router import ClearmlApi
from clearway.clearml_api.services import ALL as CLEARML_SERVICES
from clearway.files_api.routes import FileServer
from clearway.services import Services
from clearway.settings import Settings
from clearway.store import migrations


class OutdatedSchema(RuntimeError):
    pass


def prepare_database(settings: Settings) -> None:
    """Create the embedded database on first use; refuse any database whose schema is not current."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if settings.database_url is None and migrations.current_revision(url) is None:
        migrations.upgrade(url)
    if not migrations.is_current(url):
        raise OutdatedSchema(
            f"The database schema is not current (at {migrations.current_revision(url)}, "
            f"code expects {migrations.head_revision(url)}). Run: clearway db upgrade"
        )


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or Settings()
    services = services or Services.build(settings)
    clearml = ClearmlApi(services, collect(CLEARML_SERVICES))
    files = FileServer(services)
    app = Starlette(routes=[Route("/health", health), *files.routes(), *clearml.routes()])
    app.state.services = services
    return app
