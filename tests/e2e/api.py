"""Small helpers for calling the ClearML API over HTTP in contract tests."""

from __future__ import annotations

from typing import Any

import httpx


def call(client: httpx.Client, endpoint: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    """A ClearML-style call: GET with a JSON body, as the SDK sends it."""
    return client.request("GET", f"/v2.23/{endpoint}", json=body or {}, **kwargs)


def data(response: httpx.Response) -> dict[str, Any]:
    payload = response.json()
    assert response.status_code == payload["meta"]["result_code"] == 200, payload["meta"]
    return payload["data"]


def error(response: httpx.Response) -> tuple[int, int, str]:
    payload = response.json()
    meta = payload["meta"]
    assert response.status_code == meta["result_code"], meta
    assert payload["data"] == {}
    assert meta["endpoint"]["name"]
    return meta["result_code"], meta["result_subcode"], meta["result_msg"]
