"""Scale-out: small calls per second at 8 clients with ``--workers 2`` against ``--workers 1``, two replicas on one
PostgreSQL database against one, and the server CPU that an idle agent's empty poll costs."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import httpx
import psutil

from bench.backends import Backend
from bench.clearway_server import ClearwayServer, call
from bench.common import Context, Result, Target, interleave, stopwatch

TITLE = "Scale-out"
CALLS_PER_CLIENT = 150  # smoke: a tenth
POLLS = 1000
# 2,000 idle agents polling every 5 s is 400 polls/s; on at most half a core that is 1.25 ms of CPU per poll.
POLL_TARGET = Target("value", "<=", 1.25, "<= 1.25 ms (2,000 agents / 5 s on 50% of a core)")
BEATS = Target("ratio", ">=", 1.0, "> 1x")


def run(ctx: Context) -> list[Result]:
    clients = ctx.sizes.clients
    calls = CALLS_PER_CLIENT // (10 if ctx.smoke else 1)
    results: list[Result] = []
    for backend in ctx.backends:
        with ExitStack() as stack:
            one = stack.enter_context(_server(ctx, backend))
            two = stack.enter_context(_server(ctx, backend, CLEARWAY_WORKERS="2"))
            single, double = interleave(
                ctx.runs, _small_calls([one], clients, calls), _small_calls([two], clients, calls)
            )
            name = f"small calls (tasks.get_by_id), {clients} clients, --workers 2 [{backend.name}]"
            results.append(_row(name, double, "--workers 1", single))
            results.append(
                Result(
                    "scaling",
                    f"CPU per empty queues.get_next_task [{backend.name}]",
                    "ms",
                    [_empty_poll_cpu_ms(one, POLLS // (10 if ctx.smoke else 1)) for _ in range(ctx.runs)],
                    higher_is_better=False,
                    target=POLL_TARGET,
                    note="the server process alone (not the database); kept-alive client, nothing waiting",
                )
            )
        if backend.name == "postgresql":
            with _replicas(ctx, backend) as (a, b):
                replicas, alone = interleave(
                    ctx.runs, _small_calls([a, b], clients, calls), _small_calls([a], clients, calls)
                )
            name = f"small calls (tasks.get_by_id), {clients} clients, two replicas [{backend.name}]"
            results.append(_row(name, replicas, "one replica", alone))
    return results


def _row(name: str, mine: list[float], reference: str, theirs: list[float]) -> Result:
    return Result("scaling", name, "req/s", mine, reference=reference, reference_samples=theirs, target=BEATS)


@contextmanager
def _server(ctx: Context, backend: Backend, **env: str) -> Iterator[ClearwayServer]:
    with ClearwayServer.running(ctx.fresh_dir(f"scaling-{backend.name}"), backend, **env) as server:
        yield server


@contextmanager
def _replicas(ctx: Context, backend: Backend) -> Iterator[tuple[ClearwayServer, ClearwayServer]]:
    """Two single-process replicas on one database, with one token secret."""
    secret = {"CLEARWAY_TOKEN_SECRET": secrets.token_urlsafe(32)}
    with ClearwayServer.running(ctx.fresh_dir("replica-a"), backend, **secret) as a:
        b = ClearwayServer(ctx.fresh_dir("replica-b"), backend, a.database_url, secret)
        b.credentials = {k: v.replace(a.url, b.url) for k, v in a.credentials.items()}
        b.start()
        try:
            yield a, b
        finally:
            b.stop()


def _small_calls(servers: list[ClearwayServer], clients: int, calls: int) -> Callable[[], float]:
    """Requests per second of ``clients`` threads (spread over ``servers``), each on its own kept-alive
    connection, each making ``calls`` small reads."""
    https = [servers[i % len(servers)].client() for i in range(clients)]
    task = call(https[0], "tasks.create", {"name": "small calls", "type": "training"})["id"]
    tasks = [
        task if i % len(servers) == 0 else call(h, "tasks.create", {"name": "s", "type": "training"})["id"]
        for i, h in enumerate(https)
    ]

    def measure() -> float:
        start = threading.Barrier(clients + 1)

        def worker(i: int) -> None:
            start.wait()
            for _ in range(calls):
                call(https[i], "tasks.get_by_id", {"task": tasks[i]})

        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(worker, i) for i in range(clients)]
            with stopwatch() as elapsed:
                start.wait()
                for future in futures:
                    future.result()
        return clients * calls / elapsed()

    return measure


def _empty_poll_cpu_ms(server: ClearwayServer, polls: int) -> float:
    """Server CPU milliseconds per ``queues.get_next_task`` on an empty queue, from an agent's kept-alive client."""
    with _agent_client(server) as http:
        queue = call(http, "queues.create", {"name": f"idle-{secrets.token_hex(4)}"})["id"]
        call(http, "queues.get_next_task", {"queue": queue})  # warm
        assert server.process is not None
        process = psutil.Process(server.process.popen.pid)
        before = _cpu(process)
        for _ in range(polls):
            call(http, "queues.get_next_task", {"queue": queue})
        return (_cpu(process) - before) * 1000 / polls


def _cpu(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


@contextmanager
def _agent_client(server: ClearwayServer) -> Iterator[httpx.Client]:
    """A kept-alive client of a new agent user (agents are who poll queues)."""
    from clearway.auth.keys import generate_key_pair, hash_secret

    with server.services() as services:
        identity = services.stores.identity
        org = identity.ensure_org("default")
        user = identity.create_user(org["id"], f"agent-{secrets.token_hex(4)}", "agent")
        pair = generate_key_pair()
        identity.add_key(user["id"], pair.access_key, hash_secret(pair.secret_key))
    with httpx.Client(base_url=server.url, auth=(pair.access_key, pair.secret_key)) as login:
        token = call(login, "auth.login")["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        yield http
