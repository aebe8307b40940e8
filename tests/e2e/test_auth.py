"""auth.login and Bearer tokens: good, bad, expired, revoked."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.e2e.api import data, error
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def login(server: ServerProcess, creds: dict[str, str]) -> httpx.Response:
    return httpx.get(
        f"{server.url}/auth.login", auth=(creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
    )


def test_login_returns_a_long_lived_token_with_the_claims_clients_read(server: ServerProcess, alice: dict[str, str]):
    token = data(login(server, alice))["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["api_version"] == "2.31" and claims["feature_set"] == "basic"
    assert claims["server_version"] and claims["identity"]["user"] and claims["identity"]["company"]
    assert claims["exp"] - time.time() > 7 * 24 * 3600


@pytest.mark.parametrize(
    "auth",
    [None, ("nobody", "nothing"), ("", ""), "Basic !!notbase64", "Digest abc"],
)
def test_bad_credentials_are_refused_without_saying_why(server: ServerProcess, auth):
    headers = {"Authorization": auth} if isinstance(auth, str) else {}
    response = httpx.get(f"{server.url}/auth.login", auth=auth if isinstance(auth, tuple) else None, headers=headers)
    code, subcode, msg = error(response)
    assert code == 401 and subcode in (20, 21, 22)
    assert "nobody" not in msg


def test_wrong_secret_for_a_real_key(server: ServerProcess, alice: dict[str, str]):
    response = httpx.get(f"{server.url}/auth.login", auth=(alice["CLEARML_API_ACCESS_KEY"], "wrong"))
    assert error(response)[:2] == (401, 22)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "Zm9v"])
def test_bad_tokens_are_refused(server: ServerProcess, token: str):
    response = httpx.get(f"{server.url}/tasks.get_all", headers={"Authorization": f"Bearer {token}"})
    assert error(response)[0] == 401


def test_expired_and_forged_tokens_are_refused(server: ServerProcess, alice: dict[str, str]):
    token = data(login(server, alice))["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = (server.data_dir / "token-secret").read_text().strip()
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, secret, algorithm="HS256")
    forged = jwt.encode(claims, "not-the-secret-but-just-as-long-as-one-0123456789", algorithm="HS256")
    for bad in (expired, forged):
        response = httpx.get(f"{server.url}/tasks.get_all", headers={"Authorization": f"Bearer {bad}"})
        assert error(response)[:2] == (401, 30)


def test_a_revoked_keys_tokens_stop_working_within_seconds(server: ServerProcess):
    creds = server.user("revokee")
    token = data(login(server, creds))["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/tasks.get_all", headers=headers).status_code == 200
    server.cli("keys", "revoke", creds["CLEARML_API_ACCESS_KEY"])
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.url}/tasks.get_all", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.2)
    assert error(httpx.get(f"{server.url}/tasks.get_all", headers=headers))[0] == 401
    assert error(login(server, creds))[0] == 401
