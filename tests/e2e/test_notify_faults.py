"""Notifications under faults: a server killed during a delivery delivers everything after its restart; a broker
that does not answer makes the events wait, not the requests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.clients import client_for
from tests.support.receivers import MqttWatcher, WebhookReceiver, wait_for
from tests.support.server import free_port, running_server

pytestmark = pytest.mark.e2e
EVENTS = 5


def task_ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["data"]["task"]["id"] for e in events if e["type"] == "task.created"}


def test_a_server_killed_during_a_delivery_delivers_every_event_after_its_restart(tmp_path_factory):
    hooks = WebhookReceiver()
    hooks.hold["/slow"] = held = threading.Event()  # the first request waits until the server is dead
    env = {
        "CLEARWAY_WEBHOOK_ALLOW_PRIVATE": "true",
        "CLEARWAY_WEBHOOK_CONCURRENCY": "1",  # the others wait behind the held one, undelivered
        "CLEARWAY_WEBHOOK_TIMEOUT_SEC": "2",  # the lease of the delivery in flight runs out soon after
        "CLEARWAY_NOTIFY_RETRY_BASE_SEC": "0.2",
    }
    try:
        with running_server(tmp_path_factory.mktemp("killed"), **env) as server:
            with client_for(server, server.user("alice")) as alice:
                made = alice.post(
                    "/events/subscriptions",
                    json={"channel": "webhook", "url": hooks.url("/slow"), "kinds": ["task.created"]},
                )
                hooks.secrets["/slow"] = made.json()["secret"]
                tasks = {data(call(alice, "tasks.create", {"name": f"t{i}", "type": "training"}))["id"]
                         for i in range(EVENTS)}  # fmt: skip
            wait_for(lambda: "/slow" in hooks.arrived, "the first delivery to be in flight")
            assert server.process is not None
            server.process.kill()
            server.process.wait()
            del hooks.hold["/slow"]
            held.set()  # it answers now, to no one: the server never learnt that it was delivered
            wait_for(lambda: len(hooks.hooks) == 1, "the held request to finish")
            assert len(task_ids(hooks.events("/slow"))) == 1
            restarted_at = len(hooks.hooks)
            server.start()
            wait_for(
                lambda: task_ids(hooks.events("/slow")[restarted_at:]) == tasks,
                "every event, the one in flight included, after the restart",
            )
            assert all(hook.verified for hook in hooks.hooks)
    finally:
        hooks.close()


class SilentBroker:
    """A port that accepts TCP connections and never answers: a broker that is down without refusing."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)

    def close(self) -> None:
        self.sock.close()


def test_with_the_broker_down_events_wait_and_requests_do_not(tmp_path_factory):
    port = free_port()
    silent = SilentBroker(port)
    tag = uuid.uuid4().hex[:6]
    env = {"CLEARWAY_MQTT_URL": f"mqtt://127.0.0.1:{port}", "CLEARWAY_NOTIFY_RETRY_BASE_SEC": "0.2"}
    broker: subprocess.Popen[bytes] | None = None
    watcher: MqttWatcher | None = None
    try:
        with running_server(tmp_path_factory.mktemp("broker-down"), **env) as server:
            with client_for(server, server.user(f"iot-{tag}", org=f"iot-{tag}")) as alice:
                made = alice.post("/events/subscriptions", json={"channel": "mqtt", "kinds": ["task.*"]})
                assert made.status_code == 201, made.text
                durations, tasks = [], set()
                for i in range(EVENTS):
                    started = time.monotonic()
                    task = data(call(alice, "tasks.create", {"name": f"t{i}", "type": "training"}))["id"]
                    data(call(alice, "tasks.stopped", {"task": task, "force": True}))
                    durations.append(time.monotonic() - started)
                    tasks.add(task)
                # A request that waited for the broker would take the MQTT timeout (10 s): none comes near it.
                assert max(durations) < 3, durations
                waiting = wait_for(lambda: _pending_with_errors(alice), "the deliveries to wait, with their error")
                assert len(waiting) == 2 * EVENTS and "not connected" in waiting[0]["last_error"]

                silent.close()
                binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
                broker = subprocess.Popen([binary, "-p", str(port)], stderr=subprocess.DEVNULL)
                watcher = wait_for(lambda: _watch(port, tag), "the broker to come up")
                wait_for(
                    lambda: {e["data"]["task"]["id"] for e in watcher.events() if e["type"] == "task.stopped"} == tasks,
                    "every waiting event once the broker is back",
                    timeout=90,
                )
    finally:
        silent.close()
        if watcher is not None:
            watcher.close()
        if broker is not None:
            broker.terminate()
            broker.wait(10)


def _pending_with_errors(client: httpx.Client) -> list[dict[str, Any]]:
    pending = client.get("/events/deliveries", params={"state": "pending"}).json()
    return pending if len(pending) == 2 * EVENTS and all(d["last_error"] for d in pending) else []


def _watch(port: int, tag: str) -> MqttWatcher | None:
    try:
        return MqttWatcher(f"clearway/iot-{tag}/#", port=port)
    except (OSError, AssertionError):
        return None
