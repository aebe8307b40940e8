"""The gateway's routing, limits and access rules, against a stand-in serving app in a real process.

One server (short timeouts, a machine down after 2 failures, probed again after 1 s) and one stand-in app serve the
whole module. The real clearml-serving app and clearml-agent are exercised in test_gateway.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.api import call, data
from tests.support.clients import client_for
from tests.support.server import ServerProcess, running_server
from tests.support.standin_serving import StandinServing

pytestmark = pytest.mark.e2e
READ_TIMEOUT_SEC = 1.5
PROBE_SEC = 1
MAX_BODY = 65536


@dataclass
class Site:
    server: ServerProcess
    org: str
    app: StandinServing
    clients: dict[str, httpx.Client]  # alice (owner), bob (same organisation), boss (its admin), carol (elsewhere)
    task: str
    queue: str
    queue_name: str
    machine: str
    endpoint: str
    template: str

    def new_machine(self, url: str | None = None, endpoints: tuple[str, ...] = ("sum",), **extra: Any) -> str:
        alice = self.clients["alice"]
        body = {"serving_task": self.task, "url": url or self.app.url, **extra}
        machine = created(alice.post("/admin/api/gateway/machines", json=body))["id"]
        for name in endpoints:
            created(alice.post("/admin/api/gateway/endpoints", json={"machine": machine, "endpoint": name}))
        return machine

    def queued(self) -> int:
        """Tasks waiting in the template's queue."""
        return len(data(call(self.clients["alice"], "queues.get_by_id", {"queue": self.queue}))["queue"]["entries"])


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tag = uuid.uuid4().hex[:8]
    env = {
        "CLEARWAY_GATEWAY_READ_TIMEOUT_SEC": str(READ_TIMEOUT_SEC),
        "CLEARWAY_GATEWAY_CONNECT_TIMEOUT_SEC": "1",
        "CLEARWAY_GATEWAY_FAILURES_BEFORE_DOWN": "2",
        "CLEARWAY_GATEWAY_PROBE_INTERVAL_SEC": str(PROBE_SEC),
        "CLEARWAY_GATEWAY_MAX_BODY_BYTES": str(MAX_BODY),
        "CLEARWAY_GATEWAY_LOG_FLUSH_SEC": "0.2",
    }
    app = StandinServing()
    app.start()
    try:
        with running_server(tmp_path_factory.mktemp("gateway-routing"), **env) as server:
            org = f"gw-{tag}"
            people = {
                "alice": server.user(f"alice-{tag}", "user", org),
                "bob": server.user(f"bob-{tag}", "user", org),
                "boss": server.user(f"boss-{tag}", "admin", org),
                "carol": server.user(f"carol-{tag}", "admin", f"other-{tag}"),
            }
            clients = {who: client_for(server, creds) for who, creds in people.items()}
            alice = clients["alice"]
            task = data(call(alice, "tasks.create", {"name": f"gw-task-{tag}", "type": "training"}))["id"]
            queue_name = f"gw-queue-{tag}"
            queue = data(call(clients["boss"], "queues.create", {"name": queue_name}))["id"]
            site = Site(server, org, app, clients, task, queue, queue_name, "", "", "")
            site.machine = site.new_machine()
            site.endpoint = alice.get("/admin/api/gateway/endpoints", params={"machine": site.machine}).json()[0]["id"]
            params = [{"name": "lr", "type": "float", "min": 0, "max": 1}, {"name": "epochs", "type": "int", "min": 1}]
            body = {"task": task, "queue": queue_name, "params": params}
            site.template = created(alice.post("/admin/api/gateway/templates", json=body))["id"]
            yield site
            for client in clients.values():
                client.close()
    finally:
        app.stop()


def test_ondemand_answers_come_back_unchanged(site: Site):
    alice = site.clients["alice"]
    answer = alice.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={"a": 1, "b": 2.5})
    assert answer.status_code == 200 and answer.json() == {"y": [3.5]}
    # By the endpoint's id as well as its name.
    assert alice.post(f"/gateway/v1/ondemand/{site.machine}/{site.endpoint}", json={"a": 2}).json() == {"y": [2]}
    machine = site.new_machine(endpoints=("echo", "status/418"))
    body = b"\x00\x01 not json at all"
    echoed = alice.post(
        f"/gateway/v1/ondemand/{machine}/echo", content=body, headers={"Content-Type": "application/x-thing"}
    )
    assert echoed.status_code == 200 and echoed.content == body
    assert echoed.headers["content-type"] == "application/x-thing"
    teapot = alice.post(f"/gateway/v1/ondemand/{machine}/status/418", json={})
    assert teapot.status_code == 418 and teapot.json() == {"detail": "as asked"}


