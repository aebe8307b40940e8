"""HTTP clients logged in as a user, for tests below the SDK."""

from __future__ import annotations

import httpx
import jwt

from tests.support.server import ServerProcess


def token_for(server: ServerProcess, creds: dict[str, str], **headers: str) -> str:
    response = httpx.get(
        f"{server.url}/auth.login",
        auth=(creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"]),
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]


def client_for(server: ServerProcess, creds: dict[str, str]) -> httpx.Client:
    """A client with the user's Bearer token (close it, or use it in a ``with``)."""
    token = token_for(server, creds)
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def user_id(client: httpx.Client) -> str:
    """The id of the user a client is logged in as (from its token, which the clients read the same way)."""
    token = client.headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, options={"verify_signature": False})["identity"]["user"]
