"""IP verification behind a trusted proxy (127.0.0.1), allowlists at three levels, and the login throttle.

The test client stands in for the proxy: it connects from 127.0.0.1 and names the client in X-Forwarded-For.
A client connecting from 127.0.0.2 is an untrusted peer whose X-Forwarded-For must be ignored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import data, error
from tests.support.clients import token_for
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e
PER_KEY, PER_ADDRESS = 3, 5


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("proxied")
    env = {
        "CLEARWAY_TRUSTED_PROXIES": "127.0.0.1/32",
        "CLEARWAY_KEY_CACHE_SEC": "0.3",
        "CLEARWAY_LOGIN_MAX_FAILURES_PER_KEY": str(PER_KEY),
        "CLEARWAY_LOGIN_MAX_FAILURES_PER_ADDRESS": str(PER_ADDRESS),
    }
    with running_server(data_dir, **env) as proc:
        yield proc


@pytest.fixture(scope="module")
def admin(proxied: ServerProcess) -> Iterator[dict]:
    """An admin of its own organisation, calling from 127.0.0.1 (the proxy itself)."""
    name = f"org-{uuid.uuid4().hex[:6]}"
    creds = proxied.user(f"admin-{name}", "admin", org=name)
    token = token_for(proxied, creds)
    with httpx.Client(base_url=f"{proxied.url}/admin/api", headers={"Authorization": f"Bearer {token}"}) as api:
        yield {"creds": creds, "api": api}


@pytest.fixture
def org(proxied: ServerProcess, admin: dict) -> dict:
    """The admin, and a fresh user of its organisation made through the admin API."""
    api = admin["api"]
    user = api.post("/users", json={"name": f"user-{uuid.uuid4().hex[:8]}"}).json()
    pair = api.post(f"/users/{user['id']}/keys").json()
    creds = {"CLEARML_API_ACCESS_KEY": pair["access_key"], "CLEARML_API_SECRET_KEY": pair["secret_key"]}
    return {"admin": admin["creds"], "user": creds, "api": api, "user_id": user["id"]}


def from_address(
    server: ServerProcess, token: str, address: str | None, path: str = "/tasks.get_all"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if address:
        headers["X-Forwarded-For"] = address
    return httpx.get(f"{server.url}{path}", headers=headers)


def login_from(server: ServerProcess, creds: dict[str, str], address: str, secret: str | None = None):
    return httpx.get(
        f"{server.url}/auth.login",
        auth=(creds["CLEARML_API_ACCESS_KEY"], secret or creds["CLEARML_API_SECRET_KEY"]),
        headers={"X-Forwarded-For": address},
    )


def allowed(response: httpx.Response) -> bool:
    if response.status_code == 403:
        assert (
            response.json()["meta"]["result_subcode"] == 40 and "not allowed" in response.json()["meta"]["result_msg"]
        )
        return False
    assert response.status_code == 200, response.text
    return True


def eventually(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_without_allowlists_every_address_is_allowed(proxied: ServerProcess, org):
    token = token_for(proxied, org["user"])
    assert allowed(from_address(proxied, token, "198.51.100.7"))


def test_organisation_role_and_user_levels_all_apply(proxied: ServerProcess, org):
    api, token = org["api"], token_for(proxied, org["user"])
    assert api.put("/allowlists/org", json={"cidrs": ["127.0.0.1/32", "10.0.0.0/8"]}).status_code == 200
    eventually(lambda: not allowed(from_address(proxied, token, "198.51.100.7")))
    assert allowed(from_address(proxied, token, "10.2.0.1"))
    api.put("/allowlists/roles/user", json={"cidrs": ["10.1.0.0/16"]})
    eventually(lambda: not allowed(from_address(proxied, token, "10.2.0.1")))
    assert allowed(from_address(proxied, token, "10.1.9.9"))
    api.put(f"/allowlists/users/{org['user_id']}", json={"cidrs": ["10.1.2.0/24"]})
    eventually(lambda: not allowed(from_address(proxied, token, "10.1.9.9")))
    assert allowed(from_address(proxied, token, "10.1.2.3"))
    # The admin is not of role "user": only the organisation's list applies to it.
    assert allowed(from_address(proxied, token_for(proxied, org["admin"]), "10.2.0.1"))
    shown = api.get("/allowlists").json()
    assert shown == {
        "org": ["127.0.0.1/32", "10.0.0.0/8"],
        "roles": {"user": ["10.1.0.0/16"]},
        "users": {org["user_id"]: ["10.1.2.0/24"]},
    }
    # Empty lists lift the restrictions again.
    for path in ("/allowlists/org", "/allowlists/roles/user", f"/allowlists/users/{org['user_id']}"):
        api.put(path, json={"cidrs": []})
    eventually(lambda: allowed(from_address(proxied, token, "198.51.100.7")))


def test_logins_are_checked_and_denials_are_audited(proxied: ServerProcess, org):
    org["api"].put(f"/allowlists/users/{org['user_id']}", json={"cidrs": ["10.1.2.0/24"]})
    eventually(lambda: login_from(proxied, org["user"], "203.0.113.5").status_code == 403)
    code, subcode, msg = error(login_from(proxied, org["user"], "203.0.113.5"))
    assert (code, subcode) == (403, 40) and "203.0.113.5" in msg
    assert data(login_from(proxied, org["user"], "10.1.2.77"))["token"]
    denials = org["api"].get("/audit", params={"action": "auth.address_denied"}).json()["entries"]
    assert any(e["client_ip"] == "203.0.113.5" and e["actor_id"] == org["user_id"] for e in denials)


def test_every_surface_refuses_a_denied_address(proxied: ServerProcess, org):
    token = token_for(proxied, org["user"])
    org["api"].put(f"/allowlists/users/{org['user_id']}", json={"cidrs": ["10.1.2.0/24"]})
    eventually(lambda: from_address(proxied, token, "203.0.113.5").status_code == 403)
    for path in ("/files/some/file.txt", "/admin/api/users", "/no-such-surface/at/all"):
        response = from_address(proxied, token, "203.0.113.5", path)
        assert response.status_code == 403 and response.json()["type"].endswith("address-not-allowed"), path


def test_forwarded_addresses_are_read_only_from_trusted_proxies(proxied: ServerProcess, org):
    token = token_for(proxied, org["user"])
    org["api"].put(f"/allowlists/users/{org['user_id']}", json={"cidrs": ["10.1.2.0/24"]})
    eventually(lambda: not allowed(from_address(proxied, token, "203.0.113.5")))
    # A client cannot slip an allowed address in front of its own: the right-most untrusted hop counts.
    assert not allowed(from_address(proxied, token, "10.1.2.3, 203.0.113.5"))
    assert allowed(from_address(proxied, token, "203.0.113.5, 10.1.2.3"))
    # A peer that is not a trusted proxy is the client, whatever it forwards.
    untrusted = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with untrusted:
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "10.1.2.3"}
        response = untrusted.get(f"{proxied.url}/tasks.get_all", headers=headers)
    assert response.status_code == 403 and "127.0.0.2" in response.json()["meta"]["result_msg"]


def test_an_unreadable_forwarded_address_is_refused_not_skipped(proxied: ServerProcess, org):
    """A trusted proxy forwarding an empty or broken hop leaves no address: every allowlist refuses it."""
    token = token_for(proxied, org["user"])
    assert allowed(from_address(proxied, token, ","))  # without allowlists nothing is refused
    org["api"].put(f"/allowlists/users/{org['user_id']}", json={"cidrs": ["10.1.2.0/24"]})
    eventually(lambda: not allowed(from_address(proxied, token, "203.0.113.5")))
    headers = {"Authorization": f"Bearer {token}"}
    for forwarded in ("", ",", "203.0.113.9,", "10.1.2.3, ,", "not-an-address"):
        response = httpx.get(f"{proxied.url}/tasks.get_all", headers={**headers, "X-Forwarded-For": forwarded})
        assert not allowed(response), forwarded
        assert login_from(proxied, org["user"], forwarded).status_code == 403, forwarded
    assert allowed(from_address(proxied, token, "10.1.2.3"))


def test_failures_throttle_a_key_from_that_address_without_telling_whether_it_exists(proxied: ServerProcess, org):
    creds = org["user"]
    for _ in range(PER_KEY):
        assert error(login_from(proxied, creds, "10.3.0.1", secret="wrong"))[:2] == (401, 22)
    throttled = error(login_from(proxied, creds, "10.3.0.1"))  # the right secret from that address: refused
    assert throttled[:2] == (401, 22) and "retry later" in throttled[2]
    # The failures were a stranger's at 10.3.0.1: the key's owner, from her own address, still logs in.
    assert data(login_from(proxied, creds, "10.3.0.2"))["token"]
    ghost = {"CLEARML_API_ACCESS_KEY": f"GHOST{uuid.uuid4().hex[:12].upper()}", "CLEARML_API_SECRET_KEY": "x"}
    for _ in range(PER_KEY):
        login_from(proxied, ghost, "10.3.0.3")
    assert error(login_from(proxied, ghost, "10.3.0.3")) == throttled
    entries = org["api"].get("/audit", params={"action": "auth.login_throttled"}).json()["entries"]
    assert any(e["actor_name"] == creds["CLEARML_API_ACCESS_KEY"] for e in entries)


def test_repeated_failures_from_one_address_throttle_that_address(proxied: ServerProcess, org):
    for i in range(PER_ADDRESS):
        stranger = {"CLEARML_API_ACCESS_KEY": f"NOBODY{i}{uuid.uuid4().hex[:8]}", "CLEARML_API_SECRET_KEY": "x"}
        login_from(proxied, stranger, "10.4.0.1")
    assert "retry later" in error(login_from(proxied, org["admin"], "10.4.0.1"))[2]
    assert data(login_from(proxied, org["admin"], "10.4.0.2"))["token"]
