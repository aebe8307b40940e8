"""Two replicas on one PostgreSQL database and one blob store, started together on an empty database.

The SDK talks to replica A, a real clearml-agent polls replica B, reads go to either. Simulated agents on both take
every task exactly once; the replica holding the watchdog lock is killed and the other takes over (a dead worker's
task is still marked failed); a replica killed during ingestion loses no acknowledged event.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.api import call, data
from tests.e2e.test_agent import REMOTE
from tests.e2e.test_notebook import NOTEBOOK, READ_BACK, WEIGHTS
from tests.support.agent import AgentProcess
from tests.support.databases import backend, fresh_database
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(backend() != "postgresql", reason="replicas share a PostgreSQL database"),
]
INTERVAL_SEC = 1.0  # the watchdog's
WORKER_TIMEOUT_SEC = 15


class Cluster:
    def __init__(self, a: ServerProcess, b: ServerProcess) -> None:
        self.a, self.b = a, b
        self.people = {who: a.user(who, role) for who, role in [("alice", "user"), ("root", "admin")]}
        self.agent_creds = b.user("gpu01", "agent")  # its CLEARML_* point at replica B
        self.clients: dict[str, httpx.Client] = {}

    def client(self, who: str, server: ServerProcess) -> httpx.Client:
        """``who``'s API client on one replica."""
        if (who, server.port) not in self.clients:
            creds = self.agent_creds if who == "gpu01" else self.people[who]
            keys = (creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
            token = data(httpx.get(f"{server.url}/auth.login", auth=keys))["token"]
            headers = {"Authorization": f"Bearer {token}"}
            self.clients[(who, server.port)] = httpx.Client(base_url=server.url, headers=headers, timeout=30)
        return self.clients[(who, server.port)]

    def forget(self, server: ServerProcess) -> None:
        for key in [key for key in self.clients if key[1] == server.port]:
            self.clients.pop(key).close()

    def on(self, creds: dict[str, str], server: ServerProcess) -> dict[str, str]:
        """The same credentials with the API on another replica. The files host stays: stored file URLs name it
        (behind a load balancer, both are its address), and the SDK sends its token only to that host."""
        return {k: v.replace(self.a.url, server.url) if k != "CLEARML_FILES_HOST" else v for k, v in creds.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("replicas")
    env = {
        "CLEARWAY_BLOB_URL": str(root / "blobs"),
        "CLEARWAY_TOKEN_SECRET": uuid.uuid4().hex,
        "CLEARWAY_WATCHDOG_INTERVAL_SEC": str(INTERVAL_SEC),
        "CLEARWAY_WORKER_TIMEOUT_SEC": str(WORKER_TIMEOUT_SEC),
        "CLEARWAY_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
    }
    with fresh_database(root) as url:
        a, b = (ServerProcess(data_dir=root / n, database_url=url, extra_env=env) for n in "ab")
        for server in (a, b):
            server.data_dir.mkdir()
        try:
            # Both at once on the empty database: one makes the schema under the lock, the other waits for it.
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda s: s.start(upgrade=False), (a, b)))
            made = Cluster(a, b)
            data(call(made.client("root", a), "queues.create", {"name": "gpu"}))
            yield made
        finally:
            for client in made.clients.values() if "made" in locals() else ():
                client.close()
            a.stop()
            b.stop()


def test_the_notebook_on_a_and_a_remote_run_through_an_agent_on_b(cluster: Cluster, tmp_path: Path) -> None:
    alice = cluster.people["alice"]
    ran = run_sdk(NOTEBOOK, alice, tmp_path / "notebook", timeout=300)
    ids = json.loads(last_line_value(ran.stdout, "RESULT"))
    read = run_sdk(READ_BACK, cluster.on(alice, cluster.b), tmp_path / "read", ids["task"], ids["model"], timeout=300)
    out = json.loads(last_line_value(read.stdout, "RESULT"))
    assert out["status"] == "published" and bytes.fromhex(out["weights_hex"]) == WEIGHTS
    assert out["latest"][2] == ["a.csv", "b.txt", "c.csv"]

    agent = AgentProcess(root=tmp_path / "agent", creds=cluster.agent_creds, queue="gpu", worker="gpu01:0")
    agent.start()
    try:
        sent = run_sdk(REMOTE, alice, tmp_path / "remote")
        task_id = last_line_value(sent.stdout, "TASK_ID")
        deadline = time.monotonic() + 180
        while (task := _task(cluster, task_id, cluster.a))["status"] != "completed":
            assert time.monotonic() < deadline and task["status"] not in ("failed", "stopped"), agent.tail()
            assert agent.alive(), agent.tail()
            time.sleep(0.5)
        assert task["last_worker"] == "gpu01:0"
    finally:
        agent.stop()


