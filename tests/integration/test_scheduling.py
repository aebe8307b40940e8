"""Resource-aware dispatch, fair share and quotas, in process, with simulated workers (status reports with
different GPUs), on SQLite or PostgreSQL (CLEARWAY_TEST_DATABASE)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from clearway.domain.identity import Identity
from clearway.domain.task_status import Status
from clearway.errors import Forbidden, ValidationFailed
from clearway.services import Services
from clearway.timeutil import utcnow

GB = 1024.0  # the agent reports memory in MB


@pytest.fixture(scope="module")
def admin(make_user: Callable[..., Identity]) -> Identity:
    return make_user("sched-admin", "admin")


@pytest.fixture(scope="module")
def agent(make_user: Callable[..., Identity]) -> Identity:
    return make_user("sched-agent", "agent")


@pytest.fixture
def user(make_user: Callable[..., Identity]) -> Callable[[], Identity]:
    return lambda: make_user(f"sched-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def queue(services: Services, admin: Identity) -> str:
    return services.queues.create(admin, {"name": f"sq-{uuid.uuid4().hex[:8]}"})["id"]


def new_task(services: Services, owner: Identity, **needs: object) -> str:
    properties = {
        f"clearway.{k}": {"section": "properties", "name": f"clearway.{k}", "value": str(v)} for k, v in needs.items()
    }
    doc = {"name": "t", "type": "training", "hyperparams": {"properties": properties} if properties else {}}
    return services.tasks.create(owner, doc)["id"]


def enqueue(services: Services, owner: Identity, queue: str, n: int = 1, **needs: object) -> list[str]:
    ids = [new_task(services, owner, **needs) for _ in range(n)]
    for task_id in ids:
        services.dispatch.enqueue(owner, task_id, queue)
    return ids


def report(services: Services, agent: Identity, worker: str, queue: str, gpus: list[float], memory_gb: float = 64):
    """A worker's status report as clearml-agent sends it: per-GPU free/used memory (MB) and utilisation."""
    stats = {
        "memory_free": memory_gb * GB,
        "memory_used": 1 * GB,
        "cpu_usage": [5.0],
        **(
            {
                "gpu_memory_free": [g * GB for g in gpus],
                "gpu_memory_used": [0.5 * GB for _ in gpus],
                "gpu_usage": [0.0 for _ in gpus],
            }
            if gpus
            else {}
        ),
    }
    services.workers.status_report(agent, worker, {"queues": [queue], "machine_stats": stats})
    return worker


def take(services: Services, agent: Identity, queue: str, worker: str | None) -> str | None:
    taken = services.dispatch.take(agent, queue, worker)
    return taken[0].task if taken else None


def finish(services: Services, owner: Identity, task_id: str) -> None:
    services.tasks.change_status(owner, task_id, Status.COMPLETED, force=True)


@pytest.fixture
def quotas(services: Services, admin: Identity) -> Iterator[None]:
    yield
    for q in services.scheduling.quotas(admin):
        services.scheduling.remove_quota(admin, q["subject_type"], q["subject_id"])


def test_a_two_gpu_task_never_goes_to_a_one_gpu_worker(services: Services, agent, user, queue):
    alice = user()
    (two,) = enqueue(services, alice, queue, gpus=2)
    (plain,) = enqueue(services, alice, queue)
    one_gpu = report(services, agent, f"w1-{queue}", queue, [16])
    assert take(services, agent, queue, one_gpu) == plain  # the 2-GPU task, ahead of it, is passed over
    assert take(services, agent, queue, one_gpu) is None
    two_gpus = report(services, agent, f"w2-{queue}", queue, [16, 16])
    assert take(services, agent, queue, two_gpus) == two


def test_gpu_memory_and_machine_memory_must_fit(services: Services, agent, user, queue):
    alice = user()
    (big,) = enqueue(services, alice, queue, gpus=1, gpu_memory_gb=40)
    (ram,) = enqueue(services, alice, queue, memory_gb=100)
    small = report(services, agent, f"s-{queue}", queue, [24], memory_gb=32)
    assert take(services, agent, queue, small) is None
    large = report(services, agent, f"l-{queue}", queue, [24, 80], memory_gb=512)
    assert take(services, agent, queue, large) == big
    assert take(services, agent, queue, large) == ram


