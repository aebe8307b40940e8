"""auth.*: log in with an API key pair."""

from __future__ import annotations

from typing import Any

from clearway.auth.middleware import request_client_ip
from clearway.clearml_api.context import Call
from clearway.clearml_api.registry import Request, Service

service = Service("auth")


@service.endpoint("login", public=True)
def login(call: Call, _req: Request) -> dict[str, Any]:
    headers = call.http.headers
    # clearml-agent --use-owner-token sends X-Clearml-Impersonate-As: <user id> to act for a task's owner.
    act_as = headers.get("x-clearml-impersonate-as")
    return {"token": call.services.auth.login(headers.get("authorization"), request_client_ip(call.http), act_as)}
