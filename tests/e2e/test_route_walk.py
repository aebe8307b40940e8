"""Every registered route, walked without credentials and as other users holding the first user's ids.

User A builds a world (project, tasks with console lines, an artifact file, a model, a task waiting in a queue, a
group); then every route is called anonymously (only the declared public routes may answer), and as B (a user of
A's organisation) and C (an admin of another organisation) with A's ids in plausible bodies. Nothing of A's may
show up in their answers, and nothing of A's may change. A route nobody described here fails the walk: add it to
CLEARML or HTTP in route_walk_cases.py (with a body that would work for A) when you add the route.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from clearway.app import create_app
from clearway.clearml_api.registry import collect
from clearway.clearml_api.services import ALL as CLEARML_SERVICES
from clearway.settings import Settings
from tests.e2e.api import call, data
from tests.e2e.route_walk_cases import CLEARML, CLEARML_PATHS, HTTP, PUBLIC, REFUSED, WEBHOOK, Case, Form, World
from tests.support.clients import client_for, user_id
from tests.support.files import multipart, upload
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def registered_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path template) of every HTTP route of the app, mounts walked; ClearML's catch-alls left out.
    A route that takes every method is ``("*", path)``; HEAD, which Starlette adds to GET, is left out."""
    app = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'walk.db'}"))
    found: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for context in iter_route_contexts(routes):
            route = context.original_route
            if isinstance(route, Mount):
                inner = getattr(route.app, "routes", None)
                assert inner is not None, f"mounted app at {prefix + route.path} has no routes to walk"
                walk(inner, prefix + route.path)
                continue
            path = prefix + str(context.path)
            if path in CLEARML_PATHS:
                continue
            if context.methods is None:
                found.add(("*", path))
            found.update((method, path) for method in context.methods or () if method != "HEAD")

    walk(app.routes, "")
    return found


