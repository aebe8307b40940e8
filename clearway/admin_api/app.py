"""The admin API as a FastAPI app, mounted by :mod:`clearway.app` at ``/admin/api``."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from clearway.admin_api import OPENAPI_PATH, allowlists, audit, gateway, groups, notifications, users
from clearway.problems import render_errors_as_problems, storable_input
from clearway.services import Services


def create_admin_api(services: Services) -> FastAPI:
    api = FastAPI(
        dependencies=[Depends(storable_input)],
        title="Clearway admin API",
        version="1",
        description="Users, keys, groups, project shares, address allowlists and the audit log of your organisation; "
        "the gateway's machines, endpoints, templates and tokens (yours, or as an admin your organisation's).",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    api.state.services = services
    for module in (users, groups, allowlists, audit, notifications, gateway):
        api.include_router(module.router)
    render_errors_as_problems(api)
    return api