def test_a_worker_without_a_recent_report_gets_only_tasks_that_declare_nothing(services: Services, agent, user, queue):
    alice = user()
    (gpu,) = enqueue(services, alice, queue, gpus=1)
    (plain,) = enqueue(services, alice, queue)
    worker = report(services, agent, f"stale-{queue}", queue, [16])
    scheduler = services.dispatch.scheduler
    later = utcnow() + timedelta(seconds=scheduler.tuning.report_stale_sec + 5)
    scheduler.clock = lambda: later
    try:
        assert take(services, agent, queue, worker) == plain
        assert take(services, agent, queue, worker) is None
        assert take(services, agent, queue, None) is None  # a caller that names no worker: unknown too
    finally:
        scheduler.clock = utcnow
    assert take(services, agent, queue, worker) == gpu


def test_queue_defaults_apply_to_tasks_that_declare_nothing(services: Services, admin, agent, user, queue):
    services.scheduling.set_policy(admin, queue, {"gpus": 1})
    alice = user()
    (task,) = enqueue(services, alice, queue)
    (cpu,) = enqueue(services, alice, queue, gpus=0)  # an explicit 0 overrides the default
    cpu_worker = report(services, agent, f"cpu-{queue}", queue, [])
    assert take(services, agent, queue, cpu_worker) == cpu
    assert take(services, agent, queue, cpu_worker) is None
    assert take(services, agent, queue, report(services, agent, f"gpu-{queue}", queue, [8])) == task


def test_nonsense_declarations_are_refused_at_enqueue(services: Services, user, queue):
    alice = user()
    for bad in ({"gpus": "two"}, {"gpus": -1}, {"gpus": 1.5}, {"memory_gb": "nan"}):
        task_id = new_task(services, alice, **bad)
        with pytest.raises(ValidationFailed):
            services.dispatch.enqueue(alice, task_id, queue)
        assert services.tasks.get(alice, task_id)["status"] == "created"


def test_a_task_no_live_worker_could_run_is_flagged_and_announced_once(services: Services, agent, user, queue):
    alice = user()
    (huge,) = enqueue(services, alice, queue, gpus=8)
    worker = report(services, agent, f"u-{queue}", queue, [16, 16])
    while services.notifier.route_once():  # what happened before is routed already
        pass
    start = services.stores.outbox.last_position()
    assert take(services, agent, queue, worker) is None
    assert take(services, agent, queue, worker) is None
    task = services.tasks.get(alice, huge)
    assert task["status"] == "queued"
    assert task["status_message"].startswith("cannot be scheduled: needs 8 GPUs")
    while services.notifier.route_once():
        pass
    kinds = [e.kind for e in services.stores.outbox.after(start, 10_000) if e.subject_id == huge]
    assert kinds == ["task.unschedulable"]


def test_fair_share_starts_the_small_users_tasks_within_the_first_dispatches(services: Services, agent, user, queue):
    big, small = user(), user()
    enqueue(services, big, queue, 100)
    small_tasks = set(enqueue(services, small, queue, 5))
    worker = report(services, agent, f"f-{queue}", queue, [])
    first = [take(services, agent, queue, worker) for _ in range(10)]
    assert small_tasks <= set(first)


def test_fifo_keeps_the_order_of_arrival(services: Services, admin, agent, user, queue):
    services.scheduling.set_policy(admin, queue, {"policy": "fifo"})
    big, small = user(), user()
    big_tasks = enqueue(services, big, queue, 6)
    enqueue(services, small, queue, 2)
    worker = report(services, agent, f"fifo-{queue}", queue, [])
    assert [take(services, agent, queue, worker) for _ in range(6)] == big_tasks


def test_usage_weighs_in_fair_share(services: Services, agent, user, queue):
    heavy, light = user(), user()
    worker = report(services, agent, f"use-{queue}", queue, [16, 16])
    (used,) = enqueue(services, heavy, queue, gpus=2)
    assert take(services, agent, queue, worker) == used
    later = utcnow() + timedelta(seconds=600)
    services.dispatch.scheduler.clock = services.workers.clock = lambda: later
    try:
        worker = report(services, agent, worker, queue, [16, 16])
        finish(services, heavy, used)
        heavy_next = enqueue(services, heavy, queue, 3, gpus=1)
        light_next = enqueue(services, light, queue, 1, gpus=1)
        assert take(services, agent, queue, worker) == light_next[0]  # heavy has used 1200 GPU-seconds
        assert take(services, agent, queue, worker) == heavy_next[0]
    finally:
        services.dispatch.scheduler.clock = services.workers.clock = utcnow