def test_snap4city_ondemand_takes_the_token_in_the_body_or_the_header(site: Site):
    token = site.clients["alice"].headers["Authorization"].removeprefix("Bearer ")
    body = {"machine_id": site.machine, "endpoint": "sum", "params": {"x0": 0.5, "x1": 0.25}}
    plain = httpx.post(f"{site.server.url}/clearml/serve/ondemand", json={**body, "access_token": token})
    assert plain.status_code == 200 and plain.json() == {"y": [0.75]}
    assert site.clients["alice"].post("/clearml/serve/ondemand", json=body).json() == {"y": [0.75]}
    problem(httpx.post(f"{site.server.url}/clearml/serve/ondemand", json=body), 401)
    problem(httpx.post(f"{site.server.url}/clearml/serve/ondemand", json={**body, "access_token": "nope"}), 401)


def test_unknown_revoked_and_foreign_ids_are_404(site: Site):
    alice, carol = site.clients["alice"], site.clients["carol"]
    problem(alice.post("/gateway/v1/ondemand/no-such-machine/sum", json={}), 404)
    problem(alice.post(f"/gateway/v1/ondemand/{site.machine}/not-registered", json={}), 404)
    problem(carol.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={"a": 1}), 404)
    problem(carol.post(f"/gateway/v1/enqueue/{site.template}", json={}), 404)
    problem(carol.post("/clearml/serve/enqueue_task", json={"task_id": site.template, "queue": site.queue_name}), 404)
    machine = site.new_machine()
    assert alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1}).status_code == 200
    assert alice.delete(f"/admin/api/gateway/machines/{machine}").status_code == 204
    problem(alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1}), 404)
    assert machine not in [m["id"] for m in alice.get("/admin/api/gateway/machines").json()]
    problem(alice.delete(f"/admin/api/gateway/machines/{machine}"), 404)


def test_records_can_be_limited_to_some_callers(site: Site):
    alice, bob, boss = site.clients["alice"], site.clients["bob"], site.clients["boss"]
    assert bob.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={"a": 1}).status_code == 200  # organisation
    alice_id = alice.get("/admin/api/gateway/machines").json()[0]["owner_id"]
    only_alice = site.new_machine(callers={"users": [alice_id], "groups": []})
    assert alice.post(f"/gateway/v1/ondemand/{only_alice}/sum", json={"a": 1}).status_code == 200
    assert boss.post(f"/gateway/v1/ondemand/{only_alice}/sum", json={"a": 1}).status_code == 200  # an admin
    problem(bob.post(f"/gateway/v1/ondemand/{only_alice}/sum", json={"a": 1}), 404)


def test_records_are_made_by_writers_of_the_task_and_managed_by_owners_and_admins(site: Site):
    alice, bob, boss, carol = (site.clients[who] for who in ("alice", "bob", "boss", "carol"))
    machine = {"serving_task": site.task, "url": site.app.url}
    assert bob.post("/admin/api/gateway/machines", json=machine).status_code in (400, 403, 404)
    assert carol.post("/admin/api/gateway/machines", json=machine).status_code in (400, 403, 404)
    template = {"task": site.task, "queue": site.queue_name}
    assert bob.post("/admin/api/gateway/templates", json=template).status_code in (400, 403, 404)
    endpoint = {"machine": site.machine, "endpoint": "other"}
    problem(bob.post("/admin/api/gateway/endpoints", json=endpoint), 404)
    assert bob.get("/admin/api/gateway/machines").json() == []
    problem(bob.delete(f"/admin/api/gateway/templates/{site.template}"), 404)
    assert site.template in [t["id"] for t in boss.get("/admin/api/gateway/templates").json()]
    assert carol.get("/admin/api/gateway/templates").json() == []
    bad_specs = [{"name": "lr", "type": "complex"}], [{"name": "a", "type": "int", "min": 5, "max": 1}]
    for params in bad_specs:
        assert alice.post("/admin/api/gateway/templates", json={**template, "params": params}).status_code in (400, 422)
    for url in ("ftp://x", "http://", "not a url"):
        problem(alice.post("/admin/api/gateway/machines", json={**machine, "url": url}), 400)


