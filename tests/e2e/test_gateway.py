"""The gateway end to end, with the real clients: a scikit-learn model trained and published with the SDK, served by
the official clearml-serving app, registered with ``clearway gateway``; on-demand calls through both route styles;
a template enqueue run by the real clearml-agent, read back through the run API; logs and stats that count exactly
the calls made; a killed app, revoked and foreign ids, a spent quota and bad bodies.

One setup for the whole module (an organisation of its own on the session's server), so that it runs in minutes.
Tests run in file order and share ``World.calls``: every gateway call an organisation member makes is tallied.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for, token_for
from tests.support.server import ServerProcess
from tests.support.serving import PREDICTION, SAMPLE, ServedModel, create_template, served_model

pytestmark = [pytest.mark.e2e, pytest.mark.single_database]
RUN_TIMEOUT_SEC = 180
LABEL = "zq-label-71"  # a parameter value, which the request log must never hold


@dataclass
class World:
    server: ServerProcess
    org: str
    served: ServedModel
    machine: str
    template: str
    template_task: str
    queue: str
    queue_name: str
    token: str  # a gateway token of the caller, with a quota of one run a day
    caller_name: str
    clients: dict[str, httpx.Client]  # owner, caller (gateway token), user (API token), admin, outsider, plain
    agent: AgentProcess
    calls: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status) of members' calls
    run: str = ""

    def post(self, who: str, path: str, **kwargs: Any) -> httpx.Response:
        """A gateway call by a member of the organisation, tallied."""
        response = self.clients[who].post(path, **kwargs)
        kind = "enqueue" if "enqueue" in path else "ondemand"
        self.calls[(kind, response.status_code)] += 1
        return response

    def queued(self) -> int:
        return len(data(call(self.clients["admin"], "queues.get_by_id", {"queue": self.queue}))["queue"]["entries"])

    def clones(self) -> int:
        body = {"parent": [self.template_task], "only_fields": ["id"]}
        return len(data(call(self.clients["admin"], "tasks.get_all", body))["tasks"])


def gateway(server: ServerProcess, *args: str) -> str:
    """``clearway gateway ARGS``; the new id it prints on its last line."""
    return server.cli("gateway", *args).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def world(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tag = uuid.uuid4().hex[:8]
    org = f"gateway-e2e-{tag}"
    owner = server.user(f"gw-owner-{tag}", "user", org)
    caller_name = f"gw-app-{tag}"
    people = {
        "user": server.user(caller_name, "user", org),
        "admin": server.user(f"gw-admin-{tag}", "admin", org),
        "outsider": server.user(f"gw-outsider-{tag}", "admin", f"elsewhere-{tag}"),
    }
    root: Path = tmp_path_factory.mktemp("gateway-e2e")
    with served_model(owner, root / "serving") as served:
        machine = gateway(
            server, "machines", "add", "--serving-task", served.service_id, "--url", served.app.url,
            "--name", "sklearn-box", "--org", org,
        )  # fmt: skip
        gateway(server, "endpoints", "add", "--machine", machine, "--endpoint", served.endpoint, "--org", org)
        template_task = create_template(owner, root / "template")
        queue_name = f"gateway-runs-{tag}"
        clients = {who: client_for(server, creds) for who, creds in people.items()}
        clients["owner"] = client_for(server, owner)
        queue = data(call(clients["admin"], "queues.create", {"name": queue_name}))["id"]
        template = gateway(
            server, "templates", "add", "--task", template_task, "--queue", queue_name,
            "--param", "factor:int:1:100", "--param", "label:str:1:20", "--org", org,
        )  # fmt: skip
        token = gateway(server, "tokens", "create", "--user", caller_name, "--expires", "1", "--daily-runs", "1")
        clients["plain"] = httpx.Client(base_url=server.url, timeout=30)  # Snap4City's: the token in the body
        clients["caller"] = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        agent = AgentProcess(root / "agent", server.user(f"gw-agent-{tag}", "agent", org), queue_name, f"gw-{tag}:0")
        agent.start()
        try:
            yield World(
                server,
                org,
                served,
                machine,
                template,
                template_task,
                queue,
                queue_name,
                token,
                caller_name,
                clients,
                agent,
            )
        finally:
            agent.stop()
            for client in clients.values():
                client.close()


def test_an_on_demand_call_through_both_route_styles_returns_the_prediction(world: World):
    path = f"/gateway/v1/ondemand/{world.machine}/{world.served.endpoint}"
    native = world.post("caller", path, json=SAMPLE)
    assert native.status_code == 200 and native.json() == PREDICTION
    assert native.headers["content-type"].startswith("application/json")
    api_token = token_for(world.server, world.server.credentials(world.caller_name))
    body = {"machine_id": world.machine, "endpoint": world.served.endpoint, "params": SAMPLE}
    in_body = world.post("plain", "/clearml/serve/ondemand", json={**body, "access_token": api_token})
    assert in_body.status_code == 200 and in_body.json() == PREDICTION
    as_bearer = world.post("caller", "/clearml/serve/ondemand", json=body)
    assert as_bearer.status_code == 200 and as_bearer.json() == PREDICTION
    other_side = world.post("user", path, json={"x0": 0.1, "x1": 0.2})
    assert other_side.json() == {"y": [0]} == world.served.app.predict({"x0": 0.1, "x1": 0.2})


def test_bad_bodies_get_clear_4xx_and_nothing_is_enqueued(world: World):
    before = (world.queued(), world.clones())
    path = f"/gateway/v1/enqueue/{world.template}"
    unknown = world.post("user", path, json={"params": {"factor": 2, "epochs": 3}})
    assert unknown.status_code == 400 and "factor" in unknown.json()["detail"] and "label" in unknown.json()["detail"]
    assert world.post("user", path, json={"params": {"factor": "two"}}).status_code == 400
    assert world.post("user", path, json={"params": {"factor": 1000}}).status_code == 400
    assert world.post("user", path, json={"params": {"label": ""}}).status_code == 400
    assert world.post("user", path, json={"params": {}, "queue": "not-its-queue"}).status_code == 400
    assert world.post("user", path, json={"parameters": {}}).status_code == 400
    assert (
        world.post("user", path, content=b"[not json", headers={"Content-Type": "application/json"}).status_code == 400
    )
    assert world.post("user", path, content=b'{"params": {"label": "' + b"x" * 2_000_000 + b'"}}').status_code == 413
    snap = "/clearml/serve/enqueue_task"
    assert world.post("user", snap, json={"task_id": world.template, "params": {}}).status_code == 400  # no queue
    assert world.post("user", snap, json={"queue": world.queue_name, "params": {}}).status_code == 400  # no id
    ondemand = "/clearml/serve/ondemand"
    assert world.post("user", ondemand, json={"machine_id": world.machine, "params": SAMPLE}).status_code == 400
    assert (world.queued(), world.clones()) == before


def test_a_template_enqueue_is_run_by_the_agent_and_read_through_the_run_api(world: World):
    answer = world.post(
        "caller", f"/gateway/v1/enqueue/{world.template}", json={"params": {"factor": 3, "label": LABEL}}
    )
    assert answer.status_code == 202 and answer.json()["status"] == "queued", answer.text
    world.run = run = answer.json()["run"]
    assert run != world.template_task and len(run) >= 16
    caller = world.clients["caller"]
    deadline = time.monotonic() + RUN_TIMEOUT_SEC
    while (view := caller.get(f"/gateway/v1/runs/{run}").json())["status"] not in ("completed", "failed", "stopped"):
        assert time.monotonic() < deadline, f"the run did not complete: {view}\n{world.agent.tail()}"
        time.sleep(0.5)
    assert view["status"] == "completed", f"{view}\n{world.agent.tail()}"
    assert view["started"] and view["completed"] and view["created"]
    assert view["metrics"]["result"]["answer"]["last"] == 21.0
    assert "result" in view["artifacts"]
    artifact = caller.get(f"/gateway/v1/runs/{run}/artifacts/result")
    assert artifact.status_code == 200 and json.loads(artifact.content) == {"answer": 21.0, "label": LABEL}
    # The clone is the template owner's, and says who asked; its readers are the caller, the owner and admins.
    clone = data(call(world.clients["owner"], "tasks.get_all", {"parent": [world.template_task]}))["tasks"]
    assert len(clone) == 1 and world.caller_name in clone[0]["comment"]
    for reader in ("owner", "admin", "user"):
        assert world.clients[reader].get(f"/gateway/v1/runs/{run}").status_code == 200
    assert world.clients["outsider"].get(f"/gateway/v1/runs/{run}").status_code == 404


def test_going_over_the_daily_quota_is_429(world: World):
    before = (world.queued(), world.clones())
    over = world.post("caller", f"/gateway/v1/enqueue/{world.template}", json={"params": {"factor": 4}})
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    body = {"task_id": world.template, "queue": world.queue_name, "params": {}, "access_token": world.token}
    snap = world.post("plain", "/clearml/serve/enqueue_task", json=body)  # the token in the body counts the same
    assert snap.status_code == 429
    assert (world.queued(), world.clones()) == before


def test_a_caller_of_another_organisation_gets_404(world: World):
    outsider = world.clients["outsider"]
    path = f"/gateway/v1/ondemand/{world.machine}/{world.served.endpoint}"
    assert outsider.post(path, json=SAMPLE).status_code == 404
    assert outsider.post(f"/gateway/v1/enqueue/{world.template}", json={"params": {}}).status_code == 404
    assert outsider.get("/gateway/v1/stats").json()["machines"] == 0


def test_logs_and_stats_count_exactly_the_calls(world: World):
    admin = world.clients["admin"]
    logs = admin.get("/gateway/v1/logs", params={"page_size": 1000}).json()
    seen = Counter((item["kind"], item["status"]) for item in logs["items"])
    assert logs["total"] == sum(world.calls.values()) and seen == world.calls
    assert world.token not in json.dumps(logs) and LABEL not in json.dumps(logs)
    stats = admin.get("/gateway/v1/stats").json()
    assert (stats["machines"], stats["endpoints"], stats["templates"]) == (1, 1, 1)
    per_kind = Counter()
    for bucket in stats["trends"]["per_hour"]:
        per_kind[bucket["kind"]] += bucket["calls"]
    assert per_kind["ondemand"] == sum(n for (kind, _), n in world.calls.items() if kind == "ondemand")
    assert per_kind["enqueue"] == sum(n for (kind, _), n in world.calls.items() if kind == "enqueue")
    assert stats["calls"] == dict(per_kind)


def test_a_revoked_id_gives_404(world: World):
    spare = gateway(
        world.server, "templates", "add", "--task", world.template_task, "--queue", world.queue_name, "--org", world.org
    )
    assert spare in world.server.cli("gateway", "templates", "list", "--org", world.org).stdout
    world.server.cli("gateway", "templates", "revoke", spare, "--org", world.org)
    before = world.queued()
    deadline = time.monotonic() + 10  # the command line is another process: the server sees it within seconds
    while (answer := world.clients["user"].post(f"/gateway/v1/enqueue/{spare}", json={})).status_code != 404:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)
    assert world.queued() == before


def test_a_killed_app_gives_503_within_the_timeout(world: World):
    world.served.app.kill()
    path = f"/gateway/v1/ondemand/{world.machine}/{world.served.endpoint}"
    started = time.monotonic()
    answer = world.clients["user"].post(path, json=SAMPLE)
    assert answer.status_code == 503 and answer.json()["status"] == 503
    assert "unreachable" in answer.json()["detail"] or "down" in answer.json()["detail"]
    assert time.monotonic() - started < 3  # the connect timeout (2 s by default), not the read timeout
