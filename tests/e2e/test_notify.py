"""Live notifications end to end, against real receivers on loopback: a remote run on the real clearml-agent sends
queued, started and completed to its owner's webhook, e-mail, MQTT and live stream, and nothing to another user's;
a killed agent's worker goes offline for the admin; a flaky webhook is retried; bad subscriptions are refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for, token_for
from tests.support.receivers import MqttWatcher, SmtpSink, SseClient, WebhookReceiver, ensure_mosquitto, wait_for
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e
QUEUE = "notify-gpu"
WORKER_TIMEOUT_SEC = 10
FLOW = ["task.queued", "task.started", "task.completed"]

REMOTE = f"""
from clearml import Task

task = Task.init(project_name="Notified runs", task_name="remote run")
print("TASK_ID", task.id, flush=True)
task.execute_remotely(queue_name="{QUEUE}")
print("RAN ON THE AGENT", flush=True)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with every channel configured, its organisation's people, and the receivers."""
    ensure_mosquitto()
    tag = uuid.uuid4().hex[:8]
    org = f"notify-{tag}"
    hooks, smtp = WebhookReceiver(), SmtpSink()
    mqtt = MqttWatcher(f"clearway/{org}/#")
    env = {
        "CLEARWAY_WEBHOOK_ALLOW_PRIVATE": "true",
        "CLEARWAY_SMTP_URL": smtp.url,
        "CLEARWAY_MQTT_URL": "mqtt://127.0.0.1:1883",
        "CLEARWAY_EMAIL_DIGEST_SEC": "2",
        "CLEARWAY_NOTIFY_RETRY_BASE_SEC": "0.2",
        "CLEARWAY_WORKER_TIMEOUT_SEC": str(WORKER_TIMEOUT_SEC),
        "CLEARWAY_WATCHDOG_INTERVAL_SEC": "1",
    }
    try:
        with running_server(tmp_path_factory.mktemp("notify-server"), **env) as server:
            people = {who: server.user(who, role, org) for who, role in [
                ("alice", "user"), ("bob", "user"), ("root", "admin"), ("gpu", "agent")
            ]}  # fmt: skip
            clients = {who: client_for(server, creds) for who, creds in people.items()}
            data(call(clients["root"], "queues.create", {"name": QUEUE}))
            yield {"server": server, "org": org, "creds": people, "hooks": hooks, "smtp": smtp, "mqtt": mqtt, **clients}
            for client in clients.values():
                client.close()
    finally:
        hooks.close()
        smtp.close()
        mqtt.close()


