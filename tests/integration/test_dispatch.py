"""Queues and the way tasks go through them, in process, on SQLite or PostgreSQL (CLEARWAY_TEST_DATABASE)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from clearway.domain.identity import Identity
from clearway.domain.queues import BACK, FRONT
from clearway.domain.task_status import Status
from clearway.errors import (
    Forbidden,
    InvalidProjectId,
    InvalidQueueId,
    InvalidTaskId,
    InvalidTaskStatus,
    QueueNotEmpty,
    TaskNotQueued,
)
from clearway.services import Services


@pytest.fixture(scope="module")
def admin(make_user: Callable[..., Identity]) -> Identity:
    return make_user("dispatch-admin", "admin")


@pytest.fixture(scope="module")
def alice(make_user: Callable[..., Identity]) -> Identity:
    return make_user("dispatch-alice")


@pytest.fixture(scope="module")
def agent(make_user: Callable[..., Identity]) -> Identity:
    return make_user("dispatch-agent", "agent")


@pytest.fixture
def queue(services: Services, admin: Identity) -> str:
    return services.queues.create(admin, {"name": f"q-{uuid.uuid4().hex[:8]}"})["id"]


def new_task(services: Services, owner: Identity, **fields) -> str:
    return services.tasks.create(owner, {"name": "t", "type": "training", **fields})["id"]


def waiting(services: Services, queue_id: str) -> list[str]:
    return [e.task for e in services.stores.queue_entries.entries([queue_id])[queue_id]]


def test_enqueue_queues_the_task_and_remembers_where_it_came_from(services: Services, alice, queue):
    task_id = new_task(services, alice, system_tags=["development", "keep"])
    services.tasks.change_status(alice, task_id, Status.STOPPED, force=True)
    task = services.dispatch.enqueue(alice, task_id, queue)
    assert task["status"] == "queued"
    assert task["execution"]["queue"] == queue
    assert task["enqueue_status"] == "stopped"
    assert task["system_tags"] == ["keep"]
    assert waiting(services, queue) == [task_id]


@pytest.mark.parametrize("status", ["in_progress", "published"])
def test_enqueue_is_refused_from_running_and_published(services: Services, alice, queue, status):
    task_id = new_task(services, alice)
    services.tasks.change_status(alice, task_id, Status(status), force=True)
    with pytest.raises(InvalidTaskStatus):
        services.dispatch.enqueue(alice, task_id, queue)
    assert waiting(services, queue) == []


def test_unknown_queues_are_refused(services: Services, alice):
    task_id = new_task(services, alice)
    with pytest.raises(InvalidQueueId):
        services.dispatch.enqueue(alice, task_id, "0" * 32)
    with pytest.raises(InvalidQueueId):
        services.dispatch.enqueue(alice, task_id, queue_name="no such queue")
    assert services.tasks.get(alice, task_id)["status"] == "created"


def test_a_task_waits_in_one_queue_at_most(services: Services, admin, alice, queue):
    other = services.queues.create(admin, {"name": f"other-{uuid.uuid4().hex[:6]}"})["id"]
    task_id = new_task(services, alice)
    services.dispatch.enqueue(alice, task_id, queue)
    task = services.dispatch.enqueue(alice, task_id, other)
    assert (waiting(services, queue), waiting(services, other)) == ([], [task_id])
    assert task["enqueue_status"] == "created"  # moving between queues keeps the original status


def test_tasks_are_taken_in_order_and_moves_reorder_them(services: Services, admin, alice, agent, queue):
    tasks = [new_task(services, alice) for _ in range(4)]
    for task_id in tasks:
        services.dispatch.enqueue(alice, task_id, queue)
    a, b, c, d = tasks
    assert services.queues.move(admin, queue, d, 1) == 2
    assert services.queues.move(admin, queue, a, -1) == 1
    assert services.queues.move(admin, queue, c, FRONT) == 0
    assert services.queues.move(admin, queue, b, BACK) == 3
    assert waiting(services, queue) == [c, a, d, b]
    with pytest.raises(TaskNotQueued):
        services.queues.move(admin, queue, new_task(services, alice), 1)
    with pytest.raises(InvalidQueueId):
        services.queues.move(alice, queue, a, 1)  # reordering a shared queue is its manager's
    taken = [services.dispatch.take(agent, queue) for _ in range(5)]
    assert [t[0].task if t else None for t in taken] == [c, a, d, b, None]
    assert all(t[1]["status"] == "queued" for t in taken if t)


def test_only_agents_and_admins_take_tasks(services: Services, alice, queue):
    with pytest.raises(Forbidden):
        services.dispatch.take(alice, queue)


def test_dequeue_of_an_unqueued_task_changes_nothing(services: Services, alice):
    task_id = new_task(services, alice)
    assert services.dispatch.dequeue(alice, task_id)["updated"] == 0
    assert services.dispatch.dequeue(alice, task_id, "in_progress")["updated"] == 0
    assert services.tasks.get(alice, task_id)["status"] == "created"


def test_dequeue_sends_the_task_back_and_new_status_moves_it_on(services: Services, alice, queue):
    back, on = new_task(services, alice), new_task(services, alice)
    for task_id in (back, on):
        services.dispatch.enqueue(alice, task_id, queue)
    result = services.dispatch.dequeue(alice, back)
    assert (result["updated"], result["dequeued"], result["fields"]["status"]) == (1, 1, "created")
    doc = services.tasks.get(alice, back)
    assert doc["status"] == "created" and "queue" not in doc["execution"] and "enqueue_status" not in doc
    result = services.dispatch.dequeue(alice, on, "in_progress")
    assert (result["updated"], result["dequeued"]) == (1, 1)
    doc = services.tasks.get(alice, on)
    assert doc["status"] == "in_progress" and doc["execution"]["queue"] == queue
    assert waiting(services, queue) == []


def test_leaving_the_queued_status_leaves_the_queue(services: Services, alice, queue):
    stopped, reset = new_task(services, alice), new_task(services, alice)
    for task_id in (stopped, reset):
        services.dispatch.enqueue(alice, task_id, queue)
    services.tasks.change_status(alice, stopped, Status.STOPPED)
    services.tasks.reset(alice, reset, force=False, clear_all=False)
    assert waiting(services, queue) == []


def test_stop_asks_a_running_task_to_stop_and_simply_stops_the_rest(services: Services, alice, queue):
    running, queued = new_task(services, alice), new_task(services, alice)
    services.tasks.change_status(alice, running, Status.IN_PROGRESS)
    services.dispatch.enqueue(alice, queued, queue)
    doc = services.dispatch.stop(alice, running)
    assert doc["status"] == "in_progress" and "stopping" in doc["status_message"]
    assert services.dispatch.stop(alice, queued)["status"] == "stopped"
    assert waiting(services, queue) == []
    done = new_task(services, alice)
    services.tasks.change_status(alice, done, Status.COMPLETED, force=True)
    with pytest.raises(InvalidTaskStatus):
        services.dispatch.stop(alice, done)


def test_deleting_a_queue_with_waiting_tasks_needs_force_and_sends_them_back(services: Services, admin, alice):
    queue = services.queues.create(admin, {"name": f"doomed-{uuid.uuid4().hex[:6]}"})["id"]
    task_id = new_task(services, alice)
    services.dispatch.enqueue(alice, task_id, queue)
    with pytest.raises(QueueNotEmpty):
        services.dispatch.delete_queue(admin, queue, force=False)
    assert services.dispatch.delete_queue(admin, queue, force=True) == 1
    doc = services.tasks.get(alice, task_id)
    assert doc["status"] == "created" and "was deleted" in doc["status_reason"]
    with pytest.raises(InvalidQueueId):
        services.queues.get(admin, queue)


def test_agents_see_queued_tasks_and_their_projects_but_nothing_else(services: Services, alice, agent, queue):
    project = services.projects.create(alice, {"name": f"private-{uuid.uuid4().hex[:6]}"})["id"]
    hidden = new_task(services, alice, project=project)
    sent = new_task(services, alice, project=project)
    other_project = services.projects.create(alice, {"name": f"other-{uuid.uuid4().hex[:6]}"})["id"]
    with pytest.raises(InvalidTaskId):
        services.tasks.get(agent, sent)
    services.dispatch.enqueue(alice, sent, queue)
    assert services.tasks.get(agent, sent)["id"] == sent
    assert services.projects.get(agent, project)["id"] == project
    with pytest.raises(InvalidTaskId):
        services.tasks.get(agent, hidden)
    with pytest.raises(InvalidProjectId):
        services.projects.get(agent, other_project)


@pytest.mark.parametrize("agents,tasks", [(50, 1000)])
def test_concurrent_agents_take_every_task_exactly_once(services: Services, make_user, alice, queue, agents, tasks):
    pollers = [make_user(f"poller-{uuid.uuid4().hex[:8]}", "agent") for _ in range(agents)]
    task_ids = [new_task(services, alice) for _ in range(tasks)]
    for task_id in task_ids:
        services.dispatch.enqueue(alice, task_id, queue)
    taken: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(agents)

    def poll(identity: Identity) -> None:
        start.wait()
        try:
            while True:
                got = services.dispatch.take(identity, queue)
                if got is None:
                    if not services.stores.queue_entries.counts([queue])[queue]:
                        return
                    continue  # every remaining entry was being taken by another agent (PostgreSQL)
                with lock:
                    taken.append(got[0].task)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    duplicates = [task for task, n in Counter(taken).items() if n > 1]
    assert duplicates == []
    assert sorted(taken) == sorted(task_ids)


def test_owners_stopping_tasks_while_agents_take_them_never_deadlock(services: Services, make_user, alice, queue):
    pollers = [make_user(f"racer-{uuid.uuid4().hex[:8]}", "agent") for _ in range(10)]
    task_ids = [new_task(services, alice) for _ in range(200)]
    for task_id in task_ids:
        services.dispatch.enqueue(alice, task_id, queue)
    taken: list[str] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def take(identity: Identity) -> None:
        try:
            while not done.is_set():
                got = services.dispatch.take(identity, queue)
                if got is not None:
                    taken.append(got[0].task)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    try:
        for task_id in task_ids:  # the owner stops each task, waiting or just taken, and re-enqueues half of them
            services.dispatch.stop(alice, task_id)
            if task_id in task_ids[::2]:
                services.dispatch.enqueue(alice, task_id, queue)
                services.dispatch.stop(alice, task_id)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert {services.tasks.get(alice, t)["status"] for t in task_ids} == {"stopped"}
    assert waiting(services, queue) == []