def test_enqueue_checks_every_body_and_enqueues_nothing_on_a_bad_one(site: Site):
    alice = site.clients["alice"]
    before = site.queued()
    path = f"/gateway/v1/enqueue/{site.template}"
    unknown = problem(alice.post(path, json={"params": {"momentum": 0.9}}), 400)
    assert "lr" in unknown["detail"] and "epochs" in unknown["detail"]  # the allowed params are named
    problem(alice.post(path, json={"params": {"lr": "fast"}}), 400)
    problem(alice.post(path, json={"params": {"lr": 2}}), 400)  # above its max
    problem(alice.post(path, json={"params": {"epochs": 1.5}}), 400)
    problem(alice.post(path, json={"params": {"epochs": True}}), 400)
    problem(alice.post(path, json={"params": [1, 2]}), 400)
    problem(alice.post(path, json={"params": {}, "queue": "another-queue"}), 400)
    problem(alice.post(path, json={"params": {}, "surprise": 1}), 400)
    problem(alice.post(path, json=[1, 2]), 400)
    problem(alice.post(path, content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    problem(alice.post(path, content=b"{" + b" " * (MAX_BODY + 10) + b"}"), 413)
    snap = "/clearml/serve/enqueue_task"
    problem(alice.post(snap, json={"task_id": site.template}), 400)  # no queue
    problem(alice.post(snap, json={"queue": site.queue_name}), 400)  # no template
    problem(alice.post(snap, json={"task_id": site.template, "queue": 7}), 400)
    problem(alice.post(snap, json={"task_id": site.template, "queue": site.queue_name, "params": {"x": 1}}), 400)
    problem(alice.post("/clearml/serve/ondemand", json={"machine_id": site.machine}), 400)
    problem(
        alice.post("/clearml/serve/ondemand", json={"machine_id": site.machine, "endpoint": "sum", "params": 3}), 400
    )
    assert site.queued() == before
    children = data(call(alice, "tasks.get_all", {"parent": [site.task], "only_fields": ["id"]}))["tasks"]
    assert children == []


def test_enqueue_clones_as_the_owner_and_only_its_readers_read_the_run(site: Site):
    alice, bob, boss, carol = (site.clients[who] for who in ("alice", "bob", "boss", "carol"))
    before = site.queued()
    answer = bob.post(f"/gateway/v1/enqueue/{site.template}", json={"params": {"lr": 0.25, "epochs": 3}})
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    run = answer.json()["run"]
    snap = bob.post(
        "/clearml/serve/enqueue_task", json={"task_id": site.template, "queue": site.queue_name, "params": {}}
    )
    assert snap.status_code == 202 and snap.json()["status"] == "queued" and snap.json()["run"] != run
    assert site.queued() == before + 2
    clones = data(call(alice, "tasks.get_all", {"parent": [site.task]}))["tasks"]
    clone = next(t for t in clones if t["hyperparams"].get("General", {}).get("epochs"))
    assert clone["user"] == alice.get("/admin/api/gateway/templates").json()[0]["owner_id"]  # the owner's
    assert clone["hyperparams"]["General"]["lr"]["value"] == "0.25"
    assert clone["hyperparams"]["General"]["epochs"]["value"] == "3"
    assert run not in (clone["id"], site.task)
    for reader in (bob, alice, boss):
        view = reader.get(f"/gateway/v1/runs/{run}")
        assert view.status_code == 200, view.text
        assert view.json()["status"] == "queued" and view.json()["run"] == run
        assert set(view.json()) >= {"status_message", "created", "started", "completed", "metrics", "artifacts"}
    problem(carol.get(f"/gateway/v1/runs/{run}"), 404)
    outsider = client_for(site.server, site.server.user(f"dave-{uuid.uuid4().hex[:6]}", "user", site.org))
    with outsider:
        problem(outsider.get(f"/gateway/v1/runs/{run}"), 404)
        problem(outsider.get(f"/gateway/v1/runs/{run}/artifacts/model"), 404)
    problem(bob.get(f"/gateway/v1/runs/{run}/artifacts/nothing"), 404)


def test_gateway_tokens_are_limited_and_stored_only_as_digests(site: Site):
    alice, bob = site.clients["alice"], site.clients["bob"]
    made = created(alice.post("/admin/api/gateway/tokens", json={"rate_per_minute": 3, "daily_runs": 1}))
    token = made["token"]
    assert token.startswith("cwg_") and "token" not in alice.get("/admin/api/gateway/tokens").json()[0]
    engine = create_engine(site.server.database_url)
    try:
        with engine.connect() as conn:
            stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM gateway_tokens")) for v in row)
    finally:
        engine.dispose()
    assert made["id"] in stored and token not in stored and token[4:] not in stored
    gateway = httpx.Client(base_url=site.server.url, headers={"Authorization": f"Bearer {token}"})
    with gateway:
        # Only the gateway's routes take it.
        assert gateway.get("/v2.23/projects.get_all").status_code == 401
        assert gateway.get("/admin/api/gateway/machines").status_code == 401
        first = gateway.post(f"/gateway/v1/enqueue/{site.template}", json={"params": {"epochs": 2}})
        assert first.status_code == 202, first.text
        quota = problem(gateway.post(f"/gateway/v1/enqueue/{site.template}", json={}), 429)
        assert "runs" in quota["detail"]
        assert 0 < int(gateway.post(f"/gateway/v1/enqueue/{site.template}", json={}).headers["retry-after"]) <= 86400
        over = problem(gateway.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={"a": 1}), 429)
        assert "per minute" in over["detail"]
        assert int(gateway.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={}).headers["retry-after"]) > 0
    # The token in Snap4City's body works the same way; a revoked one stops at once.
    other = created(alice.post("/admin/api/gateway/tokens", json={}))
    body = {"machine_id": site.machine, "endpoint": "sum", "params": {"a": 4}, "access_token": other["token"]}
    assert httpx.post(f"{site.server.url}/clearml/serve/ondemand", json=body).json() == {"y": [4]}
    problem(bob.delete(f"/admin/api/gateway/tokens/{other['id']}"), 404)
    assert alice.delete(f"/admin/api/gateway/tokens/{other['id']}").status_code == 204
    problem(httpx.post(f"{site.server.url}/clearml/serve/ondemand", json=body), 401)
    problem(bob.post("/admin/api/gateway/tokens", json={"user_id": made["user_id"]}), 403)


