"""Dispatch: tasks per second from ``tasks.enqueue`` to ``queues.get_next_task``, and how long an enqueued task waits
until an agent sees it, with 1 and 50 agents polling (threads, each with its own kept-alive httpx client).

Figures, per number of agents:
* pipeline tasks/s: one client enqueues N tasks while the agents poll; N / (first enqueue .. last task taken);
* enqueue tasks/s and take tasks/s: the two halves alone (N enqueued, then the agents drain the queue);
* latency: M tasks enqueued one at a time (paced) while the agents poll; from the start of the ``tasks.enqueue``
  call to the moment an agent's ``get_next_task`` returns the task.
Like real agents, an agent that finds the queue empty waits before polling again: ``--empty-poll-sec`` (0.2 s,
25 times shorter than clearml-agent's default ``CLEARML_AGENT_QUEUE_POLL_FREQ_SEC`` of 5 s), so more agents
mean a shorter wait for the next poll. Every run also checks that each task was taken exactly once.

Standalone: ``python bench/dispatch.py [--tasks N] [--agents 1,50] [--database sqlite|postgresql] [--smoke]``
starts its own server (no watchdog) on a fresh database in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from bench.common import Context, Result

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CLEARWAY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LATENCY_GAP_SEC = 0.02  # between two enqueues of the latency run
EMPTY_POLL_SEC = 0.2  # an agent's wait after an empty poll


@dataclass
class Figures:
    database: str
    agents: int
    tasks: int
    pipeline_tasks_per_sec: float
    enqueue_tasks_per_sec: float
    take_tasks_per_sec: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    enqueue_call_p50_ms: float  # the producer's own tasks.enqueue round trip, part of every latency


class Cluster:
    """The running server, a data scientist's client and the agents' credentials."""

    def __init__(self, url: str, user_token: str, agent_token: str, *extra_tokens: str) -> None:
        self.url = url
        self.user_token = user_token
        self.agent_token = agent_token
        self.extra_tokens = list(extra_tokens)  # of own_server's extra_users

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def api(client: httpx.Client, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(f"/{endpoint}", json=body or {})
    if response.status_code != 200:
        raise RuntimeError(f"{endpoint} failed ({response.status_code}): {response.text[:300]}")
    return response.json()["data"]


def new_tasks(user: httpx.Client, count: int) -> list[str]:
    return [api(user, "tasks.create", {"name": f"bench-{i}", "type": "training"})["id"] for i in range(count)]


class Agents:
    """``count`` polling threads; each records (task id, moment seen) until told to stop and the queue is empty."""

    def __init__(self, cluster: Cluster, queue: str, count: int, empty_poll_sec: float) -> None:
        self.cluster = cluster
        self.queue = queue
        self.empty_poll_sec = empty_poll_sec
        self.seen: list[tuple[str, float]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._go = threading.Event()
        self._draining = threading.Event()
        self._threads = [threading.Thread(target=self._poll, daemon=True) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def go(self) -> None:
        self._go.set()

    def drain_and_stop(self, expected: int, timeout: float = 600) -> None:
        """Wait until ``expected`` tasks were seen, then stop the threads."""
        deadline = time.monotonic() + timeout
        while len(self.seen) < expected and not self.errors:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.seen)} of {expected} tasks taken")
            time.sleep(0.005)
        self._draining.set()
        for thread in self._threads:
            thread.join(30)
        if self.errors:
            raise self.errors[0]

    def _poll(self) -> None:
        with self.cluster.client(self.cluster.agent_token) as client:
            self._go.wait()
            try:
                while not self._draining.is_set():
                    entry = api(client, "queues.get_next_task", {"queue": self.queue}).get("entry")
                    if entry:
                        with self._lock:
                            self.seen.append((entry["task"], time.perf_counter()))
                    else:
                        self._draining.wait(self.empty_poll_sec)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.errors.append(exc)


def check_once(taken: list[str], sent: list[str]) -> None:
    twice = [task for task, n in Counter(taken).items() if n > 1]
    if twice or sorted(taken) != sorted(sent):
        raise AssertionError(f"tasks taken twice: {twice[:5]}; missing: {len(set(sent) - set(taken))}")


def measure(
    cluster: Cluster, database: str, agents: int, tasks: int, latency_tasks: int, empty_poll_sec: float
) -> Figures:
    with cluster.client(cluster.user_token) as user:
        queue = api(user, "queues.create", {"name": f"bench-{uuid.uuid4().hex[:8]}"})["id"]

        # The pipeline: enqueue while the agents poll.
        batch = new_tasks(user, tasks)
        pollers = Agents(cluster, queue, agents, empty_poll_sec)
        pollers.go()
        started = time.perf_counter()
        for task_id in batch:
            api(user, "tasks.enqueue", {"task": task_id, "queue": queue})
        pollers.drain_and_stop(tasks)
        pipeline = tasks / (max(t for _, t in pollers.seen) - started)
        check_once([t for t, _ in pollers.seen], batch)

        # The two halves alone.
        batch = new_tasks(user, tasks)
        started = time.perf_counter()
        for task_id in batch:
            api(user, "tasks.enqueue", {"task": task_id, "queue": queue})
        enqueue = tasks / (time.perf_counter() - started)
        pollers = Agents(cluster, queue, agents, empty_poll_sec)
        started = time.perf_counter()
        pollers.go()
        pollers.drain_and_stop(tasks)
        take = tasks / (max(t for _, t in pollers.seen) - started)
        check_once([t for t, _ in pollers.seen], batch)

        # Latency: one task at a time, agents polling without pause.
        batch = new_tasks(user, latency_tasks)
        pollers = Agents(cluster, queue, agents, empty_poll_sec)
        pollers.go()
        sent_at: dict[str, float] = {}
        calls: list[float] = []
        for task_id in batch:
            sent_at[task_id] = time.perf_counter()
            api(user, "tasks.enqueue", {"task": task_id, "queue": queue})
            calls.append((time.perf_counter() - sent_at[task_id]) * 1000)
            time.sleep(LATENCY_GAP_SEC)
        pollers.drain_and_stop(latency_tasks)
        check_once([t for t, _ in pollers.seen], batch)
        waits = sorted((seen - sent_at[task]) * 1000 for task, seen in pollers.seen)
    return Figures(
        database=database,
        agents=agents,
        tasks=tasks,
        pipeline_tasks_per_sec=round(pipeline, 1),
        enqueue_tasks_per_sec=round(enqueue, 1),
        take_tasks_per_sec=round(take, 1),
        latency_p50_ms=round(statistics.median(waits), 1),
        latency_p95_ms=round(waits[int(0.95 * (len(waits) - 1))], 1),
        latency_max_ms=round(waits[-1], 1),
        enqueue_call_p50_ms=round(statistics.median(calls), 1),
    )


@contextmanager
def database_url(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'clearway.db'}"
        return
    import psycopg

    name = f"clearway_dispatch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_server(
    work: Path, kind: str, extra_env: dict[str, str] | None = None, extra_users: list[str] | None = None
) -> Iterator[Cluster]:
    """``clearway server`` on a fresh database, with a user and an agent (the watchdog off: nothing in between),
    and ``extra_users`` (users too)."""
    with database_url(kind, work) as db_url, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "CLEARWAY_DATA_DIR": str(work),
            "CLEARWAY_DATABASE_URL": db_url,
            "CLEARWAY_WATCHDOG_INTERVAL_SEC": "0",
            **(extra_env or {}),
        }
        cli = [sys.executable, "-m", "clearway"]

        def clearway(*args: str) -> str:
            return subprocess.run([*cli, *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout

        clearway("db", "upgrade")
        tokens = []
        for name, role in (("bench", "user"), ("bench-agent", "agent"), *((u, "user") for u in extra_users or [])):
            clearway("users", "create", name, "--role", role)
            creds = dict(line.removeprefix("export ").split("=", 1) for line in clearway("env", name).splitlines())
            keys = (shlex.split(creds["CLEARML_API_ACCESS_KEY"])[0], shlex.split(creds["CLEARML_API_SECRET_KEY"])[0])
            tokens.append(keys)
        with open(work / "server.log", "ab") as log:
            process = subprocess.Popen(
                [*cli, "server", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            logged_in = [_login(url, keys, process, work) for keys in tokens]
            yield Cluster(url, *logged_in)
        finally:
            process.terminate()
            process.wait(30)


def _login(url: str, keys: tuple[str, str], process: subprocess.Popen[bytes], work: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(f"{url}/auth.login", auth=keys, timeout=5).json()["data"]["token"]
        except (httpx.TransportError, KeyError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((work / "server.log").read_text()[-2000:]) from None
            time.sleep(0.05)


# As a section of ``python -m bench`` (bench/common.py): each database of the run, with its own server.
TITLE = "Dispatch"


def run(ctx: Context) -> list[Result]:
    from bench.common import Result

    tasks, latency_tasks, agent_counts = (100, 20, (1, 5)) if ctx.smoke else (1000, 200, (1, 50))
    results = []
    for backend in ctx.backends:
        with own_server(ctx.fresh_dir(f"dispatch-{backend.name}"), backend.name) as cluster:
            for agents in agent_counts:
                f = measure(cluster, backend.name, agents, tasks, latency_tasks, EMPTY_POLL_SEC)
                label = f"{agents} polling agent{'s' if agents > 1 else ''} [{backend.name}]"
                results += [
                    Result("dispatch", f"enqueue -> get_next_task, {label}", "tasks/s", [f.pipeline_tasks_per_sec]),
                    Result("dispatch", f"tasks.enqueue alone, {label}", "tasks/s", [f.enqueue_tasks_per_sec]),
                    Result("dispatch", f"get_next_task draining, {label}", "tasks/s", [f.take_tasks_per_sec]),
                    Result(
                        "dispatch",
                        f"enqueued to seen by an agent, p50, {label}",
                        "ms",
                        [f.latency_p50_ms],
                        higher_is_better=False,
                        note=f"p95 {f.latency_p95_ms:.0f} ms, max {f.latency_max_ms:.0f} ms, "
                        f"of which the enqueue call {f.enqueue_call_p50_ms:.0f} ms; agents wait {EMPTY_POLL_SEC} s "
                        "after an empty poll",
                    ),
                ]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per throughput run")
    parser.add_argument("--latency-tasks", type=int, default=200, help="tasks enqueued one at a time for latency")
    parser.add_argument("--agents", default="1,50", help="comma-separated numbers of polling agents")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--empty-poll-sec", type=float, default=EMPTY_POLL_SEC, help="wait after an empty poll")
    parser.add_argument("--smoke", action="store_true", help="100 tasks, 20 for latency")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    tasks, latency_tasks = (100, 20) if args.smoke else (args.tasks, args.latency_tasks)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    print(
        f"{tasks} tasks per run, {latency_tasks} for latency; agents wait {args.empty_poll_sec} s after an empty poll"
    )
    print("| database | agents | pipeline tasks/s | enqueue tasks/s | take tasks/s | latency p50 / p95 / max ms "
          "| of which enqueue call p50 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="clearway-bench-dispatch-") as tmp, own_server(Path(tmp), kind) as c:
            for agents in (int(n) for n in args.agents.split(",")):
                f = measure(c, kind, agents, tasks, latency_tasks, args.empty_poll_sec)
                results.append(f)
                print(
                    f"| {kind} | {agents} | {f.pipeline_tasks_per_sec:.0f} | {f.enqueue_tasks_per_sec:.0f} "
                    f"| {f.take_tasks_per_sec:.0f} | {f.latency_p50_ms:.1f} / {f.latency_p95_ms:.1f} / "
                    f"{f.latency_max_ms:.1f} | {f.enqueue_call_p50_ms:.1f} |",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
