"""Scheduling against a real server: quotas under 50 concurrent agents, the admin API and the command line, and
the real, unmodified clearml-agent running a task that declares a GPU only once a worker reporting a GPU asks.

The GPU worker is simulated the way the issue allows: this CPU-only machine has no GPU for clearml-agent to
report, so the test sends that worker's status report (two GPUs) and its ``queues.get_next_task`` itself, as
agent credentials, and then has the real ``clearml-agent execute`` run the task it was given.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for, token_for, user_id
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

AGENTS = 50
MB_PER_GB = 1024

# A data scientist declares a GPU with user properties and sends the task to a queue.
NEEDS_A_GPU = """
from clearml import Task

task = Task.init(project_name="Scheduling", task_name="needs a gpu")
task.set_user_properties(**{"clearway.gpus": 1, "clearway.gpu_memory_gb": 8})
print("TASK_ID", task.id, flush=True)
task.execute_remotely(queue_name="train")
print("RAN WITH A GPU", flush=True)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_server(tmp_path_factory.mktemp("sched-server")) as server:
        creds = {who: server.user(who, role) for who, role in
                 [("alice", "user"), ("bob", "user"), ("root", "admin"), ("farm", "agent")]}  # fmt: skip
        clients = {who: client_for(server, c) for who, c in creds.items()}
        try:
            yield {"server": server, "creds": creds, **clients}
        finally:
            for client in clients.values():
                client.close()