def test_fifty_agents_on_both_replicas_take_every_task_exactly_once(cluster: Cluster) -> None:
    alice = cluster.client("alice", cluster.a)
    queue = data(call(alice, "queues.create", {"name": f"many-{uuid.uuid4().hex[:6]}"}))["id"]
    tasks = [data(call(alice, "tasks.create", {"name": f"t{i}", "type": "training"}))["id"] for i in range(150)]
    for task in tasks:
        data(call(alice, "tasks.enqueue", {"task": task, "queue": queue}))
    replicas = [cluster.a, cluster.b]
    agents = [cluster.client("root", replicas[n % 2]) for n in range(2)]  # admins may take tasks too
    taken: list[tuple[int, str]] = []
    lock = threading.Lock()

    def poll(n: int) -> None:
        with httpx.Client(base_url=replicas[n % 2].url, headers=agents[n % 2].headers, timeout=30) as http:
            while True:
                entry = data(call(http, "queues.get_next_task", {"queue": queue})).get("entry")
                if not entry:
                    return
                with lock:
                    taken.append((n % 2, entry["task"]))

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(poll, range(50)))
    counts = Counter(task for _, task in taken)
    assert sorted(counts) == sorted(tasks) and set(counts.values()) == {1}
    assert {replica for replica, _ in taken} == {0, 1}  # both replicas dispatched


def test_the_other_replica_takes_the_watchdog_over_and_fails_a_dead_workers_task(cluster: Cluster) -> None:
    holder = _watchdog_holder(cluster)
    survivor = cluster.b if holder is cluster.a else cluster.a
    alice, agent = cluster.client("alice", survivor), cluster.client("gpu01", survivor)
    queue = data(call(alice, "queues.get_all", {"name": "^gpu$"}))["queues"][0]["id"]
    task = data(call(alice, "tasks.create", {"name": "orphan", "type": "training"}))["id"]
    data(call(alice, "tasks.enqueue", {"task": task, "queue": queue}))
    data(call(agent, "workers.register", {"worker": "doomed:0", "queues": [queue], "timeout": 3}))
    assert data(call(agent, "queues.get_next_task", {"queue": queue}))["entry"]["task"] == task
    data(call(agent, "tasks.started", {"task": task}))
    data(call(agent, "workers.status_report", {"worker": "doomed:0", "task": task, "queue": queue}))

    holder.kill()  # the worker stops reporting too: it never reports again
    cluster.forget(holder)
    killed = time.monotonic()
    while _watchdog_holder(cluster, allow_none=True) is not survivor:
        assert time.monotonic() - killed < 3 * INTERVAL_SEC, "the watchdog was not taken over"
        time.sleep(0.05)
    took_over = time.monotonic() - killed
    while (doc := _task(cluster, task, survivor))["status"] != "failed":
        assert time.monotonic() - killed < 3 + 10 * INTERVAL_SEC, doc["status"]
        time.sleep(0.1)
    assert "doomed:0" in doc["status_reason"]
    print(f"watchdog taken over {took_over:.2f} s after its holder was killed")
    holder.start(upgrade=False)


def test_a_replica_killed_during_ingestion_loses_no_acknowledged_event(cluster: Cluster) -> None:
    victim, reader = cluster.a, cluster.b
    alice = cluster.client("alice", victim)
    headers = alice.headers
    tasks = [data(call(alice, "tasks.create", {"name": f"ingest {i}", "type": "training"}))["id"] for i in range(4)]
    acknowledged: dict[str, set[int]] = {task: set() for task in tasks}
    stop = threading.Event()

    def send(task: str) -> None:
        with httpx.Client(base_url=victim.url, headers=headers, timeout=30) as http:
            for batch in range(10_000):
                if stop.is_set():
                    return
                iters = range(batch * 100, batch * 100 + 100)
                scalar = {"type": "training_stats_scalar", "task": task, "metric": "m", "variant": "v"}
                lines = [{**scalar, "iter": i, "value": i} for i in iters]
                try:
                    response = http.post("/events.add_batch", content="\n".join(map(json.dumps, lines)))
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and response.json()["data"]["added"] == 100:
                    acknowledged[task].update(iters)

    with ThreadPoolExecutor(len(tasks)) as pool:
        futures = [pool.submit(send, task) for task in tasks]
        while sum(map(len, acknowledged.values())) < 20_000:
            time.sleep(0.01)
        victim.kill()
        stop.set()
        for future in futures:
            future.result()
    cluster.forget(victim)
    reading = cluster.client("alice", reader)
    for task, iters in acknowledged.items():
        histogram = data(call(reading, "events.scalar_metrics_iter_histogram", {"task": task}))
        stored = set(histogram["m"]["v"]["x"]) if histogram else set()
        assert iters <= stored, f"{len(iters - stored)} acknowledged events of {task} lost"
    victim.start(upgrade=False)


def _task(cluster: Cluster, task_id: str, server: ServerProcess) -> dict[str, Any]:
    return data(call(cluster.client("alice", server), "tasks.get_by_id", {"task": task_id}))["task"]


def _watchdog_holder(cluster: Cluster, allow_none: bool = False) -> ServerProcess | None:
    """The replica whose watchdog connection holds this database's advisory lock (it names its process)."""
    url = cluster.a.database_url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + 10 * INTERVAL_SEC
    while True:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'clearway watchdog pid %'"
                # Other servers of the test session hold their own database's watchdog lock on this cluster.
                " AND a.datname = current_database()"
            ).fetchone()
        if row is not None:
            pid = int(row[0].rsplit(" ", 1)[1])
            for server in (cluster.a, cluster.b):
                assert server.process is not None
                if server.process.poll() is None and server.process.pid == pid:
                    return server
        if allow_none or time.monotonic() > deadline:
            if allow_none:
                return None
            raise AssertionError("no replica holds the watchdog lock")
        time.sleep(0.05)
