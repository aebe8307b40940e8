"""Remote execution with the real, unmodified ``clearml-agent daemon --use-owner-token`` and ``clearml`` SDK.

The server runs with short worker timeouts and a watchdog sweeping every second, so that a killed agent's task is
marked failed within seconds; the agents report every second, so that healthy ones never look dead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

WORKER_TIMEOUT_SEC = 15
QUEUE = "gpu"
PRIVATE_PROJECT = "Private notes"

# Sent to the agent from a script outside any git repository; what follows execute_remotely runs only there.
REMOTE = """
from clearml import Task

task = Task.init(project_name="Remote runs", task_name="remote demo")
params = {"factor": 6}
task.connect(params)
print("TASK_ID", task.id, flush=True)
task.execute_remotely(queue_name="gpu")

logger = task.get_logger()
logger.report_scalar("remote", "answer", value=params["factor"] * 7, iteration=0)
# Only the owner can see this project: the agent runs the task with the owner's identity.
logger.report_scalar("remote", "owner_view", value=len(Task.get_tasks(project_name="Private notes")), iteration=0)
# An output file, in the task's folder: the owner reads it afterwards by the URL the SDK recorded.
task.upload_artifact("result", artifact_object={"answer": params["factor"] * 7}, wait_on_upload=True)
print("RAN ON THE AGENT", flush=True)
"""

TRAIN = """
from clearml import Task

task = Task.init(project_name="Remote runs", task_name="training")
params = {"lr": 0.1, "epochs": 3}
task.connect(params)
for epoch in range(int(params["epochs"])):
    task.get_logger().report_scalar("train", "lr", value=float(params["lr"]), iteration=epoch)
print("TASK_ID", task.id, flush=True)
task.close()
"""

CLONE = """
import sys
from clearml import Task

clone = Task.clone(source_task=Task.get_task(task_id=sys.argv[1]), name="training lr=0.5")
clone.set_parameter("General/lr", 0.5)
Task.enqueue(clone, queue_name="gpu")
print("CLONE_ID", clone.id, flush=True)
"""

# The queue is written into the script: the agent runs it without the local command line's arguments.
LONG = """
import time
from clearml import Task

task = Task.init(project_name="Remote runs", task_name="long run")
print("TASK_ID", task.id, flush=True)
task.execute_remotely(queue_name="QUEUE")
for i in range(600):
    task.get_logger().report_scalar("progress", "step", value=i, iteration=i)
    time.sleep(0.5)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with fast timeouts, a data scientist, an admin's API client and an agent user."""
    data_dir = tmp_path_factory.mktemp("agent-server")
    fast = {"CLEARWAY_WORKER_TIMEOUT_SEC": str(WORKER_TIMEOUT_SEC), "CLEARWAY_WATCHDOG_INTERVAL_SEC": "1"}
    with running_server(data_dir, **fast) as server:
        people = {
            who: server.user(who, role) for who, role in [("alice", "user"), ("root", "admin"), ("gpu01", "agent")]
        }
        clients = {who: _client(server, creds) for who, creds in people.items() if who != "gpu01"}
        data(call(clients["root"], "queues.create", {"name": QUEUE}))
        project = data(call(clients["alice"], "projects.create", {"name": PRIVATE_PROJECT}))["id"]
        data(call(clients["alice"], "tasks.create", {"name": "notes", "type": "custom", "project": project}))
        try:
            yield {"server": server, "creds": people, **clients}
        finally:
            for c in clients.values():
                c.close()