def test_a_slow_machine_is_a_504_within_the_timeout(site: Site):
    machine = site.new_machine(endpoints=("slow/5",))
    started = time.monotonic()
    timeout = problem(site.clients["alice"].post(f"/gateway/v1/ondemand/{machine}/slow/5", json={}), 504)
    assert time.monotonic() - started < READ_TIMEOUT_SEC + 1.5
    assert "timeout" in timeout["type"]


def test_a_dead_machine_is_a_503_at_once_then_down_then_up_again(site: Site):
    alice = site.clients["alice"]
    app = StandinServing()
    app.start()
    machine = site.new_machine(url=app.url)
    assert alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1}).status_code == 200
    app.stop()
    for _ in range(2):
        started = time.monotonic()
        problem(alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1}), 503)
        assert time.monotonic() - started < 1.5
    down = problem(alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1}), 503)
    assert "down" in down["detail"]
    listed = {m["id"]: m for m in alice.get("/admin/api/gateway/machines").json()}
    assert listed[machine]["health"] == "down" and listed[machine]["health_reason"]
    app.start()  # the same port again
    deadline = time.monotonic() + 10
    while (answer := alice.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 1})).status_code != 200:
        assert answer.status_code == 503 and time.monotonic() < deadline, answer.text
        time.sleep(0.2)
    assert {m["id"]: m for m in alice.get("/admin/api/gateway/machines").json()}[machine]["health"] == "up"
    app.stop()
    # Each change was announced once, to the organisation's admins (the notification tests follow them further).
    assert _events_about(site, machine) == ["machine.down", "machine.up"]


