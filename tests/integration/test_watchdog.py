"""The watchdog, driven by an injected clock: dead workers' tasks, silent tasks and never-started tasks fail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from clearway.domain.identity import Identity
from clearway.domain.task_status import Status
from clearway.domain.watchdog import Watchdog
from clearway.domain.workers import Workers
from clearway.services import Services
from clearway.timeutil import utcnow

WORKER_TIMEOUT = 600
TASK_TIMEOUT = 7200


@pytest.fixture(scope="module")
def people(make_user: Callable[..., Identity]) -> tuple[Identity, Identity, Identity]:
    suffix = uuid.uuid4().hex[:6]
    return (
        make_user(f"wd-admin-{suffix}", "admin"),
        make_user(f"wd-alice-{suffix}"),
        make_user(f"wd-agent-{suffix}", "agent"),
    )


def watchdog_at(services: Services, moment: datetime) -> Watchdog:
    return Watchdog(
        services.stores,
        worker_timeout_sec=WORKER_TIMEOUT,
        task_timeout_sec=TASK_TIMEOUT,
        retention_days=30,
        clock=lambda: moment,
    )


def running_task(services: Services, people, worker: str | None = None) -> str:
    admin, alice, agent = people
    queue = services.queues.create(admin, {"name": f"wd-{uuid.uuid4().hex[:8]}"})["id"]
    task_id = services.tasks.create(alice, {"name": "t", "type": "training"})["id"]
    services.dispatch.enqueue(alice, task_id, queue)
    if worker:
        services.workers.register(agent, worker, queues=[queue])
    assert services.dispatch.take(agent, queue) is not None
    # An agent changes a task only while one of its workers is alive; without one, an admin starts it.
    services.tasks.change_status(agent if worker else admin, task_id, Status.IN_PROGRESS, force=True)
    if worker:
        services.workers.status_report(agent, worker, {"queues": [queue], "task": task_id, "queue": queue})
    return task_id


def test_a_worker_that_stops_reporting_expires_and_its_task_fails(services: Services, people):
    worker = f"gpu-{uuid.uuid4().hex[:6]}"
    task_id = running_task(services, people, worker)
    other = running_task(services, people)  # run without a worker record: only the task timeout applies
    report = watchdog_at(services, utcnow() + timedelta(seconds=WORKER_TIMEOUT + 5)).sweep()
    assert worker in report.expired_workers
    assert task_id in report.failed_tasks and other not in report.failed_tasks
    doc = services.tasks.get(people[1], task_id)
    assert doc["status"] == "failed" and worker in doc["status_reason"] and "stopped reporting" in doc["status_reason"]
    assert services.tasks.get(people[1], other)["status"] == "in_progress"
    assert worker not in [w["id"] for w in services.workers.list(people[0])]


def test_a_live_worker_keeps_its_task(services: Services, people):
    worker = f"gpu-{uuid.uuid4().hex[:6]}"
    task_id = running_task(services, people, worker)
    report = watchdog_at(services, utcnow() + timedelta(seconds=WORKER_TIMEOUT - 60)).sweep()
    assert worker not in report.expired_workers and task_id not in report.failed_tasks
    assert services.tasks.get(people[1], task_id)["status"] == "in_progress"


def test_a_running_task_nobody_pings_fails_after_the_task_timeout(services: Services, people):
    task_id = running_task(services, people)
    later = utcnow() + timedelta(seconds=TASK_TIMEOUT + 5)
    assert task_id in watchdog_at(services, later).sweep().failed_tasks
    doc = services.tasks.get(people[1], task_id)
    assert doc["status"] == "failed" and "no ping" in doc["status_reason"]
    # A second sweep (another replica) changes nothing more.
    assert task_id not in watchdog_at(services, later).sweep().failed_tasks


def test_a_task_taken_but_never_started_fails(services: Services, people):
    admin, alice, agent = people
    queue = services.queues.create(admin, {"name": f"wd-{uuid.uuid4().hex[:8]}"})["id"]
    taken, waiting = (services.tasks.create(alice, {"name": n, "type": "training"})["id"] for n in ("a", "b"))
    services.dispatch.enqueue(alice, taken, queue)
    services.dispatch.enqueue(alice, waiting, queue)
    assert services.dispatch.take(agent, queue)[0].task == taken  # type: ignore[index]
    report = watchdog_at(services, utcnow() + timedelta(seconds=TASK_TIMEOUT + 5)).sweep()
    assert taken in report.failed_tasks and waiting not in report.failed_tasks
    assert "did not start" in services.tasks.get(alice, taken)["status_reason"]
    assert services.tasks.get(alice, waiting)["status"] == "queued"


def test_old_statistics_are_pruned(services: Services, people):
    _, _, agent = people
    worker = f"gpu-{uuid.uuid4().hex[:6]}"
    long_ago = utcnow() - timedelta(days=40)
    Workers(services.stores, WORKER_TIMEOUT, clock=lambda: long_ago).status_report(
        agent, worker, {"machine_stats": {"cpu_usage": [10.0], "memory_used": 100}}
    )
    services.workers.status_report(agent, worker, {"machine_stats": {"cpu_usage": [20.0], "memory_used": 200}})
    watchdog_at(services, utcnow()).sweep()
    rows = services.stores.workers.stats(agent.org_id, [worker], long_ago - timedelta(days=1), utcnow())
    assert [row["cpu_usage"] for row in rows] == [20.0]
