"""Scheduling: the cost of ``queues.get_next_task`` in process (the domain call, no HTTP) with 10,000 waiting tasks
from 100 users, under the fair-share policy beside FIFO, measured interleaved on two queues seeded alike.

Each user has 100 tasks, enqueued user after user; one in ten asks for a GPU, and the polling worker reports one
GPU (so the fit filter is at work). Like a worker that finishes a task before it asks again, each dispatched task
is completed (outside the timing), so what dispatched tasks hold stays small, as on a real cluster.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench.common import Context, Result, Target, interleave

TITLE = "Scheduling"
USERS = 100
GB = 1024.0


def run(ctx: Context) -> list[Result]:
    waiting = 10_000 if not ctx.smoke else 500
    takes = 200 if not ctx.smoke else 20
    results = []
    for backend in ctx.backends:
        directory = ctx.fresh_dir(f"scheduling-{backend.name}")
        url = ctx.stack.enter_context(backend.database(directory))
        services = _services(directory, url)
        ctx.stack.callback(services.stores.db.dispose)
        admin, agent, queues = _seed(services, waiting)
        worker = "bench-gpu:0"
        measures = [_dispatches(services, admin, agent, queues[p], worker, takes) for p in ("fifo", "fair")]
        fifo, fair = interleave(ctx.runs, *measures)
        label = f"{waiting:,} waiting from {USERS} users [{backend.name}]"
        results += [
            Result(
                "scheduling",
                f"get_next_task in process, fair share, {label}",
                "ms",
                [1000 / rate for rate in fair],
                higher_is_better=False,
                reference="the same call under FIFO, interleaved",
                reference_samples=[1000 / rate for rate in fifo],
                target=Target("ratio", ">=", 0.5, "<= 2x FIFO's cost"),
            ),
            Result(
                "scheduling",
                f"dispatches/s in process, fair share, {label}",
                "/s",
                fair,
                target=Target("value", ">=", 1000, ">= 1,000/s"),
            ),
            Result("scheduling", f"dispatches/s in process, FIFO, {label}", "/s", fifo),
        ]
    return results


def _services(directory: Any, url: str) -> Any:
    from clearway.services import Services
    from clearway.settings import Settings
    from clearway.store import migrations

    migrations.upgrade(url)
    return Services.build(Settings(data_dir=directory, database_url=url))


def _seed(services: Any, waiting: int) -> tuple[Any, Any, dict[str, str]]:
    """An admin, an agent whose worker reports one GPU, and a FIFO and a fair queue, each with ``waiting`` tasks."""
    from clearway.domain.ids import new_id
    from clearway.domain.scheduling.needs import Needs
    from clearway.timeutil import iso, utcnow

    identity = services.stores.identity
    org = identity.ensure_org("bench")["id"]

    def user(name: str, role: str = "user") -> Any:
        return identity.identity_of(identity.create_user(org, name, role)["id"])

    admin, agent = user("bench-admin", "admin"), user("bench-agent", "agent")
    owners = [user(f"bench-user-{i:03d}") for i in range(USERS)]
    queues = {}
    template = services.tasks.create(admin, {"name": "template", "type": "training"})
    start = utcnow() - timedelta(hours=1)
    for policy in ("fifo", "fair"):
        queue = services.queues.create(admin, {"name": f"bench-{policy}"})["id"]
        services.scheduling.set_policy(admin, queue, {"policy": policy})
        queues[policy] = queue
        per_user = waiting // USERS
        with services.stores.transaction():
            for n in range(waiting):
                owner = owners[n // per_user % USERS]
                task_id = new_id()
                moment = start + timedelta(milliseconds=n)
                doc = {**template, "id": task_id, "name": f"t{n}", "user": owner.user_id, "status": "queued",
                       "created": iso(moment), "last_update": iso(moment)}  # fmt: skip
                services.stores.tasks.insert(org, owner.user_id, doc)
                needs = Needs(gpus=1) if n % 10 == 0 else Needs()
                services.stores.queue_entries.push(queue, task_id, moment, owner.user_id, needs)
    return admin, agent, queues


def _dispatches(services: Any, admin: Any, agent: Any, queue: str, worker: str, takes: int) -> Any:
    """A measure: dispatches per second over ``takes`` calls (only the calls are timed)."""
    from clearway.domain.task_status import Status

    def measure() -> float:
        stats = {"memory_free": 64 * GB, "memory_used": GB, "gpu_usage": [0.0], "gpu_memory_free": [16 * GB],
                 "gpu_memory_used": [GB]}  # fmt: skip
        services.workers.status_report(agent, worker, {"queues": [queue], "machine_stats": stats})
        spent = 0.0
        for _ in range(takes):
            began = time.perf_counter()
            taken = services.dispatch.take(agent, queue, worker)
            spent += time.perf_counter() - began
            if taken is None:
                raise RuntimeError("the queue ran dry: seed more tasks")
            services.tasks.change_status(admin, taken[0].task, Status.COMPLETED, force=True)
        return takes / spent

    return measure