def _events_about(site: Site, subject_id: str) -> list[str]:
    engine = create_engine(site.server.database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT kind FROM notify_outbox WHERE subject_id = :s ORDER BY id")
            return [row.kind for row in conn.execute(query, {"s": subject_id})]
    finally:
        engine.dispose()


def test_logs_and_stats_count_exactly_the_calls(site: Site):
    boss = site.clients["boss"]
    user = client_for(site.server, site.server.user(f"erin-{uuid.uuid4().hex[:6]}", "user", site.org))
    with user:
        machine = site.new_machine()
        secret_value = f"secret-{uuid.uuid4().hex}"
        for i in range(3):
            assert user.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": i, "s": secret_value}).status_code == 200
        problem(user.post(f"/gateway/v1/ondemand/{machine}/nothing", json={}), 404)
        template_call = user.post(f"/gateway/v1/enqueue/{site.template}", json={"params": {"lr": 0.5}})
        assert template_call.status_code == 202
        problem(user.post(f"/gateway/v1/enqueue/{site.template}", json={"params": {"lr": "x"}}), 400)
        mine = user.get("/gateway/v1/logs").json()
        assert mine["total"] == 6 and len(mine["items"]) == 6
        assert [i["kind"] for i in mine["items"]] == ["enqueue"] * 2 + ["ondemand"] * 4  # newest first
        assert sorted(i["status"] for i in mine["items"]) == [200, 200, 200, 202, 400, 404]
        item = mine["items"][-1]
        assert item["record"] == machine and item["endpoint"] == "sum" and item["latency_ms"] > 0
        assert item["bytes_in"] > 0 and item["bytes_out"] > 0 and item["client_ip"] == "127.0.0.1"
        assert secret_value not in str(mine) and "0.5" not in str([i["error"] for i in mine["items"]])
        paged = user.get("/gateway/v1/logs", params={"page": 1, "page_size": 4}).json()
        assert paged["total"] == 6 and len(paged["items"]) == 2
        assert user.get("/gateway/v1/logs", params={"kind": "enqueue"}).json()["total"] == 2
        assert user.get("/gateway/v1/logs", params={"status": 404}).json()["total"] == 1
        assert user.get("/gateway/v1/logs", params={"record": machine}).json()["total"] == 4
        assert user.get("/gateway/v1/logs", params={"since": "2999-01-01T00:00:00"}).json()["total"] == 0
        problem(user.get("/gateway/v1/logs", params={"kind": "other"}), 400)
        problem(user.get("/gateway/v1/logs", params={"page_size": 100000}), 400)
        caller = item["caller"]
    everyone = boss.get("/gateway/v1/logs", params={"caller": caller}).json()
    assert everyone["total"] == 6
    assert site.clients["bob"].get("/gateway/v1/logs", params={"caller": caller}).json()["total"] == 0
    assert site.clients["carol"].get("/gateway/v1/logs", params={"caller": caller}).json()["total"] == 0
    stats = boss.get("/gateway/v1/stats").json()
    assert stats["machines"] >= 1 and stats["endpoints"] >= 1 and stats["templates"] == 1
    per_machine = [t for t in stats["trends"]["per_minute"] if t["record"] == machine]
    assert sum(t["calls"] for t in per_machine) == 4 and sum(t["errors"] for t in per_machine) == 1
    hourly = [t for t in stats["trends"]["per_hour"] if t["record"] == machine]
    assert sum(t["calls"] for t in hourly) == 4
    assert site.clients["carol"].get("/gateway/v1/stats").json()["machines"] == 0


def test_gateway_routes_need_a_token(site: Site):
    url = site.server.url
    for method, path in [
        ("POST", f"/gateway/v1/ondemand/{site.machine}/sum"),
        ("POST", f"/gateway/v1/enqueue/{site.template}"),
        ("GET", "/gateway/v1/runs/x"),
        ("GET", "/gateway/v1/logs"),
        ("GET", "/gateway/v1/stats"),
        ("POST", "/clearml/serve/ondemand"),
        ("POST", "/clearml/serve/enqueue_task"),
    ]:
        problem(httpx.request(method, url + path, json={"params": {}}), 401)
    problem(httpx.get(url + "/gateway/v1/logs", headers={"Authorization": "Basic eDp5"}), 401)


def test_hostile_paths_and_queries_are_clear_4xx_and_the_log_keeps_going(site: Site):
    alice = site.clients["alice"]
    for path in (
        "/gateway/v1/ondemand/a%00b/sum",
        f"/gateway/v1/ondemand/{site.machine}/s%00um",
        "/gateway/v1/enqueue/%ED%A0%80",
        "/gateway/v1/runs/%00",
    ):
        method = "GET" if "/runs/" in path else "POST"
        assert alice.request(method, path, json={}).status_code in (400, 404), path
    for params in (
        {"status": "9" * 30},
        {"status": "99999"},
        {"page": str(2**63)},
        {"page": "-1"},
        {"page_size": "0"},
        {"since": "yesterday"},
        {"kind": "\x00"},
        {"record": "a\x00"},
    ):
        problem(alice.get("/gateway/v1/logs", params=params), 400)
    content = b'{"machine_id": "\\ud800", "endpoint": "sum", "params": {}}'
    problem(alice.post("/clearml/serve/ondemand", content=content, headers={"Content-Type": "application/json"}), 400)
    # Every call above was logged, and the log still takes new rows.
    before = alice.get("/gateway/v1/logs").json()["total"]
    assert alice.post(f"/gateway/v1/ondemand/{site.machine}/sum", json={"a": 1}).status_code == 200
    assert alice.get("/gateway/v1/logs").json()["total"] == before + 1
