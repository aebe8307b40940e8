"""The web UI's sessions over plain HTTP (no browser): the cookie's flags, CSRF on every change, logout and a
changed password end a session on the server, API keys cannot log in, and every answer carries the strict
Content-Security-Policy."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.clients import client_for
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def user(server: ServerProcess) -> tuple[str, str]:
    name, password = f"web-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    server.user(name)
    server.cli("users", "set-password", name, "--stdin", input=password + "\n")
    return name, password


def login(server: ServerProcess, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    answer = client.post("/web/login", data={"name": name, "password": password, "next": "/web/settings"})
    assert answer.status_code == 303 and answer.headers["location"] == "/web/settings", answer.text[:300]
    return client


@pytest.fixture
def browser(server: ServerProcess, user: tuple[str, str]) -> Iterator[httpx.Client]:
    client = login(server, *user)
    yield client
    client.close()


def csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/web/settings").text)
    assert found
    return found.group(1)


def test_the_cookie_is_httponly_lax_expiring_and_the_page_strict(server: ServerProcess, user: tuple[str, str]):
    client = httpx.Client(base_url=server.url, timeout=30)
    answer = client.post("/web/login", data={"name": user[0], "password": user[1]})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP here; Secure on HTTPS
    page = client.get("/web/projects")
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self'" in policy and "unsafe" not in policy
    assert "<script>" not in page.text and "<script src=" in page.text  # scripts are files, never inline
    client.close()


def test_every_change_needs_the_sessions_csrf_token(browser: httpx.Client):
    token = csrf(browser)
    assert browser.post("/web/settings/keys").status_code == 403
    assert browser.post("/web/settings/keys", data={"csrf": "forged"}).status_code == 403
    made = browser.post("/web/settings/keys", data={"csrf": token})
    assert made.status_code == 200 and "CLEARML_API_SECRET_KEY=" in made.text
    assert browser.post("/web/settings/keys", headers={"X-CSRF-Token": token}).status_code == 200


def test_api_keys_cannot_log_in_and_files_take_the_cookie_for_reading_only(
    server: ServerProcess, user: tuple[str, str], browser: httpx.Client
):
    creds = server.credentials(user[0])
    refused = httpx.post(
        f"{server.url}/web/login",
        data={"name": creds["CLEARML_API_ACCESS_KEY"], "password": creds["CLEARML_API_SECRET_KEY"]},
    )
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    # The cookie reads the file server (downloads, images) but never writes to it: no CSRF there.
    assert browser.get("/files/nothing/here.txt").status_code == 404
    upload = browser.post("/files/", files={"x/y.txt": ("y.txt", b"forged")})
    assert upload.status_code == 401


def test_logout_and_a_changed_password_end_the_session_on_the_server(server: ServerProcess, user: tuple[str, str]):
    first = login(server, *user)
    cookie = first.cookies["clearway_session"]
    assert first.post("/web/logout", data={"csrf": csrf(first)}).status_code == 303
    replay = httpx.get(f"{server.url}/web/projects", cookies={"clearway_session": cookie})
    assert replay.status_code == 401  # revoked, not only forgotten by the browser

    second = login(server, *user)
    assert second.get("/web/projects").status_code == 200
    new_password = f"pw-{uuid.uuid4().hex}"
    server.cli("users", "set-password", user[0], "--stdin", input=new_password + "\n")
    deadline = time.monotonic() + 10  # credentials are cached for CLEARWAY_KEY_CACHE_SEC
    while second.get("/web/projects").status_code != 401:
        assert time.monotonic() < deadline, "the session outlived the password it was opened with"
        time.sleep(0.2)
    second.close()
    first.close()
    server.cli("users", "set-password", user[0], "--stdin", input=user[1] + "\n")


def test_the_console_pages_and_searches_a_long_log(server: ServerProcess, user: tuple[str, str], browser: httpx.Client):
    with client_for(server, server.credentials(user[0])) as api:
        project = data(call(api, "projects.create", {"name": f"console-{uuid.uuid4().hex[:8]}"}))["id"]
        task = data(call(api, "tasks.create", {"name": "long log", "type": "training", "project": project}))["id"]
        lines = [{"task": task, "type": "log", "msg": f"line {i:04d}", "timestamp": 1_000 + i} for i in range(450)]
        body = "\n".join(json.dumps(line) for line in lines)
        assert data(api.post("/events.add_batch", content=body))["added"] == 450
    seen: list[str] = []
    path = f"/web/tasks/{task}/console/lines"
    for _ in range(5):
        fragment = browser.get(path).text
        seen += re.findall(r"line \d{4}", fragment)
        more = re.search(r'hx-get="([^"]+)"', fragment)
        if more is None:
            break
        path = more.group(1).replace("&amp;", "&")
    assert seen == [f"line {i:04d}" for i in range(450)]
    found = browser.get(f"/web/tasks/{task}/console/lines", params={"q": "line 0321"}).text
    assert re.findall(r"line \d{4}", found) == ["line 0321"]