def test_every_route_is_in_the_walk(tmp_path: Path):
    missing = sorted(set(collect(CLEARML_SERVICES)) - set(CLEARML) - {"auth.login"})
    assert missing == [], f"ClearML endpoints not in the walk: add them to CLEARML in {__file__}"
    routes = registered_routes(tmp_path)
    uncovered = sorted(route for route in routes if route not in HTTP)
    assert uncovered == [], f"HTTP routes not in the walk: add them to HTTP in {__file__}"
    public = {name for name, endpoint in collect(CLEARML_SERVICES).items() if endpoint.public}
    assert public == {"auth.login"}, "a new public ClearML endpoint: review it, then add it to PUBLIC here"


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> World:
    tag = uuid.uuid4().hex[:8]
    creds_a = server.user(f"walker-a-{tag}")
    creds_b = server.user(f"walker-b-{tag}")
    boss = client_for(server, server.user(f"walker-boss-{tag}", "admin"))
    with client_for(server, creds_a) as a, client_for(server, creds_b) as b, boss:
        project_name = f"walkA-project-{tag}"
        project = data(call(a, "projects.create", {"name": project_name}))["id"]
        task_body = {"type": "training", "project": project}
        task = data(call(a, "tasks.create", {**task_body, "name": f"walkA-task-{tag}"}))["id"]
        queued = data(call(a, "tasks.create", {**task_body, "name": f"walkA-queued-{tag}"}))["id"]
        lines = [
            {"task": task, "type": "log", "msg": f"walkA-log-{tag}"},
            {
                "task": task,
                "type": "training_stats_scalar",
                "metric": f"walkA-metric-{tag}",
                "variant": "v",
                "iter": 1,
                "value": 1.5,
            },
            {
                "task": task,
                "type": "plot",
                "metric": "p",
                "variant": "v",
                "iter": 1,
                "plot_str": f'{{"walkA-plot-{tag}": 1}}',
            },
        ]
        assert data(a.post("/events.add_batch", content="\n".join(json.dumps(line) for line in lines)))["added"] == 3
        call(
            a,
            "tasks.edit_hyper_params",
            {"task": task, "hyperparams": [{"section": "General", "name": "lr", "value": "1"}]},
        )
        token = a.headers["Authorization"].removeprefix("Bearer ")
        file_path = f"{project_name}/walk.{task}/artifacts/a/a.txt"
        assert upload(server, token, [(file_path, f"walkA-file-{tag}".encode())]).status_code == 200
        artifact = {"key": "a", "type": "custom", "uri": f"{server.url}/files/{file_path}"}
        data(call(a, "tasks.add_or_update_artifacts", {"task": task, "force": True, "artifacts": [artifact]}))
        model_body = {
            "name": f"walkA-model-{tag}",
            "uri": f"{server.url}/files/{file_path}",
            "project": project,
            "task": task,
        }
        model = data(call(a, "models.create", model_body))["id"]
        data(call(a, "tasks.add_or_update_model", {"task": task, "name": "m", "model": model, "type": "output"}))
        queue = data(call(boss, "queues.create", {"name": f"walk-queue-{tag}"}))["id"]
        data(call(a, "tasks.enqueue", {"task": queued, "queue": queue}))
        group = boss.post("/admin/api/groups", json={"name": f"walk-group-{tag}"}).json()["id"]
        boss.put(f"/admin/api/groups/{group}/members/{user_id(a)}")
        hook = {**WEBHOOK, "url": f"{WEBHOOK['url']}-{tag}", "description": f"walkA-subscription-{tag}"}
        subscription = a.post("/events/subscriptions", json={**hook, "projects": [project]}).json()["id"]
        data(call(a, "tasks.stopped", {"task": queued, "force": True}))  # an event for A's subscription
        data(call(a, "tasks.enqueue", {"task": queued, "queue": queue}))
        delivery = _first_delivery(a)
        only_a = {"users": [user_id(a)], "groups": []}
        machine_body = {"serving_task": task, "url": "http://127.0.0.1:9", "callers": only_a}
        machine = a.post("/admin/api/gateway/machines", json=machine_body).json()["id"]
        a.post("/admin/api/gateway/endpoints", json={"machine": machine, "endpoint": "walk", "callers": only_a})
        template_body = {"task": task, "queue": queue, "callers": only_a}
        template = a.post("/admin/api/gateway/templates", json=template_body).json()["id"]
        run = a.post(f"/gateway/v1/enqueue/{template}", json={"params": {}}).json()["run"]
        # The run's clone gets an artifact kept by this server: A reads it through the run API.
        clone = data(call(a, "tasks.get_all", {"parent": [task], "only_fields": ["id"]}))["tasks"][0]["id"]
        data(call(a, "tasks.add_or_update_artifacts", {"task": clone, "force": True, "artifacts": [artifact]}))
        gateway_token = a.post("/admin/api/gateway/tokens", json={}).json()["id"]
        return World(
            project=project,
            project_name=project_name,
            task=task,
            queued_task=queued,
            model=model,
            queue=queue,
            group=group,
            file_path=file_path,
            a_user=user_id(a),
            a_key=creds_a["CLEARML_API_ACCESS_KEY"],
            b_user=user_id(b),
            subscription=subscription,
            delivery=delivery,
            machine=machine,
            template=template,
            run=run,
            gateway_token=gateway_token,
            markers=[
                f"walkA-{what}-{tag}"
                for what in ("project", "task", "queued", "log", "metric", "plot", "file", "model", "subscription")
            ],
            creds={"a": creds_a, "b": creds_b, "c": server.user(f"walker-c-{tag}", "admin", org=f"walk-org-{tag}")},
        )


def _first_delivery(client: httpx.Client) -> int:
    deadline = time.monotonic() + 30
    while not (found := client.get("/events/deliveries").json()):
        assert time.monotonic() < deadline, "no delivery of A's subscription"
        time.sleep(0.1)
    return int(found[0]["id"])


