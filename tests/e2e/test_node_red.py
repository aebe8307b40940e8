"""Clearway's Node-RED nodes in a real, headless Node-RED: the package built with ``npm ci`` and ``npm pack`` and
installed from its tarball; its unit tests (``npm test``); every example flow loads; a wrong token reaches a Catch
node; the live stream gives a notification; and, against the gateway with the real clearml-serving app and the real
clearml-agent (the gateway's setup, tests/support/gateway_site.py): inject → enqueue (wait) → the run
completes, read again by the run status node; inject → on-demand → the prediction, in both route styles. Last, no
credential value appears in Node-RED's log, its files or any message that came out of a flow.

One Node-RED and one gateway setup for the module; tests run in file order, the leak check last.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for
from tests.support.gateway_site import GatewaySite, gateway, gateway_site
from tests.support.node_red import PACKAGE_DIR, Collector, NodeRed, build_package, collect, example_flows
from tests.support.oidc import Issuer
from tests.support.receivers import wait_for
from tests.support.server import ServerProcess, running_server
from tests.support.serving import PREDICTION, SAMPLE

pytestmark = [pytest.mark.e2e, pytest.mark.single_database]
RUN_TIMEOUT_SEC = 240
WRONG_TOKEN = "wrong-token-" + uuid.uuid4().hex
OIDC_SECRET = "oidc-client-secret-" + uuid.uuid4().hex
SECRETS: set[str] = {WRONG_TOKEN}  # every credential value given to Node-RED; none may come out


@pytest.fixture(scope="module")
def red(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    root = tmp_path_factory.mktemp("node-red")
    node_red = NodeRed(root / "user")
    SECRETS.add(node_red.credential_secret)
    node_red.install(build_package(root))
    node_red.start()
    try:
        yield node_red
    finally:
        node_red.stop()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    sink = Collector()
    yield sink
    sink.close()


def server_node(node_id: str, server: ServerProcess, tab: str, **credentials: str) -> dict[str, Any]:
    """A clearway-server config node; the credential kind follows from the credentials given."""
    kind = "apikey" if "secretKey" in credentials else "token"
    SECRETS.update(value for value in credentials.values())
    return {"id": node_id, "type": "clearway-server", "z": tab, "url": server.url, "authType": kind,
            "timeout": "30", "credentials": credentials}  # fmt: skip


def key_pair(creds: dict[str, str]) -> dict[str, str]:
    return {"accessKey": creds["CLEARML_API_ACCESS_KEY"], "secretKey": creds["CLEARML_API_SECRET_KEY"]}


def tab(tab_id: str) -> dict[str, Any]:
    return {"id": tab_id, "type": "tab", "label": tab_id}


def inject(node_id: str, z: str, payload: Any, wire: str) -> dict[str, Any]:
    kind = "str" if isinstance(payload, str) else "json"
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {"id": node_id, "type": "inject", "z": z, "props": [{"p": "payload"}], "payload": text,
            "payloadType": kind, "repeat": "", "once": False, "wires": [[wire]]}  # fmt: skip


def catch(node_id: str, z: str, wire: str) -> dict[str, Any]:
    return {"id": node_id, "type": "catch", "z": z, "scope": None, "uncaught": False, "wires": [[wire]]}


def started_flows(red: NodeRed) -> int:
    return red.tail(10**9).count("Started flows")


def deploy(red: NodeRed, flows: list[dict[str, Any]]) -> None:
    """Deploy and wait until the runtime says the flows started."""
    before = started_flows(red)
    red.deploy(flows)
    wait_for(lambda: started_flows(red) > before, "the flows to start", timeout=30)


def test_the_unit_tests_pass(red: NodeRed):
    result = subprocess.run(["npm", "test"], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_the_package_registers_its_nodes(red: NodeRed):
    types = red.node_types()
    for kind in ("clearway-server", "clearway enqueue", "clearway on-demand", "clearway run status", "clearway events"):
        assert types[kind]["module"] == "@clearway/node-red-clearway", types.get(kind)
        assert types[kind]["enabled"] and not types[kind].get("err")


@pytest.mark.parametrize("name", sorted(example_flows()))
def test_each_example_flow_loads(red: NodeRed, server: ServerProcess, name: str):
    flows = example_flows()[name]
    for node in flows:
        if node["type"] == "clearway-server":
            node.update(server_node(node["id"], server, "", token=WRONG_TOKEN))
            del node["z"]
    deploy(red, flows)
    assert {node["id"] for node in red.flows()} == {node["id"] for node in flows}
    assert "missing types" not in red.tail(20_000).rsplit("Stopping flows", 1)[-1]


def test_a_wrong_token_is_an_error_a_catch_node_gets(red: NodeRed, server: ServerProcess, collector: Collector):
    flows = [
        tab("wrong"),
        server_node("wrong-server", server, "wrong", token=WRONG_TOKEN),
        inject("wrong-go", "wrong", {"factor": 1}, "wrong-enqueue"),
        {
            "id": "wrong-enqueue",
            "type": "clearway enqueue",
            "z": "wrong",
            "server": "wrong-server",
            "template": "some-template",
            "wires": [["wrong-out"]],
        },
        catch("wrong-catch", "wrong", "wrong-caught"),
        *collect(collector, "wrong-out", "wrong", "/wrong/out"),
        *collect(collector, "wrong-caught", "wrong", "/wrong/caught"),
    ]
    deploy(red, flows)
    red.inject("wrong-go")
    [caught] = wait_for(lambda: collector.at("/wrong/caught"), "the Catch node's message", timeout=30)
    assert caught["statusCode"] == 401, caught
    assert "401" in caught["error"]["message"] and caught["error"]["source"]["id"] == "wrong-enqueue"
    assert collector.at("/wrong/out") == []


def test_the_events_node_gives_a_notification(red: NodeRed, server: ServerProcess, collector: Collector):
    """With an API key pair (exchanged through auth.login), a task created later arrives as task.created."""
    creds = server.user(f"nr-events-{uuid.uuid4().hex[:8]}")
    flows = [
        tab("ev"),
        server_node("ev-server", server, "ev", **key_pair(creds)),
        {
            "id": "ev-node",
            "type": "clearway events",
            "z": "ev",
            "server": "ev-server",
            "kinds": "task.created",
            "wires": [["ev-out"]],
        },
        *collect(collector, "ev-out", "ev", "/events"),
    ]
    deploy(red, flows)
    with client_for(server, creds) as client:
        project = data(call(client, "projects.create", {"name": f"node-red {uuid.uuid4().hex[:6]}"}))["id"]
        # The stream starts at the next event once connected: create tasks until one arrives.
        created: list[str] = []

        def arrived() -> dict[str, Any] | None:
            body = {"name": "seen by node-red", "type": "training", "project": project}
            created.append(data(call(client, "tasks.create", body))["id"])
            got = [m["payload"] for m in collector.at("/events")]
            return next((p for p in got if p["data"]["task"]["id"] in created), None)

        notification = wait_for(arrived, "a task.created notification", timeout=30)
    assert notification["type"] == "task.created"


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Issuer]]:
    """A server that trusts a test issuer, where client ``node-red`` gets tokens valid 2 s."""
    with Issuer() as issuer:
        issuer.clients["node-red"] = OIDC_SECRET
        issuer.client_token_ttl = 2
        env = {
            "CLEARWAY_OIDC_ISSUER": issuer.url,
            "CLEARWAY_OIDC_AUDIENCE": "clearway",
            "CLEARWAY_OIDC_CREATE_USERS": "true",
        }
        with running_server(tmp_path_factory.mktemp("node-red-sso"), **env) as server:
            yield server, issuer


def test_oidc_client_credentials_are_exchanged_and_renewed(
    red: NodeRed, sso: tuple[ServerProcess, Issuer], collector: Collector
):
    """The token endpoint comes from the issuer's discovery document; the gateway accepts the token (an unknown
    template is a 404, not a 401); a token about to expire is replaced by a new one."""
    server, issuer = sso
    SECRETS.add(OIDC_SECRET)
    flows = [
        tab("sso"),
        {
            "id": "sso-server",
            "type": "clearway-server",
            "z": "sso",
            "url": server.url,
            "authType": "oidc",
            "issuer": issuer.url,
            "credentials": {"clientId": "node-red", "clientSecret": OIDC_SECRET},
        },
        inject("sso-go", "sso", {}, "sso-enqueue"),
        {
            "id": "sso-enqueue",
            "type": "clearway enqueue",
            "z": "sso",
            "server": "sso-server",
            "template": "no-such-template",
            "wires": [["sso-out"]],
        },
        catch("sso-catch", "sso", "sso-caught"),
        *collect(collector, "sso-out", "sso", "/sso/out"),
        *collect(collector, "sso-caught", "sso", "/sso/caught"),
    ]
    deploy(red, flows)
    red.inject("sso-go")
    [first] = wait_for(lambda: collector.at("/sso/caught"), "the first call's 404", timeout=30)
    assert first["statusCode"] == 404, first
    time.sleep(issuer.client_token_ttl)
    red.inject("sso-go")
    second = wait_for(lambda: collector.at("/sso/caught")[1:], "the second call's 404", timeout=30)
    assert second[0]["statusCode"] == 404, second
    assert issuer.client_tokens == 2


@dataclass
class Site:
    """The gateway's setup (tests/support/gateway_site.py) and a caller of its own."""

    server: ServerProcess
    gateway: GatewaySite
    token: str  # a gateway token of the caller
    caller: dict[str, str]  # the caller's CLEARML_* credentials (an API key pair)

    @property
    def agent(self) -> AgentProcess:
        return self.gateway.agent