@pytest.fixture(scope="module")
def agent(cluster: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    proc = _start_agent(cluster, tmp_path_factory.mktemp("agent"), QUEUE, "gpu01:0")
    try:
        yield proc
    finally:
        proc.stop()


def test_execute_remotely_runs_the_script_on_the_agent_as_its_owner(cluster, agent, tmp_path: Path):
    sent = run_sdk(REMOTE, cluster["creds"]["alice"], tmp_path / "remote")
    task_id = last_line_value(sent.stdout, "TASK_ID")
    task = _wait_for_status(cluster, agent, task_id, "completed")
    assert task["last_worker"] == "gpu01:0"
    assert _scalars(cluster, task_id)["remote"] == {"answer": [42.0], "owner_view": [1.0]}
    log = data(call(cluster["alice"], "events.get_task_log", {"task": task_id, "batch_size": 1000}))
    assert "RAN ON THE AGENT" in "".join(event.get("msg", "") for event in log["events"])
    assert _artifact(cluster, task, "result") == {"answer": 42}


def test_a_clone_with_a_changed_hyperparameter_runs_with_the_new_value(cluster, agent, tmp_path: Path):
    trained = last_line_value(run_sdk(TRAIN, cluster["creds"]["alice"], tmp_path / "train").stdout, "TASK_ID")
    assert _task(cluster, trained)["status"] == "completed"
    cloned = run_sdk(CLONE, cluster["creds"]["alice"], tmp_path / "clone", trained)
    clone_id = last_line_value(cloned.stdout, "CLONE_ID")
    clone = _wait_for_status(cluster, agent, clone_id, "completed")
    assert clone["parent"] == trained and clone["hyperparams"]["General"]["lr"]["value"] == "0.5"
    assert _scalars(cluster, clone_id)["train"]["lr"] == [0.5, 0.5, 0.5]
    assert _scalars(cluster, trained)["train"]["lr"] == [0.1, 0.1, 0.1]


def test_a_stop_request_aborts_a_running_task(cluster, agent, tmp_path: Path):
    sent = run_sdk(LONG.replace("QUEUE", QUEUE), cluster["creds"]["alice"], tmp_path / "long")
    task_id = last_line_value(sent.stdout, "TASK_ID")
    _wait_for_progress(cluster, agent, task_id)
    stop = data(call(cluster["alice"], "tasks.stop", {"task": task_id}))
    assert stop["fields"]["status"] == "in_progress" and "stopping" in stop["fields"]["status_message"]
    task = _wait_for_status(cluster, agent, task_id, "stopped", timeout=60)
    assert task["last_iteration"] < 599
    assert agent.alive()  # the agent goes on serving its queue


def test_a_task_whose_agent_dies_is_marked_failed(cluster, tmp_path: Path, tmp_path_factory):
    doomed_queue = "gpu-doomed"
    data(call(cluster["root"], "queues.create", {"name": doomed_queue}))
    doomed = _start_agent(cluster, tmp_path_factory.mktemp("doomed-agent"), doomed_queue, "gpu02:0")
    try:
        sent = run_sdk(LONG.replace("QUEUE", doomed_queue), cluster["creds"]["alice"], tmp_path / "long")
        task_id = last_line_value(sent.stdout, "TASK_ID")
        _wait_for_progress(cluster, doomed, task_id)
        doomed.kill()
        task = _wait_for_status(cluster, doomed, task_id, "failed", timeout=WORKER_TIMEOUT_SEC + 30)
        assert "gpu02:0" in task["status_reason"] and "stopped reporting" in task["status_reason"]
        workers = data(call(cluster["root"], "workers.get_all"))["workers"]
        assert "gpu02:0" not in {w["id"] for w in workers}
    finally:
        doomed.stop()


def test_without_owner_tokens_the_agent_runs_tasks_with_its_own_narrow_reach(cluster, tmp_path, tmp_path_factory):
    queue = "gpu-agent-creds"
    data(call(cluster["root"], "queues.create", {"name": queue}))
    shared = _start_agent(cluster, tmp_path_factory.mktemp("plain-agent"), queue, "gpu03:0", use_owner_token=False)
    try:
        sent = run_sdk(REMOTE.replace('queue_name="gpu"', f'queue_name="{queue}"'), cluster["creds"]["alice"], tmp_path)
        task_id = last_line_value(sent.stdout, "TASK_ID")
        _wait_for_status(cluster, shared, task_id, "completed")
        # The task ran (it may read itself and its project), but the owner's private work stayed out of reach.
        assert _scalars(cluster, task_id)["remote"] == {"answer": [42.0], "owner_view": [0.0]}
        # Its output file went into the task's folder, which is the owner's: she reads it by its URL.
        assert _artifact(cluster, _task(cluster, task_id), "result") == {"answer": 42}
    finally:
        shared.stop()


def _start_agent(
    cluster: dict[str, Any], root: Path, queue: str, worker: str, *, use_owner_token: bool = True
) -> AgentProcess:
    proc = AgentProcess(
        root=root, creds=cluster["creds"]["gpu01"], queue=queue, worker=worker, use_owner_token=use_owner_token
    )
    proc.start()

    def registered() -> bool:
        assert proc.alive(), f"the agent exited:\n{proc.tail()}"
        return worker in {w["id"] for w in data(call(cluster["root"], "workers.get_all"))["workers"]}

    try:
        _wait_until(registered, "the agent to register", proc, timeout=90)
    except BaseException:
        proc.stop()
        raise
    return proc


def _client(server: ServerProcess, creds: dict[str, str]) -> httpx.Client:
    keys = (creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
    token = data(httpx.get(f"{server.url}/auth.login", auth=keys))["token"]
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _task(cluster: dict[str, Any], task_id: str) -> dict[str, Any]:
    return data(call(cluster["alice"], "tasks.get_by_id", {"task": task_id}))["task"]


def _artifact(cluster: dict[str, Any], task: dict[str, Any], key: str) -> Any:
    """An artifact's file as the task's owner downloads it, by the URL the SDK recorded."""
    uri = next(a["uri"] for a in task["execution"]["artifacts"] if a["key"] == key)
    response = cluster["alice"].get(uri)
    assert response.status_code == 200, (uri, response.text)
    return response.json()


def _scalars(cluster: dict[str, Any], task_id: str) -> dict[str, dict[str, list[float]]]:
    found = data(call(cluster["alice"], "events.scalar_metrics_iter_histogram", {"task": task_id, "key": "iter"}))
    return {metric: {variant: s["y"] for variant, s in variants.items()} for metric, variants in found.items()}


def _wait_until(check: Callable[[], bool], what: str, agent: AgentProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; agent log:\n{agent.tail()}")
        time.sleep(0.25)


def _wait_for_status(
    cluster: dict[str, Any], agent: AgentProcess, task_id: str, status: str, timeout: float = 180
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(_unfinished_unless(cluster, agent, task_id, status))
        return seen["status"] == status

    _wait_until(reached, f"task {task_id} to be {status}", agent, timeout)
    return seen


def _wait_for_progress(cluster: dict[str, Any], agent: AgentProcess, task_id: str) -> None:
    """Until the running task has reported a few iterations (so it is really running on the agent)."""

    def progressed() -> bool:
        task = _unfinished_unless(cluster, agent, task_id, None)
        return task["status"] == "in_progress" and task.get("last_iteration", 0) >= 2

    _wait_until(progressed, f"task {task_id} to make progress", agent)


def _unfinished_unless(cluster: dict[str, Any], agent: AgentProcess, task_id: str, expected: str | None) -> dict:
    """The task; fails at once when it ended in another status than ``expected``."""
    task = _task(cluster, task_id)
    if task["status"] in {"completed", "failed", "stopped", "published"} and task["status"] != expected:
        raise AssertionError(
            f"task {task_id} ended {task['status']} ({task.get('status_reason')}), not {expected}; "
            f"agent log:\n{agent.tail()}"
        )
    return task