def test_priorities_count_within_an_owners_share_when_allowed(services: Services, admin, agent, user, queue):
    alice = user()
    low = enqueue(services, alice, queue, 1, priority=0)[0]
    high = enqueue(services, alice, queue, 1, priority=5)[0]
    worker = report(services, agent, f"p-{queue}", queue, [])
    assert take(services, agent, queue, worker) == low  # not allowed yet: ignored
    services.scheduling.set_policy(admin, queue, {"allow_priority": True})
    later = enqueue(services, alice, queue, 1, priority=9)[0]
    assert take(services, agent, queue, worker) == later
    assert take(services, agent, queue, worker) == high


def test_a_user_over_quota_waits_and_says_why(services: Services, admin, agent, user, queue, quotas):
    alice, bob = user(), user()
    services.scheduling.set_quota(admin, "user", alice.user_id, max_running=2, max_gpus=None)
    alice_tasks = enqueue(services, alice, queue, 4)
    bob_tasks = enqueue(services, bob, queue, 2)
    worker = report(services, agent, f"q-{queue}", queue, [])
    taken = [take(services, agent, queue, worker) for _ in range(5)]
    assert Counter(t in alice_tasks for t in taken if t) == {True: 2, False: 2}
    assert taken[-1] is None
    waiting = [t for t in alice_tasks if t not in taken]
    message = services.tasks.get(alice, waiting[0])["status_message"]
    assert message == "over quota: user quota allows at most 2 running tasks; 2 are running"
    finish(services, alice, next(t for t in taken if t in alice_tasks))
    assert take(services, agent, queue, worker) in waiting
    assert set(bob_tasks) <= set(taken)


def test_a_groups_gpu_quota_holds_across_its_members(services: Services, admin, agent, user, queue, quotas):
    alice, bob = user(), user()
    group = services.sharing.create_group(admin, f"team-{uuid.uuid4().hex[:6]}")
    for member in (alice, bob):
        services.sharing.set_member(admin, group["id"], member.user_id, True)
    services.scheduling.set_quota(admin, "group", group["id"], max_running=None, max_gpus=3)
    enqueue(services, alice, queue, 2, gpus=2)
    enqueue(services, bob, queue, 2, gpus=1)
    worker = report(services, agent, f"g-{queue}", queue, [16, 16, 16, 16])
    taken = [t for t in (take(services, agent, queue, worker) for _ in range(4)) if t]
    assert len(taken) == 2  # one 2-GPU task of alice's and one 1-GPU task of bob's: 3 GPUs
    held = services.stores.scheduler.held(admin.org_id)
    assert held.get(alice.user_id, (0, 0))[1] + held.get(bob.user_id, (0, 0))[1] <= 3


def test_quotas_are_for_admins(services: Services, user):
    with pytest.raises(Forbidden):
        services.scheduling.set_quota(user(), "user", "x", max_running=1, max_gpus=None)


def test_explain_lists_the_dispatch_order_with_reasons(services: Services, admin, agent, user, queue, quotas):
    big, small, capped = user(), user(), user()
    services.scheduling.set_quota(admin, "user", capped.user_id, max_running=0, max_gpus=None)
    big_tasks = enqueue(services, big, queue, 3)
    small_tasks = enqueue(services, small, queue, 1)
    (capped_task,) = enqueue(services, capped, queue)
    (huge,) = enqueue(services, big, queue, gpus=4)
    report(services, agent, f"e-{queue}", queue, [16])
    out = services.scheduling.explain(admin, queue)
    order = [row["task"] for row in out["tasks"]]
    assert order[:2] == [big_tasks[0], small_tasks[0]]
    reasons = {row["task"]: row["reason"] for row in out["tasks"]}
    assert reasons[big_tasks[0]] == "next"
    assert reasons[small_tasks[0]].startswith("fair-share order: 1 task ahead")
    assert reasons[capped_task].startswith("over quota")
    assert reasons[huge].startswith("cannot be scheduled")
    rows = {row["task"]: row for row in out["tasks"]}
    assert rows[big_tasks[0]]["estimated_start"] is not None
    assert rows[huge]["estimated_start"] is None
    assert [row["position"] for row in out["tasks"]] == list(range(1, len(order) + 1))


def test_nothing_is_dispatched_twice_under_concurrent_agents(services: Services, agent, user, queue, quotas):
    owners = [user() for _ in range(4)]
    tasks = [t for owner in owners for t in enqueue(services, owner, queue, 15)]
    workers = [report(services, agent, f"c{i}-{queue}", queue, [16]) for i in range(8)]
    taken: list[str] = []
    lock = threading.Lock()

    def drain(worker: str) -> None:
        while (task := take(services, agent, queue, worker)) is not None:
            with lock:
                taken.append(task)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(taken).most_common(1)[0][1] == 1
    assert sorted(taken) == sorted(tasks)
