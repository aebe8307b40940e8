"""auth.*: log in with an API key pair."""

from __future__ import annotations

from typing import Any

from clearway.clearml_api.context import Call
from clearway.clearml_api.registry import Request, Service

service = Service("auth")


@service.endpoint("login", public=True)
def login(call: Call, _req: Request) -> dict[str, Any]:
    return {"token": call.services.auth.login(call.http.headers.get("authorization"))}