def send(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if path.startswith("/events/stream"):  # endless: what it sends in its first moments
        return _stream_start(client, path)
    if isinstance(body, Form):
        return client.request(method, path, data=body)
    if isinstance(body, list):  # file parts: field name = storage path
        content, content_type = multipart(body)
        return client.request(method, path, content=content, headers={"Content-Type": content_type})
    if isinstance(body, str):  # json-lines
        return client.request(method, path, content=body, headers={"Content-Type": "application/json-lines"})
    return client.request(method, path, json=body)


def _stream_start(client: httpx.Client, path: str) -> httpx.Response:
    chunks: list[bytes] = []
    with client.stream("GET", path, timeout=httpx.Timeout(10, read=1.5)) as response:
        try:
            for chunk in response.iter_raw():
                chunks.append(chunk)
        except httpx.ReadTimeout:
            pass
        return httpx.Response(response.status_code, headers=response.headers, content=b"".join(chunks))


Call = tuple[str, str, str, Any, Case]


def every_call(w: World) -> list[Call]:
    """(label, method, path, body, case) for every route: ClearML endpoints by name, the rest by method and path."""
    calls: list[Call] = []
    for name, case in sorted(CLEARML.items()):
        body = case.body(w)
        calls.append((name, "POST" if isinstance(body, str) else "GET", f"/v2.23/{name}", body, case))
    for (method, template), (path, body, kind) in sorted(HTTP.items()):
        calls.append((f"{method} {template}", method, path(w), body(w), Case(body, kind)))
    return calls


def _web_redirect(label: str, status: int) -> bool:
    """The web UI answers a change with a redirect to the page to show (post/redirect/get)."""
    return status == 303 and label.startswith("POST /web/")


def leaked(w: World, path: str, body: Any, response: httpx.Response) -> list[str]:
    """A's secrets in the answer, other than those the caller sent itself (errors may echo an id back)."""
    sent = path + json.dumps(body, default=repr)
    return [secret for secret in w.secrets if secret in response.text and secret not in sent]


@pytest.fixture(scope="module")
def clients(server: ServerProcess, world: World) -> Iterator[dict[str, httpx.Client]]:
    made = {who: client_for(server, creds) for who, creds in world.creds.items()}
    made["anonymous"] = httpx.Client(base_url=server.url, timeout=30)
    yield made
    for client in made.values():
        client.close()


def test_the_bodies_work_for_their_owner(world: World, clients: dict[str, httpx.Client]):
    """A's own reads all answer 200, so the walk's bodies reach the code that decides access."""
    problems = []
    for label, method, path, body, case in every_call(world):
        if case.kind == "read" and not label.startswith(("GET /admin/api/", "GET /web/admin")):
            response = send(clients["a"], method, path, body)
            if response.status_code != 200:
                problems.append(f"{label}: {response.status_code} {response.text[:300]}")
    assert not problems, "\n".join(problems)
    shown = send(clients["a"], "GET", "/v2.23/tasks.get_by_id", {"task": world.task}).text
    assert world.markers[1] in shown  # what the others must not see is really there


def test_anonymous_callers_reach_only_the_public_routes(world: World, clients: dict[str, httpx.Client]):
    problems = []
    for label, method, path, body, _case in every_call(world):
        response = send(clients["anonymous"], method, path, body)
        public = (method, label) in PUBLIC or (method, path) in PUBLIC
        if not public and response.status_code != 401:
            problems.append(f"{label}: {response.status_code} {response.text[:200]}")
        if leaked(world, path, body, response):
            problems.append(f"{label}: leaked {leaked(world, path, body, response)}")
    login = clients["anonymous"].get("/auth.login")
    assert login.status_code == 401 and login.json()["meta"]["result_subcode"] == 20
    assert not problems, "\n".join(problems)


def walk_as(w: World, who: str, client: httpx.Client) -> list[str]:
    """Every route called by ``who`` with A's ids; what went wrong, one line each."""
    problems = []
    for label, method, path, body, case in every_call(w):
        response = send(client, method, path, body)
        status = response.status_code
        if case.kind == "write" and status not in REFUSED and not (status == 200 and case.check):
            problems.append(f"{label}: {who} was not refused ({status}) {response.text[:300]}")
        elif (
            case.kind != "write"
            and status not in REFUSED
            and not 200 <= status < 300
            and not _web_redirect(label, status)
        ):
            problems.append(f"{label}: {who} got {status} {response.text[:300]}")
        target = label.split(" ")[-1]
        # Admins only: the admin API (but its gateway routes, which act as the caller) and the UI's admin pages.
        admin_only = target.startswith(("/admin/api/", "/web/admin")) and not target.startswith("/admin/api/gateway/")
        if who == "b" and admin_only and "openapi" not in label and status != 403:
            problems.append(f"{label}: a plain user got {status} from the admin API")
        if case.check is not None and status == 200 and not case.check(response):
            problems.append(f"{label}: {who}'s call took effect: {response.text[:300]}")
        if found := leaked(w, path, body, response):
            problems.append(f"{label}: {who} saw {found}: {response.text[:300]}")
    return problems


@pytest.fixture(scope="module")
def walked(world: World, clients: dict[str, httpx.Client]) -> dict[str, list[str]]:
    """The walk as B and as C, done once whichever test asks first: the tests that read its outcome, or what it
    left of A's, never depend on the order they run in (each passes alone)."""
    return {who: walk_as(world, who, clients[who]) for who in ("b", "c")}


@pytest.mark.parametrize("who", ["b", "c"], ids=["user-same-org", "admin-other-org"])
def test_other_users_get_nothing_of_a(walked: dict[str, list[str]], who: str):
    assert not walked[who], "\n".join(walked[who])


def test_nothing_of_a_changed(
    server: ServerProcess, world: World, clients: dict[str, httpx.Client], walked: dict[str, list[str]]
):
    """After B and C called every route with A's ids (the ``walked`` fixture), all of A's is as A left it."""
    assert set(walked) == {"b", "c"}
    a = clients["a"]
    task = data(call(a, "tasks.get_by_id", {"task": world.task}))["task"]
    assert task["name"] == world.markers[1] and task["status"] == "created" and task["comment"] == ""
    assert [x["key"] for x in task["execution"]["artifacts"]] == ["a"]
    assert task["hyperparams"]["General"]["lr"]["value"] == "1" and task["models"]["output"][0]["model"] == world.model
    assert task["script"].get("requirements") is None and not task["configuration"]
    assert "archived" not in task["system_tags"]
    log = data(call(a, "events.get_task_log", {"task": world.task}))["events"]
    assert [e["msg"] for e in log] == [world.markers[3]]
    model = data(call(a, "models.get_by_id", {"model": world.model}))["model"]
    assert model["name"] == world.markers[7] and not model.get("ready") and not model.get("metadata")
    project = data(call(a, "projects.get_by_id", {"project": world.project}))["project"]
    assert project["description"] == ""
    queued = data(call(a, "tasks.get_by_id", {"task": world.queued_task}))["task"]
    assert queued["status"] == "queued" and queued["execution"]["queue"] == world.queue
    assert a.get(f"/files/{world.file_path}").text == world.markers[6]
    assert data(call(a, "projects.get_all", {"name": "intruder"}))["projects"] == []
    subscription = a.get(f"/events/subscriptions/{world.subscription}").json()
    assert subscription["enabled"] and subscription["projects"] == [world.project]
    fresh = client_for(server, world.creds["a"])  # A's key, password and role are untouched
    with fresh:
        assert data(call(fresh, "tasks.get_all", {"id": [world.task], "only_fields": ["id"]}))["tasks"]
