"""The admin API: OpenAPI, admins only, problem bodies, users, passwords, keys, roles, the audit log; and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import error
from tests.support.clients import client_for
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture(scope="module")
def boss(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, server.user(f"boss-{uuid.uuid4().hex[:6]}", "admin")) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def basic_login(server: ServerProcess, name: str, secret: str) -> httpx.Response:
    return httpx.get(f"{server.url}/auth.login", auth=(name, secret))


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    return body


def test_the_openapi_document_is_public_and_declares_bearer_auth(server: ServerProcess):
    doc = httpx.get(f"{server.url}/admin/api/openapi.json").json()
    assert {"/users", "/groups", "/projects/{project_id}/shares", "/allowlists", "/audit"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_only_admins_get_in_and_errors_are_problem_documents(server: ServerProcess):
    assert assert_problem(httpx.get(f"{server.url}/admin/api/users"), 401)["type"].endswith("missing-credentials")
    with client_for(server, server.user(unique("plain"))) as plain:
        body = assert_problem(plain.get("/admin/api/users"), 403)
        assert body["type"] == "urn:clearway:error:forbidden" and "admin" in body["detail"]


def test_validation_and_missing_routes_are_problem_documents_too(boss: httpx.Client):
    assert "role" in assert_problem(boss.post("/admin/api/users", json={"name": "x", "role": "god"}), 400)["detail"]
    assert_problem(boss.get("/admin/api/users/nobody"), 404)
    assert_problem(boss.get("/admin/api/no-such-route"), 404)


def test_users_with_passwords_log_in_and_failures_say_nothing_about_who_exists(server: ServerProcess, boss):
    name = unique("pw")
    user = boss.post("/admin/api/users", json={"name": name, "password": "correct horse"}).json()
    assert user["role"] == "user" and "password" not in user and "password_hash" not in user
    token = basic_login(server, name, "correct horse").json()["data"]["token"]
    tasks = httpx.get(f"{server.url}/tasks.get_all", headers={"Authorization": f"Bearer {token}"})
    assert tasks.status_code == 200
    wrong = error(basic_login(server, name, "wrong horse"))
    unknown = error(basic_login(server, unique("nobody"), "wrong horse"))
    assert wrong == unknown == (401, 22, "Invalid credentials")
    assert boss.put(f"/admin/api/users/{user['id']}/password", json={"password": "short"}).status_code == 400
    assert boss.put(f"/admin/api/users/{user['id']}/password", json={"password": "battery staple"}).status_code == 204
    assert error(basic_login(server, name, "correct horse"))[0] == 401
    deadline = time.monotonic() + 10  # the old password's tokens stop working too
    while httpx.get(f"{server.url}/tasks.get_all", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
        assert time.monotonic() < deadline, "a token of the old password still works"
        time.sleep(0.1)
    assert basic_login(server, name, "battery staple").status_code == 200


def test_a_new_keys_secret_is_shown_once_and_revoking_it_stops_its_tokens(server: ServerProcess, boss):
    user = boss.post("/admin/api/users", json={"name": unique("keyed")}).json()
    pair = boss.post(f"/admin/api/users/{user['id']}/keys").json()
    listed = boss.get(f"/admin/api/users/{user['id']}/keys").json()
    assert [k["access_key"] for k in listed] == [pair["access_key"]] and "secret_key" not in listed[0]
    login = httpx.get(f"{server.url}/auth.login", auth=(pair["access_key"], pair["secret_key"]))
    headers = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    assert boss.delete(f"/admin/api/keys/{pair['access_key']}").status_code == 204
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.url}/tasks.get_all", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.1)
    assert boss.delete(f"/admin/api/keys/{pair['access_key']}").status_code == 404


def test_role_changes_take_effect_and_are_audited(server: ServerProcess, boss):
    name = unique("promoted")
    creds = server.user(name)
    user_id = next(u["id"] for u in boss.get("/admin/api/users").json() if u["name"] == name)
    with client_for(server, creds) as client:
        assert client.get("/admin/api/users").status_code == 403
        assert boss.patch(f"/admin/api/users/{user_id}", json={"role": "admin"}).json()["role"] == "admin"
        deadline = time.monotonic() + 10
        while client.get("/admin/api/users").status_code != 200:
            assert time.monotonic() < deadline, "the new role was not seen"
            time.sleep(0.1)
    entries = boss.get("/admin/api/audit", params={"action": "user.role"}).json()["entries"]
    assert any(e["target"] == user_id and e["detail"]["new"] == "admin" for e in entries)


def test_the_audit_log_records_logins_and_failures_and_pages_and_filters(server: ServerProcess, boss):
    name = unique("audited")
    creds = server.user(name)
    start = boss.get("/admin/api/audit", params={"page_size": 1}).json()["entries"][0]["at"]
    client_for(server, creds).close()
    httpx.get(f"{server.url}/auth.login", auth=(creds["CLEARML_API_ACCESS_KEY"], "wrong"))
    logins = boss.get("/admin/api/audit", params={"action": "auth.login", "since": start}).json()["entries"]
    mine = [e for e in logins if e["actor_name"] == name]
    assert mine and mine[0]["client_ip"] == "127.0.0.1" and mine[0]["outcome"] == "ok"
    failed = boss.get("/admin/api/audit", params={"action": "auth.login_failed", "since": start}).json()["entries"]
    assert any(e["actor_name"] == creds["CLEARML_API_ACCESS_KEY"] and e["outcome"] == "failed" for e in failed)
    by_user = boss.get("/admin/api/audit", params={"user_id": mine[0]["actor_id"]}).json()["entries"]
    assert by_user and {e["actor_id"] for e in by_user} == {mine[0]["actor_id"]}
    first, second = (boss.get("/admin/api/audit", params={"page": p, "page_size": 2}).json() for p in (0, 1))
    assert len(first["entries"]) == 2 and {e["id"] for e in first["entries"]}.isdisjoint(
        e["id"] for e in second["entries"]
    )
    assert boss.get("/admin/api/audit", params={"page_size": 100_000}).status_code == 400


def test_an_organisation_keeps_one_admin(server: ServerProcess):
    org = unique("org")
    only = server.user(unique("only"), "admin", org=org)
    with client_for(server, only) as client:
        me = client.get("/admin/api/users").json()
        assert [u["role"] for u in me] == ["admin"]
        body = assert_problem(client.patch(f"/admin/api/users/{me[0]['id']}", json={"role": "user"}), 409)
        assert "at least one admin" in body["detail"]


def test_admins_see_only_their_own_organisation(server: ServerProcess, boss):
    other = server.user(unique("elsewhere"), "admin", org=unique("org"))
    with client_for(server, other) as client:
        names = {u["name"] for u in client.get("/admin/api/users").json()}
    assert len(names) == 1
    outsider = next(iter(names))
    ours = {u["name"] for u in boss.get("/admin/api/users").json()}
    assert outsider not in ours


def test_the_operator_cli_manages_passwords_roles_groups_shares_allowlists_and_reads_the_audit(server: ServerProcess):
    name = unique("clier")
    server.user(name)
    env = server.env
    set_password = [sys.executable, "-m", "clearway", "users", "set-password", name, "--stdin"]
    subprocess.run(set_password, env=env, input="a good password\n", text=True, check=True, capture_output=True)
    assert basic_login(server, name, "a good password").status_code == 200
    assert "is now admin" in server.cli("users", "set-role", name, "admin").stdout
    group = unique("crew")
    server.cli("groups", "create", group)
    server.cli("groups", "add-member", group, name)
    assert name in server.cli("groups", "list").stdout
    assert "10.0.0.0/8" in server.cli("allowlist", "set", "--user", name, "10.0.0.0/8").stdout
    assert "no restriction" in server.cli("allowlist", "set", "--user", name).stdout
    assert server.cli("allowlist", "set", "not-a-range", check=False).returncode == 1
    audit = server.cli("audit", "list", "--action", "group.member_add").stdout
    assert '"actor_name": "operator (cli)"' in audit
    ghost = f"GHOST{uuid.uuid4().hex[:10].upper()}"
    basic_login(server, ghost, "nothing")
    assert ghost in server.cli("audit", "list", "--unattributed", "--action", "auth.login_failed").stdout


def test_a_user_name_is_one_user_across_every_organisation(server: ServerProcess, boss):
    """Another organisation's admin cannot take a name: login, the command line and SSO keep meaning one user."""
    name = unique("alice")
    alice = boss.post("/admin/api/users", json={"name": name, "password": "alice's password"}).json()
    other_admin = server.user(unique("org-b-admin"), "admin", org=unique("org-b"))
    with client_for(server, other_admin) as other:
        taken = assert_problem(other.post("/admin/api/users", json={"name": name, "password": "not alice!"}), 409)
        assert "unique across the server" in taken["detail"]
        assert assert_problem(boss.post("/admin/api/users", json={"name": name}), 409)["detail"] == taken["detail"]
    assert server.cli("users", "create", name, "--org", unique("org-c"), check=False).returncode == 1
    assert basic_login(server, name, "alice's password").status_code == 200
    assert basic_login(server, name, "not alice!").status_code == 401
    assert "is now agent" in server.cli("users", "set-role", name, "agent").stdout
    assert boss.get(f"/admin/api/users/{alice['id']}").json()["role"] == "agent"
