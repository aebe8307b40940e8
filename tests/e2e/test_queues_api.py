"""Queues, workers, enqueue/dequeue/stop and agents acting for task owners, over HTTP as the clients call them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest

from tests.e2e.api import call, data, error
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
BUCKET_SPAN = 10**10  # an interval longer than the epoch so far: every record of a window in one bucket, dated 0
SLACK = 0.01  # timestamps as the API shows them (milliseconds) and the clocks of client and server (one machine)


def login(server: ServerProcess, creds: dict[str, str], **headers: str) -> httpx.Response:
    keys = (creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
    return httpx.get(f"{server.url}/auth.login", auth=keys, headers=headers)


def client(server: ServerProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def people(server: ServerProcess) -> Iterator[dict[str, Any]]:
    """Users of an organisation of their own: its queues, workers and reports are this module's alone, so that
    what the tests read back is exactly what they did."""
    tag = uuid.uuid4().hex[:6]
    org = f"queues-{tag}"
    creds = {who: server.user(f"{who}-{tag}", role, org=org) for who, role in
             [("owner", "user"), ("other", "user"), ("boss", "admin"), ("gpu", "agent")]}  # fmt: skip
    tokens = {who: data(login(server, c))["token"] for who, c in creds.items()}
    clients = {who: client(server, token) for who, token in tokens.items()}
    yield {"creds": creds, "tokens": tokens, "org": org, **clients}
    for c in clients.values():
        c.close()


@pytest.fixture
def queue(people: dict[str, Any]) -> dict[str, str]:
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    return {"name": name, "id": data(call(people["boss"], "queues.create", {"name": name}))["id"]}


def new_task(c: httpx.Client, name: str = "t") -> str:
    return data(call(c, "tasks.create", {"name": name, "type": "training", "system_tags": ["development"]}))["id"]


def get_task(c: httpx.Client, task_id: str) -> dict[str, Any]:
    return data(call(c, "tasks.get_by_id", {"task": task_id}))["task"]


def register(people: dict[str, Any], queue_id: str) -> str:
    worker = f"gpu01:{uuid.uuid4().hex[:6]}"
    data(call(people["gpu"], "workers.register", {"worker": worker, "queues": [queue_id]}))
    return worker


def test_queue_lookup_as_the_sdk_and_the_agent_do_it(people, queue):
    owner = people["owner"]
    assert error(call(owner, "queues.get_by_id", {"queue": queue["name"]}))[:2] == (400, 701)  # SDK expects this
    found = data(call(owner, "queues.get_all", {"name": f"^{queue['name']}$", "only_fields": ["id"]}))["queues"]
    assert found == [{"id": queue["id"]}]
    agent_view = data(call(people["gpu"], "queues.get_all", {"name": queue["name"], "only_fields": ["name", "id"]}))
    assert agent_view["queues"] == [{"id": queue["id"], "name": queue["name"]}]
    doc = data(call(owner, "queues.get_by_id", {"queue": queue["id"]}))["queue"]
    assert doc["entries"] == [] and doc["name"] == queue["name"] and doc["tags"] == []


def test_queue_names_are_unique_and_queues_are_managed_by_their_creator(people, queue):
    assert error(call(people["owner"], "queues.create", {"name": queue["name"]}))[:2] == (400, 708)
    assert error(call(people["owner"], "queues.update", {"queue": queue["id"], "name": "mine"}))[:2] == (400, 701)
    assert error(call(people["owner"], "queues.delete", {"queue": queue["id"]}))[:2] == (400, 701)
    renamed = f"{queue['name']}-renamed"
    assert data(call(people["boss"], "queues.update", {"queue": queue["id"], "name": renamed}))["updated"] == 1


def test_the_default_queue_is_the_oldest_one_tagged_default(people):
    owner, boss = people["owner"], people["boss"]
    assert error(call(owner, "queues.get_default"))[:2] == (400, 707)
    made = {}
    for name, tags in (("first", ["default"]), ("untagged", []), ("second", ["default"])):
        name = f"{name}-{uuid.uuid4().hex[:6]}"
        made[name.split("-")[0]] = (data(call(boss, "queues.create", {"name": name, "system_tags": tags}))["id"], name)
    first, second = made["first"], made["second"]
    assert data(call(owner, "queues.get_default")) == {"id": first[0], "name": first[1]}
    data(call(boss, "queues.delete", {"queue": first[0]}))
    assert data(call(owner, "queues.get_default")) == {"id": second[0], "name": second[1]}


def test_enqueue_then_an_agent_takes_the_task_with_its_owner(people, queue):
    owner, agent = people["owner"], people["gpu"]
    task_id = new_task(owner)
    result = data(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue["id"], "verify_watched_queue": True}))
    assert (result["queued"], result["updated"], result["fields"]["status"]) == (1, 1, "queued")
    assert result["fields"]["execution.queue"] == queue["id"] and result["queue_watched"] is False
    task = get_task(owner, task_id)
    assert (task["status"], task["execution"]["queue"], task["enqueue_status"]) == ("queued", queue["id"], "created")
    assert "development" not in task["system_tags"]
    entries = data(call(owner, "queues.get_by_id", {"queue": queue["id"]}))["queue"]["entries"]
    assert [e["task"] for e in entries] == [task_id] and entries[0]["added"]

    register(people, queue["id"])
    taken = data(call(agent, "queues.get_next_task", {"queue": queue["id"], "get_task_info": True}))
    assert taken["entry"]["task"] == task_id
    assert taken["task_info"] == {"user": task["user"], "company": task["company"]}
    assert data(call(agent, "queues.get_next_task", {"queue": queue["id"]})) == {}
    data(call(agent, "tasks.started", {"task": task_id, "force": True, "status_message": "pulled by agent"}))
    # clearml-agent execute dequeues every task it runs: a running one is left alone, with updated 0.
    assert data(call(agent, "tasks.dequeue", {"task": task_id, "new_status": "in_progress"}))["updated"] == 0
    assert get_task(owner, task_id)["status"] == "in_progress"


def test_dequeue_sends_a_task_back(people, queue):
    owner = people["owner"]
    task_id = new_task(owner)
    data(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue["id"]}))
    result = data(call(owner, "tasks.dequeue", {"task": task_id}))
    assert (result["updated"], result["dequeued"], result["fields"]["status"]) == (1, 1, "created")
    assert data(call(owner, "tasks.dequeue", {"task": task_id})) == {"updated": 0, "dequeued": 0, "fields": {}}


def test_queue_order_can_be_changed_by_the_queue_manager(people, queue):
    owner, boss = people["owner"], people["boss"]
    tasks = [new_task(owner, f"t{i}") for i in range(3)]
    for task_id in tasks:
        data(call(boss, "queues.add_task", {"queue": queue["id"], "task": task_id}))
    moves = [
        ("move_task_to_front", tasks[2], 0),
        ("move_task_backward", tasks[2], 1),
        ("move_task_to_back", tasks[0], 2),
    ]
    for action, task_id, position in moves:
        assert data(call(boss, f"queues.{action}", {"queue": queue["id"], "task": task_id}))["position"] == position
    entries = data(call(owner, "queues.get_by_id", {"queue": queue["id"]}))["queue"]["entries"]
    assert [e["task"] for e in entries] == [tasks[2], tasks[1], tasks[0]]
    assert data(call(owner, "queues.get_num_entries", {"queue": queue["id"]}))["num"] == 3
    assert data(call(owner, "queues.remove_task", {"queue": queue["id"], "task": tasks[1]}))["removed"] == 1
    assert data(call(owner, "queues.remove_task", {"queue": queue["id"], "task": tasks[1]}))["removed"] == 0


def _epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def test_queue_metrics_record_the_length_and_mean_wait_of_each_change(people, queue):
    """Each change of a queue records its length and its tasks' mean wait at that moment; a window around one
    change reads exactly that record (one bucket: the interval spans the epoch to now)."""
    owner, boss = people["owner"], people["boss"]
    tasks = [new_task(owner, f"m{i}") for i in range(3)]
    windows = []
    for change, task_id in [("add_task", t) for t in tasks] + [("remove_task", tasks[1])]:
        before = time.time()
        data(call(boss, f"queues.{change}", {"queue": queue["id"], "task": task_id}))
        windows.append((before, time.time()))
    entries = data(call(owner, "queues.get_by_id", {"queue": queue["id"]}))["queue"]["entries"]
    added = {e["task"]: _epoch(e["added"]) for e in entries}
    assert list(added) == [tasks[0], tasks[2]]
    waiting_after = [tasks[:1], tasks[:2], tasks, [tasks[0], tasks[2]]]
    for (before, after), present in zip(windows, waiting_after, strict=True):
        body = {"from_date": before, "to_date": after, "interval": BUCKET_SPAN, "queue_ids": [queue["id"]]}
        (series,) = data(call(owner, "queues.get_queue_metrics", body))["queues"]
        assert (series["queue"], series["dates"], series["queue_lengths"]) == (queue["id"], [0], [len(present)])
        # Measured at a moment inside the call, of tasks added at known moments (the one removed since: during
        # its own add call): between the mean waits at the call's start and at its end.
        earliest = [added.get(t, windows[tasks.index(t)][0]) for t in present]
        latest = [added.get(t, windows[tasks.index(t)][1]) for t in present]
        low, high = before - sum(latest) / len(present), after - sum(earliest) / len(present)
        (wait,) = series["avg_waiting_times"]
        assert max(0.0, low) - SLACK <= wait <= high + SLACK, (wait, low, high, present)


def test_deleting_a_queue_with_tasks_needs_force(people):
    boss, owner = people["boss"], people["owner"]
    queue_id = data(call(boss, "queues.create", {"name": f"doomed-{uuid.uuid4().hex[:6]}"}))["id"]
    task_id = new_task(owner)
    data(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue_id}))
    assert error(call(boss, "queues.delete", {"queue": queue_id}))[:2] == (400, 702)
    assert data(call(boss, "queues.delete", {"queue": queue_id, "force": True}))["deleted"] == 1
    task = get_task(owner, task_id)
    assert task["status"] == "created" and "was deleted" in task["status_reason"]


def test_stop_asks_a_running_task_to_stop(people, queue):
    owner = people["owner"]
    task_id = new_task(owner)
    data(call(owner, "tasks.started", {"task": task_id}))
    result = data(call(owner, "tasks.stop", {"task": task_id}))
    assert result["fields"]["status"] == "in_progress"
    polled = data(call(owner, "tasks.get_all", {"id": [task_id], "only_fields": ["status", "status_message"]}))
    assert "stopping" in polled["tasks"][0]["status_message"]
    data(call(owner, "tasks.stopped", {"task": task_id, "status_reason": "task was stopped by tasks.stop"}))
    assert get_task(owner, task_id)["status"] == "stopped"


@pytest.mark.parametrize(
    "endpoint,body,expected",
    [
        ("tasks.enqueue", {"queue": "0" * 32}, (400, 701)),
        ("tasks.enqueue", {"queue": None, "queue_name": "no-such-queue"}, (400, 701)),
        ("tasks.enqueue", {"queue": "Q", "queue_name": "Q"}, (400, 11)),
        ("queues.get_next_task", {"queue": "0" * 32}, (400, 701)),
        ("queues.move_task_forward", {"count": 0}, (400, 11)),
        ("queues.get_queue_metrics", {"from_date": 10, "to_date": 0, "interval": 1}, (400, 11)),
        ("queues.get_queue_metrics", {"from_date": 0, "to_date": 1e9, "interval": 1}, (400, 11)),
    ],
)
def test_bad_queue_requests_get_clear_errors(people, queue, endpoint, body, expected):
    task_id = new_task(people["owner"])
    full = {"task": task_id, "queue": queue["id"], **body}
    caller = people["gpu"] if endpoint.startswith("queues.get_next") else people["owner"]
    assert error(call(caller, endpoint, full))[:2] == expected
    assert get_task(people["owner"], task_id)["status"] == "created"


def test_enqueueing_a_running_or_published_task_is_refused(people, queue):
    owner = people["owner"]
    for status_call in ("tasks.started", "tasks.publish"):
        task_id = new_task(owner)
        data(call(owner, status_call, {"task": task_id, "force": True}))
        assert error(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue["id"]}))[:2] == (400, 110)
        assert data(call(owner, "queues.get_by_id", {"queue": queue["id"]}))["queue"]["entries"] == []


def test_only_agents_take_tasks_and_report_as_workers(people, queue):
    owner = people["owner"]
    assert error(call(owner, "queues.get_next_task", {"queue": queue["id"]}))[:2] == (403, 21)
    assert error(call(owner, "workers.register", {"worker": "mine", "queues": [queue["id"]]}))[:2] == (403, 21)


@pytest.mark.parametrize(
    "body",
    [
        {"machine_stats": "lots"},
        {"machine_stats": {"cpu_usage": ["hot"]}},
        {"machine_stats": {"memory_used": {"a": 1}}},
        {"worker": None},
        {"worker": ""},
        {"queues": "all of them"},
        {"timestamp": "yesterday"},
    ],
)
def test_malformed_status_reports_are_refused(people, body):
    code, _, msg = error(call(people["gpu"], "workers.status_report", {"worker": "gpu01:9", "timestamp": 1, **body}))
    assert code == 400 and msg


def test_workers_report_and_show_their_machines(people, queue):
    agent = people["gpu"]
    worker = register(people, queue["id"])
    stats = {"cpu_usage": [10.0, 30.0], "memory_used": 1000.5, "memory_free": 3000, "gpu_usage": [50.0, 70.0],
             "gpu_memory_used": [100, 300], "gpu_memory_free": [900, 700], "disk_free_home": 80}  # fmt: skip
    started = time.time()
    report = {"worker": worker, "timestamp": int(time.time() * 1000), "queues": [queue["id"]], "machine_stats": stats}
    data(call(agent, "workers.status_report", report))
    data(call(agent, "workers.status_report", {**report, "machine_stats": {**stats, "cpu_usage": [50.0, 70.0]}}))
    listed = {w["id"]: w for w in data(call(people["owner"], "workers.get_all"))["workers"]}
    mine = listed[worker]
    assert mine["queues"] == [{"id": queue["id"], "name": queue["name"], "num_tasks": 0}]
    assert mine["user"]["name"].startswith("gpu-") and mine["task"] is None and mine["last_activity_time"]
    period = {"from_date": time.time() - 60, "to_date": time.time() + 1, "interval": 3600}
    items = [{"key": "cpu_usage", "category": "avg"}, {"key": "cpu_usage", "category": "max"}, {"key": "gpu_usage"}]
    found = data(call(agent, "workers.get_stats", {**period, "worker_ids": [worker], "items": items}))["workers"]
    metrics = {(m["metric"], s["aggregation"]): s["values"] for m in found[0]["metrics"] for s in m["stats"]}
    assert metrics[("cpu_usage", "avg")] == [40.0] and metrics[("cpu_usage", "max")] == [70.0]
    split = data(call(agent, "workers.get_stats", {**period, "worker_ids": [worker], "items": items[2:],
                                                   "split_by_variant": True}))["workers"]  # fmt: skip
    assert {m["variant"]: m["stats"][0]["values"] for m in split[0]["metrics"]} == {"0": [50.0], "1": [70.0]}
    reports = {"from_date": started, "to_date": time.time(), "interval": BUCKET_SPAN}
    activity = data(call(people["owner"], "workers.get_activity_report", reports))
    # One worker reported (twice) in the window, running no task: the organisation's only one then.
    assert activity == {"total": {"dates": [0], "counts": [1]}, "active": {"dates": [0], "counts": [0]}}
    assert data(call(agent, "workers.get_runtime_properties", {"worker": worker})) == {"runtime_properties": []}
    props = [{"key": "force", "value": "off"}]
    data(call(agent, "workers.set_runtime_properties", {"worker": worker, "runtime_properties": props}))
    assert data(call(agent, "workers.get_runtime_properties", {"worker": worker}))["runtime_properties"] == props
    data(call(agent, "workers.unregister", {"worker": worker, "queues": []}))
    assert worker not in {w["id"] for w in data(call(agent, "workers.get_all"))["workers"]}
    assert error(call(agent, "workers.unregister", {"worker": worker}))[:2] == (400, 1001)


def test_agent_tokens_let_clearml_agent_use_owner_tokens(people):
    agent_claims = claims(people["tokens"]["gpu"])
    assert agent_claims["feature_set"] != "basic" and agent_claims["identity"]["service_account_type"] >= 2
    assert agent_claims["tenant"] == agent_claims["identity"]["company"]
    assert claims(people["tokens"]["owner"])["feature_set"] == "basic"


def test_agents_see_queued_work_but_not_private_work(people, queue):
    owner, agent = people["owner"], people["gpu"]
    private, sent = new_task(owner, "private"), new_task(owner, "sent")
    data(call(owner, "tasks.enqueue", {"task": sent, "queue": queue["id"]}))
    assert error(call(agent, "tasks.get_by_id", {"task": private}))[:2] == (400, 101)
    listed = {t["id"] for t in data(call(agent, "tasks.get_all", {"only_fields": ["id"]}))["tasks"]}
    assert sent in listed and private not in listed


def test_an_agent_logs_in_as_the_owner_of_a_task_it_serves(server, people, queue):
    owner_creds = server.user(f"owner-{uuid.uuid4().hex[:6]}", org=people["org"])
    agent, creds = people["gpu"], {**people["creds"], "owner": owner_creds}
    owner = client(server, data(login(server, creds["owner"]))["token"])
    owner_id = claims(owner.headers["Authorization"].removeprefix("Bearer "))["identity"]["user"]
    other_id = claims(people["tokens"]["other"])["identity"]["user"]
    private = new_task(owner, "private")
    task_id = new_task(owner, "remote")
    data(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue["id"]}))
    act_as = "X-Clearml-Impersonate-As"
    assert error(login(server, creds["gpu"], **{act_as: owner_id}))[:2] == (403, 21)  # no worker serves the queue
    register(people, queue["id"])
    assert data(call(agent, "queues.get_next_task", {"queue": queue["id"]}))["entry"]["task"] == task_id
    data(call(agent, "tasks.started", {"task": task_id, "force": True}))

    token = data(login(server, creds["gpu"], **{act_as: owner_id}))["token"]
    assert claims(token)["identity"]["user"] == owner_id and claims(token)["identity"]["role"] == "user"
    assert claims(token)["feature_set"] == "basic" and claims(token)["tenant"] == claims(token)["identity"]["company"]
    with client(server, token) as as_owner:
        assert get_task(as_owner, private)["id"] == private  # the owner's own, unqueued work
        renewed = data(as_owner.get("/auth.login"))["token"]  # the task process logs in with CLEARML_AUTH_TOKEN
        assert claims(renewed)["identity"]["user"] == owner_id
        data(call(as_owner, "tasks.completed", {"task": task_id, "force": True}))
        assert error(as_owner.get("/auth.login"))[:2] == (403, 21)  # nothing of the owner's runs any more
    for who, target in (("gpu", other_id), ("owner", other_id), ("boss", owner_id)):
        assert error(login(server, creds[who], **{act_as: target}))[0] == 403
    owner.close()


def test_an_agent_cannot_manufacture_its_right_to_act_for_a_user(server, people, queue):
    """Vulnerability 1: an agent with a live worker on the queue sends one of a user's completed tasks to it, then
    asks to log in as her. Both are refused, through every path that queues a task."""
    agent = people["gpu"]
    victim = server.user(f"victim-{uuid.uuid4().hex[:6]}", org=people["org"])
    owner = client(server, data(login(server, victim))["token"])
    owner_id = claims(owner.headers["Authorization"].removeprefix("Bearer "))["identity"]["user"]
    done = new_task(owner, "done")
    data(call(owner, "tasks.completed", {"task": done, "force": True}))
    register(people, queue["id"])
    for endpoint, body in (
        ("tasks.enqueue", {"task": done, "queue": queue["id"]}),
        ("tasks.enqueue", {"task": done, "queue_name": queue["name"]}),
        ("queues.add_task", {"task": done, "queue": queue["id"]}),
    ):
        assert error(call(agent, endpoint, body))[0] in (400, 403), endpoint
    assert get_task(owner, done)["status"] == "completed"
    assert data(call(agent, "queues.get_next_task", {"queue": queue["id"]})) == {}
    refused = login(server, people["creds"]["gpu"], **{"X-Clearml-Impersonate-As": owner_id})
    assert error(refused)[:2] == (403, 21)
    owner.close()


@pytest.mark.parametrize("ending", ["dequeue", "unregister", "complete"])
def test_a_token_to_act_for_the_owner_is_short_lived_and_ends_with_the_task(server, people, queue, ending):
    """Vulnerability 2: the token lives minutes, not days, is checked on every request (within the key cache's
    seconds), and stops working once the agent no longer holds the task."""
    owner, agent = people["owner"], people["gpu"]
    owner_id = claims(people["tokens"]["owner"])["identity"]["user"]
    private, task_id = new_task(owner, "private"), new_task(owner, "remote")
    data(call(owner, "tasks.enqueue", {"task": task_id, "queue": queue["id"]}))
    worker = register(people, queue["id"])
    assert data(call(agent, "queues.get_next_task", {"queue": queue["id"]}))["entry"]["task"] == task_id
    token = data(login(server, people["creds"]["gpu"], **{"X-Clearml-Impersonate-As": owner_id}))["token"]
    # As clearml-agent does: the worker reports running the task (other workers of the agent live on meanwhile).
    data(call(agent, "workers.status_report", {"worker": worker, "task": task_id, "queue": queue["id"]}))
    lifetime = claims(token)["exp"] - claims(token)["iat"]
    assert claims(token)["task"] == task_id and 3600 < lifetime <= 2 * 3600
    with client(server, token) as as_owner:
        assert get_task(as_owner, private)["id"] == private
        if ending == "dequeue":
            data(call(agent, "tasks.dequeue", {"task": task_id}))
        elif ending == "unregister":
            data(call(agent, "workers.unregister", {"worker": worker}))
        else:
            data(call(as_owner, "tasks.completed", {"task": task_id, "force": True}))
        deadline = time.monotonic() + 10  # sessions are cached for key_cache_sec (2 s here)
        while call(as_owner, "tasks.get_by_id", {"task": private}).status_code == 200:
            assert time.monotonic() < deadline, "the token still reads the owner's work"
            time.sleep(0.2)
        assert error(call(as_owner, "tasks.get_by_id", {"task": private}))[:2] == (401, 30)
        assert error(call(as_owner, "tasks.edit", {"task": private, "force": True, "comment": "x"}))[0] == 401
        assert error(as_owner.get("/auth.login"))[0] in (401, 403)
    assert get_task(owner, private)["comment"] == ""


def test_queue_access_lists_decide_who_sees_and_uses_a_queue(people):
    owner, other, boss, agent = people["owner"], people["other"], people["boss"], people["gpu"]
    other_id = claims(people["tokens"]["other"])["identity"]["user"]
    name = f"private-gpu-{uuid.uuid4().hex[:6]}"
    access = {"see": {"users": [other_id], "groups": []}, "enqueue": {"users": [other_id], "groups": []}}
    queue_id = data(call(boss, "queues.create", {"name": name, "access": access}))["id"]
    assert error(call(owner, "queues.get_by_id", {"queue": queue_id}))[:2] == (400, 701)
    assert data(call(owner, "queues.get_all", {"name": f"^{name}$"}))["queues"] == []
    assert error(call(owner, "tasks.enqueue", {"task": new_task(owner), "queue": queue_id}))[:2] == (400, 701)
    assert data(call(other, "tasks.enqueue", {"task": new_task(other), "queue": queue_id}))["queued"] == 1
    assert [q["id"] for q in data(call(agent, "queues.get_all", {"name": f"^{name}$"}))["queues"]] == [queue_id]
    data(call(boss, "queues.update", {"queue": queue_id, "access": {"see": {"users": [], "groups": []}}}))
    assert data(call(owner, "tasks.enqueue", {"task": new_task(owner), "queue": queue_id}))["queued"] == 1
    assert error(call(boss, "queues.update", {"queue": queue_id, "access": {"run": {}}}))[:2] == (400, 11)


def test_a_queue_lists_only_the_waiting_tasks_the_caller_may_read(people, queue):
    owner, other, boss = people["owner"], people["other"], people["boss"]
    mine, theirs = new_task(owner), new_task(other)
    for who, task_id in ((owner, mine), (other, theirs)):
        data(call(who, "tasks.enqueue", {"task": task_id, "queue": queue["id"]}))

    def listed(who: httpx.Client) -> list[str]:
        return [e["task"] for e in data(call(who, "queues.get_by_id", {"queue": queue["id"]}))["queue"]["entries"]]

    assert (listed(owner), listed(other), listed(boss)) == ([mine], [theirs], [mine, theirs])
    assert data(call(owner, "queues.get_num_entries", {"queue": queue["id"]}))["num"] == 2


def test_a_worker_keeps_reporting_after_a_queue_it_served_is_deleted(people):
    boss, agent = people["boss"], people["gpu"]
    kept, doomed = (data(call(boss, "queues.create", {"name": f"{n}-{uuid.uuid4().hex[:6]}"}))["id"] for n in "kd")
    worker = register(people, kept)
    assert error(call(agent, "workers.register", {"worker": worker, "queues": ["0" * 32]}))[:2] == (400, 701)
    data(call(agent, "workers.status_report", {"worker": worker, "timestamp": 1, "queues": [kept, doomed]}))
    data(call(boss, "queues.delete", {"queue": doomed}))
    data(call(agent, "workers.status_report", {"worker": worker, "timestamp": 2, "queues": [kept, doomed]}))
    listed = {w["id"]: w for w in data(call(agent, "workers.get_all"))["workers"]}
    assert [q["id"] for q in listed[worker]["queues"]] == [kept]