def subscribe(site: dict[str, Any], who: str, path: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"channel": "webhook", "url": site["hooks"].url(path), **fields} if path else fields
    response = site[who].post("/events/subscriptions", json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    if path:
        site["hooks"].secrets[path] = made["secret"]
    return made


def of_task(events: list[dict[str, Any]], task_id: str) -> list[str]:
    return [e["type"] for e in events if (e["data"].get("task") or {}).get("id") == task_id]


def ran_remotely(events: list[dict[str, Any]], task_id: str) -> bool:
    """Whether the task's events, in the order they happened, end with queued, started, completed. (Before that,
    Task.init ran it on the data scientist's machine, and execute_remotely stopped it there.)"""
    kinds = of_task(sorted(events, key=lambda e: e["timestamp"]), task_id)
    return "task.queued" in kinds and kinds[len(kinds) - 1 - kinds[::-1].index("task.queued") :] == FLOW


def test_a_remote_run_notifies_its_owner_on_every_channel_and_no_one_else(site, tmp_path: Path, tmp_path_factory):
    hooks, smtp, mqtt, org = site["hooks"], site["smtp"], site["mqtt"], site["org"]
    for who in ("alice", "bob"):
        scope = "all" if who == "bob" else "mine"  # bob asks for every task he may read: none of alice's
        subscribe(site, who, f"/{who}", kinds=["task.*"], scope=scope)
        subscribe(site, who, channel="email", email=f"{who}@example.com", kinds=["task.*"], scope=scope)
        subscribe(site, who, channel="mqtt", kinds=["task.*"], scope=scope)
    subscribe(site, "root", "/root", kinds=["worker.*"])
    server: ServerProcess = site["server"]
    streams = {who: SseClient(server.url, token_for(server, site["creds"][who])) for who in ("alice", "bob")}
    agent = AgentProcess(root=tmp_path_factory.mktemp("notify-agent"), creds=site["creds"]["gpu"], queue=QUEUE,
                         worker="notify-gpu:0")  # fmt: skip
    agent.start()
    try:
        online = wait_for(lambda: [e for e in hooks.events("/root") if e["type"] == "worker.online"], "worker.online")
        assert online[0]["data"]["worker"]["id"] == "notify-gpu:0"
        task_id = last_line_value(run_sdk(REMOTE, site["creds"]["alice"], tmp_path / "remote").stdout, "TASK_ID")

        def alice_got_the_flow() -> bool:
            channels = {
                "webhook": hooks.events("/alice"),
                "email": smtp.events("alice@example.com"),
                "mqtt": mqtt.events(f"clearway/{org}/task/"),
                "stream": streams["alice"].events(),
            }
            return all(ran_remotely(events, task_id) for events in channels.values())

        wait_for(alice_got_the_flow, f"queued, started, completed of {task_id} on alice's channels", timeout=180)
        assert all(hook.verified for hook in hooks.hooks)
        seen = of_task(streams["alice"].events(), task_id)
        assert seen[len(seen) - 1 - seen[::-1].index("task.queued") :] == FLOW, seen  # the stream is in order
        for topic, event in mqtt.messages:
            if (event["data"].get("task") or {}).get("id") == task_id:
                assert topic.startswith(f"clearway/{org}/task/") and f"/alice/{task_id}" in topic
        ids = [e["id"] for e in hooks.events("/alice") if of_task([e], task_id)]
        assert len(set(ids)) == len(of_task(hooks.events("/alice"), task_id))  # one id per event

        # Bob's own task, sent after alice's, arrives on his channels: anything of alice's would have come first.
        own = data(call(site["bob"], "tasks.create", {"name": "bob's", "type": "training"}))["id"]
        data(call(site["bob"], "tasks.stopped", {"task": own, "force": True}))
        wait_for(lambda: "task.stopped" in of_task(hooks.events("/bob"), own), "bob's own event (webhook)")
        wait_for(lambda: "task.stopped" in of_task(smtp.events("bob@example.com"), own), "bob's own event (mail)")
        wait_for(lambda: "task.stopped" in of_task(streams["bob"].events(), own), "bob's own event (stream)")
        bobs = hooks.events("/bob") + smtp.events("bob@example.com") + streams["bob"].events()
        bobs += [event for topic, event in mqtt.messages if "/bob/" in topic]
        assert of_task(bobs, task_id) == []
        assert task_id not in str(bobs)

        # The stream resumes after the last event seen.
        queued_at = [i for i, e in streams["alice"].received if of_task([e], task_id) == ["task.queued"]][-1]
        resumed = SseClient(server.url, token_for(server, site["creds"]["alice"]), last_event_id=queued_at)
        wait_for(lambda: of_task(resumed.events(), task_id) == FLOW[1:], "the stream to resume after queued")
        resumed.close()

        agent.kill()
        offline = wait_for(
            lambda: [e for e in hooks.events("/root") if e["type"] == "worker.offline"],
            "worker.offline for the admin",
            timeout=WORKER_TIMEOUT_SEC + 60,
        )
        assert offline[0]["data"]["worker"]["id"] == "notify-gpu:0"
        assert not [e for e in hooks.events("/alice") + hooks.events("/bob") if e["type"].startswith("worker.")]
    finally:
        agent.stop()
        for stream in streams.values():
            stream.close()


def test_a_failing_webhook_is_retried_until_it_answers(site):
    hooks = site["hooks"]
    hooks.failures["/flaky"] = 3
    subscribe(site, "alice", "/flaky", kinds=["task.stopped"])
    task = data(call(site["alice"], "tasks.create", {"name": "flaky", "type": "training"}))["id"]
    data(call(site["alice"], "tasks.stopped", {"task": task, "force": True}))
    delivered = wait_for(lambda: hooks.events("/flaky"), "the fourth attempt to succeed")
    assert of_task(delivered, task) == ["task.stopped"] and hooks.failures["/flaky"] == 0
    assert hooks.arrived.count("/flaky") == 4  # three 500s, then the one that succeeded

    def recorded() -> list[dict[str, Any]]:  # the server notes the outcome just after the receiver answers
        states = site["alice"].get("/events/deliveries", params={"state": "delivered"}).json()
        return [d for d in states if d["event"]["data"]["task"]["id"] == task and d["target"].endswith("/flaky")]

    mine = wait_for(recorded, "the delivery to be recorded as delivered")
    assert len(mine) == 1 and mine[0]["attempts"] == 4


def test_a_burst_of_events_is_one_mail(site):
    subscribe(site, "alice", channel="email", email="burst@example.com", kinds=["task.created"])
    tasks = [data(call(site["alice"], "tasks.create", {"name": f"b{i}", "type": "training"}))["id"] for i in range(5)]
    smtp = site["smtp"]
    wait_for(lambda: {e["data"]["task"]["id"] for e in smtp.events("burst@example.com")} == set(tasks), "the digest")
    mails = [mail for mail in smtp.mails if "burst@example.com" in mail["X-Rcpt-To"]]
    assert len(mails) == 1 and mails[0]["Subject"] == "Clearway: 5 events"


@pytest.fixture(scope="module")
def subscriber(server: ServerProcess) -> Iterator[httpx.Client]:
    """A user of the suite's shared server, which has no e-mail or MQTT configured and allows no private targets."""
    with client_for(server, server.user(f"sub-{uuid.uuid4().hex[:6]}")) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"channel": "webhook", "url": "ftp://example.com/x", "kinds": ["task.*"]}, 400, "only http and https"),
        ({"channel": "webhook", "url": "http://", "kinds": ["task.*"]}, 400, "no host"),
        ({"channel": "webhook", "url": "javascript:alert(1)", "kinds": ["task.*"]}, 400, "only http and https"),
        ({"channel": "webhook", "url": "http://127.0.0.1:8008/x", "kinds": ["task.*"]}, 400, "non-public"),
        ({"channel": "webhook", "url": "http://localhost/x", "kinds": ["task.*"]}, 400, "non-public"),
        ({"channel": "webhook", "url": "http://10.1.2.3/x", "kinds": ["task.*"]}, 400, "non-public"),
        ({"channel": "webhook", "url": "http://169.254.169.254/latest/", "kinds": ["*"]}, 400, "non-public"),
        ({"channel": "webhook", "url": "http://[::1]:80/x", "kinds": ["task.*"]}, 400, "non-public"),
        ({"channel": "webhook", "url": "https://93.184.215.14/", "kinds": ["task.exploded"]}, 400, "unknown event"),
        ({"channel": "webhook", "url": "https://93.184.215.14/", "kinds": ["security.*"]}, 403, "only admins"),
        ({"channel": "pigeon", "kinds": ["task.*"]}, 400, "channel"),
        ({"channel": "email", "email": "a@example.com", "kinds": ["task.*"]}, 400, "no email channel"),
        ({"channel": "webhook", "url": "https://93.184.215.14/", "kinds": ["*"], "extra": 1}, 400, "extra"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_clear_error(subscriber: httpx.Client, body, status, words):
    response = subscriber.post("/events/subscriptions", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_other_users_projects_and_tasks_cannot_be_subscribed_to(server: ServerProcess):
    tag = uuid.uuid4().hex[:6]
    with (
        client_for(server, server.user(f"owner-{tag}")) as owner,
        client_for(server, server.user(f"nosy-{tag}")) as nosy,
    ):
        project = data(call(owner, "projects.create", {"name": f"private-{tag}"}))["id"]
        task = data(call(owner, "tasks.create", {"name": "t", "type": "training", "project": project}))["id"]
        hook = {"channel": "webhook", "url": "https://93.184.215.14/", "kinds": ["task.*"]}
        for extra, words in [({"projects": [project]}, "project"), ({"tasks": [task]}, "task")]:
            response = nosy.post("/events/subscriptions", json={**hook, **extra})
            assert response.status_code == 400 and words in response.json()["detail"], response.text
        mine = owner.post("/events/subscriptions", json={**hook, "projects": [project]})
        assert mine.status_code == 201, mine.text
        made = mine.json()
        assert made["secret"].startswith("whsec_")
        assert owner.get(f"/events/subscriptions/{made['id']}").json()["secret"] is None  # shown once
        assert nosy.get(f"/events/subscriptions/{made['id']}").status_code == 404
        assert nosy.delete(f"/events/subscriptions/{made['id']}").status_code == 404
        assert nosy.get("/events/stream", headers={"Last-Event-ID": "soon"}).status_code == 400
        anonymous = httpx.get(f"{server.url}/events/stream")
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


def test_the_command_line_manages_a_users_subscriptions(server: ServerProcess):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    server.user(name)
    made = server.cli("notify", "subscribe", name, "--kind", "task.*", "--webhook", "https://93.184.215.14/cli").stdout
    assert "signing secret: whsec_" in made
    subscription = made.split("(")[1].split(")")[0]
    assert subscription in server.cli("notify", "list", name).stdout
    refused = server.cli("notify", "subscribe", name, "--kind", "task.*", "--webhook", "http://127.0.0.1/", check=False)
    assert refused.returncode == 1 and "non-public" in refused.stderr
    server.cli("notify", "remove", subscription)
    assert subscription not in server.cli("notify", "list", name).stdout