def admin_api(cluster: dict[str, Any], method: str, path: str, **kwargs: Any) -> Any:
    response = cluster["root"].request(method, f"/admin/api{path}", **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def new_queue(cluster: dict[str, Any], name: str) -> str:
    return data(call(cluster["root"], "queues.create", {"name": name}))["id"]


def enqueue(cluster: dict[str, Any], who: str, queue: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        task = data(call(cluster[who], "tasks.create", {"name": f"{who}-{i}", "type": "training"}))["id"]
        data(call(cluster[who], "tasks.enqueue", {"task": task, "queue": queue}))
        ids.append(task)
    return ids


def agent_client(cluster: dict[str, Any], token: str, worker: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "X-ClearML-Worker": worker}
    return httpx.Client(base_url=cluster["server"].url, headers=headers, timeout=60)


def test_quotas_hold_under_50_concurrent_agents(cluster):
    queue = new_queue(cluster, "crowded")
    admin_api(cluster, "PATCH", f"/queues/{queue}/policy", json={"policy": "fifo"})
    alice = user_id(cluster["alice"])
    admin_api(cluster, "PUT", f"/quotas/user/{alice}", json={"max_running": 3})
    alice_tasks = set(enqueue(cluster, "alice", queue, 30))  # first in line: every agent reaches for them
    bob_tasks = set(enqueue(cluster, "bob", queue, 20))
    token = token_for(cluster["server"], cluster["creds"]["farm"])
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(AGENTS)
    deadline = time.monotonic() + 120

    def agent(index: int) -> None:
        with agent_client(cluster, token, f"farm:{index}") as client:
            start.wait()
            empty = 0
            while empty < 3 and time.monotonic() < deadline:  # until the queue has nothing more to give
                entry = data(call(client, "queues.get_next_task", {"queue": queue})).get("entry")
                if entry is None:
                    empty += 1
                    continue
                empty = 0
                with lock:
                    taken.append(entry["task"])

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(AGENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert Counter(taken).most_common(1)[0][1] == 1  # nothing dispatched twice
        assert len(alice_tasks & set(taken)) == 3
        assert bob_tasks <= set(taken)
        waiting = sorted(alice_tasks - set(taken))
        task = data(call(cluster["alice"], "tasks.get_by_id", {"task": waiting[0]}))["task"]
        assert task["status"] == "queued" and task["status_message"].startswith("over quota")
        explained = admin_api(cluster, "GET", f"/queues/{queue}/explain")
        assert sorted(row["task"] for row in explained["tasks"]) == waiting
        assert all(row["reason"].startswith("over quota") for row in explained["tasks"])
    finally:
        admin_api(cluster, "DELETE", f"/quotas/user/{alice}")


def test_policies_quotas_and_explain_from_the_command_line(cluster):
    server: ServerProcess = cluster["server"]
    queue = new_queue(cluster, "cli-queue")
    for who in ("carol", "dave"):  # users with nothing running yet
        cluster[who] = client_for(server, server.user(who))
    enqueue(cluster, "carol", queue, 3)
    enqueue(cluster, "dave", queue, 1)
    out = server.cli("queues", "policy", "cli-queue", "--gpus", "0", "--memory-gb", "0", "--allow-priority").stdout
    assert '"allow_priority": true' in out and '"policy": "fair"' in out
    assert server.cli("quotas", "set", "--user", "dave", "--max-gpus", "2", "--weight", "2").returncode == 0
    assert "user\tdave\tmax running unlimited, max GPUs 2, weight 2" in server.cli("quotas", "show").stdout
    lines = server.cli("queues", "explain", "cli-queue").stdout.splitlines()
    assert lines[0].startswith("cli-queue: fair") and len(lines) == 5
    assert [line.split("\t")[2] for line in lines[1:]] == ["carol", "dave", "carol", "carol"]  # fair share
    assert lines[1].endswith("\t-\tno live worker serves this queue")
    assert server.cli("quotas", "remove", "--user", "dave").returncode == 0
    assert admin_api(cluster, "GET", "/quotas") == []
    refused = cluster["alice"].get(f"/admin/api/queues/{queue}/explain")
    assert refused.status_code == 403


def test_the_real_agent_leaves_a_gpu_task_waiting_until_a_gpu_worker_asks(cluster, tmp_path: Path, tmp_path_factory):
    new_queue(cluster, "train")
    cpu = AgentProcess(root=tmp_path_factory.mktemp("cpu-agent"), creds=cluster["creds"]["farm"], queue="train",
                       worker="cpu01")  # fmt: skip
    cpu.start()
    try:
        wait_until(lambda: reported(cluster, "cpu01"), "the CPU agent to report its machine", cpu)
        sent = run_sdk(NEEDS_A_GPU, cluster["creds"]["alice"], tmp_path / "sdk")
        task_id = last_line_value(sent.stdout, "TASK_ID")
        # The CPU agent polls every second; the task, which no live worker could run, is flagged on the task.
        wait_until(lambda: task(cluster, task_id)["status_message"].startswith("cannot be scheduled"),
                   "the task to be flagged", cpu)  # fmt: skip
        polled_since = last_report(cluster, "cpu01")
        wait_until(lambda: last_report(cluster, "cpu01") != polled_since, "another poll of the CPU agent", cpu)
        assert task(cluster, task_id)["status"] == "queued"
    finally:
        cpu.stop()
    # A worker with a GPU arrives: its report says two GPUs of 16 GB, free; its poll gets the task.
    token = token_for(cluster["server"], cluster["creds"]["farm"])
    with agent_client(cluster, token, "gpu01") as gpu:
        queue = data(call(gpu, "queues.get_by_id", {"queue": task(cluster, task_id)["execution"]["queue"]}))["queue"]
        stats = {
            "memory_free": 64 * MB_PER_GB,
            "memory_used": MB_PER_GB,
            "gpu_usage": [0.0, 3.0],
            "gpu_memory_free": [16 * MB_PER_GB] * 2,
            "gpu_memory_used": [300.0] * 2,
        }
        report = {"worker": "gpu01", "timestamp": int(time.time() * 1000), "queues": [queue["id"]]}
        data(call(gpu, "workers.status_report", {**report, "machine_stats": stats}))
        entry = data(call(gpu, "queues.get_next_task", {"queue": queue["id"]}))["entry"]
        assert entry["task"] == task_id
    runner = AgentProcess(root=tmp_path_factory.mktemp("gpu-agent"), creds=cluster["creds"]["farm"], queue="train",
                          worker="gpu01", execute=task_id)  # fmt: skip
    runner.start()
    try:
        wait_until(lambda: task(cluster, task_id)["status"] == "completed", "the task to complete", runner, 180)
    finally:
        runner.stop()
    log = data(call(cluster["alice"], "events.get_task_log", {"task": task_id, "batch_size": 1000}))
    assert "RAN WITH A GPU" in "".join(event.get("msg", "") for event in log["events"])


def task(cluster: dict[str, Any], task_id: str) -> dict[str, Any]:
    return data(call(cluster["alice"], "tasks.get_by_id", {"task": task_id}))["task"]


def workers(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["id"]: w for w in data(call(cluster["root"], "workers.get_all"))["workers"]}


def reported(cluster: dict[str, Any], worker: str) -> bool:
    return worker in workers(cluster)


def last_report(cluster: dict[str, Any], worker: str) -> str | None:
    return workers(cluster).get(worker, {}).get("last_report_time")


def wait_until(check: Callable[[], bool], what: str, agent: AgentProcess, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; agent log:\n{agent.tail()}")
        time.sleep(0.25)


def test_bad_policies_and_quotas_are_refused_with_problem_bodies_and_change_nothing(cluster):
    queue = new_queue(cluster, "strict")
    before = admin_api(cluster, "GET", f"/queues/{queue}/policy")
    for body in ({"policy": "lottery"}, {"gpus": -1}, {"memory_gb": "lots"}):
        response = cluster["root"].patch(f"/admin/api/queues/{queue}/policy", json=body)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert admin_api(cluster, "GET", f"/queues/{queue}/policy") == before
    unknown = cluster["root"].put("/admin/api/quotas/user/nobody", json={"max_running": 1})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    assert cluster["root"].put("/admin/api/quotas/user/x", json={"weight": 0}).status_code == 400
    assert admin_api(cluster, "GET", "/quotas") == []