@pytest.fixture(scope="module")
def site(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tag = uuid.uuid4().hex[:8]
    org = f"node-red-{tag}"
    caller_name = f"nr-app-{tag}"
    caller = server.user(caller_name, "user", org)
    with gateway_site(server, tmp_path_factory.mktemp("node-red-gateway"), org, tag) as records:
        token = gateway(server, "tokens", "create", "--user", caller_name, "--daily-runs", "10")
        yield Site(server, records, token, caller)


def test_enqueue_waits_until_the_agent_completes_the_run(red: NodeRed, site: Site, collector: Collector):
    """inject → enqueue (wait) → the finished run, read again by run status; the owner's events node hears the
    run complete."""
    flows = [
        tab("run"),
        server_node("run-server", site.server, "run", token=site.token),
        server_node("run-owner", site.server, "run", **key_pair(site.gateway.owner)),
        inject("run-go", "run", {"factor": 3, "label": "from node-red"}, "run-enqueue"),
        {
            "id": "run-enqueue",
            "type": "clearway enqueue",
            "z": "run",
            "server": "run-server",
            "template": site.gateway.template,
            "wait": True,
            "pollInterval": "1",
            "pollMax": "3",
            "waitTimeout": str(RUN_TIMEOUT_SEC),
            "wires": [["run-out", "run-status"]],
        },
        {
            "id": "run-status",
            "type": "clearway run status",
            "z": "run",
            "server": "run-server",
            "wires": [["run-read"]],
        },
        {
            "id": "run-events",
            "type": "clearway events",
            "z": "run",
            "server": "run-owner",
            "kinds": "task.completed",
            "wires": [["run-completed"]],
        },
        catch("run-catch", "run", "run-caught"),
        *collect(collector, "run-out", "run", "/run/out"),
        *collect(collector, "run-read", "run", "/run/read"),
        *collect(collector, "run-completed", "run", "/run/completed"),
        *collect(collector, "run-caught", "run", "/run/caught"),
    ]
    deploy(red, flows)
    red.inject("run-go")

    def finished() -> list[Any]:
        assert not collector.at("/run/caught"), collector.at("/run/caught")
        return collector.at("/run/out")

    [out] = wait_for(finished, f"the run to finish\n{site.agent.tail()}", timeout=RUN_TIMEOUT_SEC + 30)
    run = out["payload"]
    assert run["status"] == "completed", f"{run}\n{site.agent.tail()}"
    assert run["metrics"]["result"]["answer"]["last"] == 21.0
    assert "result" in run["artifacts"]
    assert out["run"] == run["run"]
    [read] = wait_for(lambda: collector.at("/run/read"), "the run status node's message", timeout=30)
    assert read["payload"]["status"] == "completed" and read["run"] == run["run"]
    [event, *_] = wait_for(lambda: collector.at("/run/completed"), "the task.completed notification", timeout=30)
    assert event["payload"]["type"] == "task.completed" and event["topic"] == "task.completed"


def test_on_demand_returns_the_prediction_in_both_route_styles(red: NodeRed, site: Site, collector: Collector):
    """The native route with the caller's API key pair; Snap4City's with the gateway token in the body."""
    flows = [
        tab("od"),
        server_node("od-keys", site.server, "od", **key_pair(site.caller)),
        server_node("od-token", site.server, "od", token=site.token),
        inject("od-go", "od", SAMPLE, "od-native"),
        inject("od-go-compat", "od", SAMPLE, "od-compat"),
        {
            "id": "od-native",
            "type": "clearway on-demand",
            "z": "od",
            "server": "od-keys",
            "machine": site.gateway.machine,
            "endpoint": site.gateway.served.endpoint,
            "wires": [["od-out"]],
        },
        {
            "id": "od-compat",
            "type": "clearway on-demand",
            "z": "od",
            "server": "od-token",
            "machine": site.gateway.machine,
            "endpoint": site.gateway.served.endpoint,
            "compat": True,
            "wires": [["od-out-compat"]],
        },
        catch("od-catch", "od", "od-caught"),
        *collect(collector, "od-out", "od", "/od/out"),
        *collect(collector, "od-out-compat", "od", "/od/compat"),
        *collect(collector, "od-caught", "od", "/od/caught"),
    ]
    deploy(red, flows)
    red.inject("od-go")
    red.inject("od-go-compat")
    for path in ("/od/out", "/od/compat"):
        [out] = wait_for(lambda p=path: collector.at(p) or collector.at("/od/caught"), path, timeout=60)
        assert out["statusCode"] == 200, out
        assert out["payload"] == PREDICTION


def test_no_credential_appears_in_the_log_the_files_or_any_message(red: NodeRed, collector: Collector):
    time.sleep(0.5)  # the last messages' log lines
    log = red.tail(10**9)
    messages = json.dumps([body for _, body in collector.received])
    files = "".join(path.read_text(errors="replace") for path in red.user_dir.glob("*.json"))
    assert len(collector.received) >= 3 and "Started flows" in log
    for secret in SECRETS:
        assert secret not in log, "a credential value appears in Node-RED's log"
        assert secret not in messages, "a credential value appears in a message out of a flow"
        assert secret not in files, "a credential value appears unencrypted in Node-RED's files"
