"""Domain events, in process on the suite's database: emitted with the change, routed by the access rules, each
sequenced and routed exactly once however many notifiers run."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from clearway.domain.access import may_read_record, read_scope
from clearway.domain.audit import Action
from clearway.domain.identity import Identity
from clearway.domain.queue_alerts import QueueAlerts
from clearway.domain.sharing import GranteeType, ShareMode
from clearway.domain.task_status import Status
from clearway.domain.watchdog import Watchdog
from clearway.errors import Forbidden, InvalidProjectId, InvalidTaskStatus, ValidationFailed
from clearway.services import Services
from clearway.store.notifications import OutboxEvent
from clearway.timeutil import utcnow

GPU_IDLE = {"gpu_usage": [0.0, 3.0], "gpu_memory_used": [100.0, 100.0], "gpu_memory_free": [15900.0, 15900.0]}
GPU_ONE_BUSY = {"gpu_usage": [97.0, 3.0], "gpu_memory_used": [9000.0, 100.0], "gpu_memory_free": [7000.0, 15900.0]}


@pytest.fixture(scope="module")
def people(make_user: Callable[..., Identity]) -> dict[str, Identity]:
    tag = uuid.uuid4().hex[:6]
    return {
        "admin": make_user(f"n-admin-{tag}", "admin"),
        "alice": make_user(f"n-alice-{tag}"),
        "bob": make_user(f"n-bob-{tag}"),
        "agent": make_user(f"n-agent-{tag}", "agent"),
        "stranger": make_user(f"n-stranger-{tag}", "admin", org=f"n-other-{tag}"),
    }


def routed(services: Services) -> list[OutboxEvent]:
    """Route everything waiting in the outbox; the events routed."""
    start = services.stores.outbox.last_position()
    while services.notifier.route_once():
        pass
    return services.stores.outbox.after(start, 10_000)


def about(events: list[OutboxEvent], subject_id: str) -> list[str]:
    return [event.kind for event in events if event.subject_id == subject_id]


def delivered_to(services: Services, subscription: dict) -> list[tuple[str, str | None]]:
    org = services.stores.subscriptions.get(subscription["org_id"], None, subscription["id"])
    assert org is not None
    return [
        (d.event.kind, d.event.subject_id)
        for d in services.stores.subscriptions.deliveries(org["org_id"], None, None, 1000)
        if d.subscription_id == subscription["id"]
    ]


def subscribe(services: Services, who: Identity, **fields) -> dict:
    made = services.subscriptions.create(who, {"channel": "webhook", "url": "https://93.184.215.14/hook", **fields})
    return {**made, "org_id": who.org_id}


def test_a_task_run_emits_its_status_changes_in_order(services: Services, people):
    admin, alice, agent = people["admin"], people["alice"], people["agent"]
    queue = services.queues.create(admin, {"name": f"n-{uuid.uuid4().hex[:8]}"})["id"]
    task = services.tasks.create(alice, {"name": "run", "type": "training"})["id"]
    services.dispatch.enqueue(alice, task, queue)
    services.workers.register(agent, f"n-w-{uuid.uuid4().hex[:6]}", queues=[queue])  # a task is held by a worker
    services.dispatch.take(agent, queue)
    services.dispatch.dequeue(agent, task, "in_progress")
    services.tasks.change_status(agent, task, Status.IN_PROGRESS)  # the agent says so again: no second event
    services.tasks.change_status(agent, task, Status.COMPLETED)
    services.tasks.change_status(alice, task, Status.PUBLISHED)
    events = routed(services)
    assert about(events, task) == [
        "task.created",
        "task.queued",
        "task.started",
        "task.completed",
        "task.published",
    ]
    completed = next(e for e in events if e.subject_id == task and e.kind == "task.completed")
    assert completed.org_id == alice.org_id and completed.owner_id == alice.user_id
    assert completed.data["task"]["previous_status"] == "in_progress" and completed.data["task"]["queue"] == queue


def test_a_refused_change_or_a_return_to_an_earlier_status_emits_nothing(services: Services, people):
    admin, alice = people["admin"], people["alice"]
    queue = services.queues.create(admin, {"name": f"n-{uuid.uuid4().hex[:8]}"})["id"]
    task = services.tasks.create(alice, {"name": "refused", "type": "training"})["id"]
    services.tasks.change_status(alice, task, Status.COMPLETED, force=True)
    routed(services)
    with pytest.raises(InvalidTaskStatus):
        services.tasks.change_status(alice, task, Status.STOPPED)  # completed -> stopped: not without force
    services.dispatch.enqueue(alice, task, queue)
    services.dispatch.dequeue(alice, task)  # back to completed: not completed again
    assert about(routed(services), task) == ["task.queued"]


def test_an_event_reaches_only_subscribers_who_may_read_the_task(services: Services, people):
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    project = services.projects.create(alice, {"name": f"n-shared-{uuid.uuid4().hex[:6]}"})["id"]
    mine = subscribe(services, alice, kinds=["task.*"])
    bobs_all = subscribe(services, bob, kinds=["task.failed"], scope="all")
    admins_all = subscribe(services, admin, kinds=["task.failed"], scope="all")
    with pytest.raises(InvalidProjectId):  # not his project, not shared with him
        subscribe(services, bob, kinds=["task.failed"], projects=[project])
    private = services.tasks.create(alice, {"name": "private", "type": "training", "project": project})["id"]
    services.tasks.change_status(alice, private, Status.FAILED, force=True)
    routed(services)
    assert ("task.failed", private) in delivered_to(services, mine)
    assert ("task.failed", private) in delivered_to(services, admins_all)
    assert ("task.failed", private) not in delivered_to(services, bobs_all)

    services.sharing.share(admin, project, GranteeType.USER, bob.user_id, ShareMode.READ)
    bob_now = services.auth.sessions.for_user(bob.user_id, fresh=True).identity
    bobs_project = subscribe(services, bob_now, kinds=["task.failed"], projects=[project])
    shared = services.tasks.create(alice, {"name": "shared", "type": "training", "project": project})["id"]
    services.tasks.change_status(alice, shared, Status.FAILED, force=True)
    services.auth.sessions.for_user(bob.user_id, fresh=True)  # the router sees the share as a request would
    routed(services)
    assert ("task.failed", shared) in delivered_to(services, bobs_project)
    assert ("task.failed", shared) in delivered_to(services, bobs_all)


def test_workers_and_their_gpus_are_announced(services: Services, people):
    agent = people["agent"]
    worker = f"n-gpu-{uuid.uuid4().hex[:6]}"
    services.workers.status_report(agent, worker, {"machine_stats": GPU_IDLE})
    services.workers.status_report(agent, worker, {"machine_stats": GPU_ONE_BUSY})
    services.workers.status_report(agent, worker, {"machine_stats": GPU_ONE_BUSY})  # no change
    services.workers.status_report(agent, worker, {"machine_stats": GPU_IDLE})
    services.workers.unregister(agent, worker)
    events = routed(services)
    assert about(events, worker) == ["worker.online", "gpu.busy", "gpu.free", "worker.offline"]
    busy = next(e for e in events if e.subject_id == worker and e.kind == "gpu.busy")
    assert busy.data["gpus"] == [0] and busy.data["free"] == 1 and busy.data["total"] == 2

    expiring = f"n-gone-{uuid.uuid4().hex[:6]}"
    services.workers.status_report(agent, expiring, {})
    later = utcnow() + timedelta(seconds=services.workers.timeout_sec + 5)
    watchdog = Watchdog(
        services.stores, worker_timeout_sec=600, task_timeout_sec=7200, retention_days=30, clock=lambda: later
    )
    watchdog.sweep()
    offline = [e for e in routed(services) if e.subject_id == expiring and e.kind == "worker.offline"]
    assert len(offline) == 1 and "stopped reporting" in offline[0].data["reason"]


def test_a_queue_waiting_with_no_worker_is_announced_once(services: Services, people):
    admin, alice, agent = people["admin"], people["alice"], people["agent"]
    queue = services.queues.create(admin, {"name": f"n-stall-{uuid.uuid4().hex[:6]}"})["id"]
    task = services.tasks.create(alice, {"name": "waits", "type": "training"})["id"]
    services.dispatch.enqueue(alice, task, queue)
    later = utcnow() + timedelta(minutes=20)
    alerts = QueueAlerts(services.stores, wait_sec=15 * 60, clock=lambda: later)
    alerts.sweep()
    alerts.sweep()
    assert about(routed(services), queue) == ["queue.stalled"]
    services.workers.status_report(agent, f"n-w-{uuid.uuid4().hex[:6]}", {"queues": [queue]})
    QueueAlerts(services.stores, wait_sec=15 * 60).sweep()  # now: the worker is alive
    assert about(routed(services), queue) == ["queue.recovered"]


def test_security_denials_reach_the_organisations_admins_once(services: Services, people):
    admin, alice, stranger = people["admin"], people["alice"], people["stranger"]
    admins = subscribe(services, admin, kinds=["security.*"])
    with pytest.raises(Forbidden):
        subscribe(services, alice, kinds=["security.*"])
    for _ in range(3):  # a refused address calling in a loop is one alert
        services.audit.record(Action.ADDRESS_DENIED, actor=alice, client_ip="203.0.113.9", outcome="denied")
    services.audit.record(Action.LOGIN_THROTTLED, actor_name=alice.user_name, client_ip="203.0.113.9")
    services.audit.record(Action.ADDRESS_DENIED, actor=stranger, client_ip="203.0.113.9", outcome="denied")
    routed(services)
    kinds = [kind for kind, _ in delivered_to(services, admins)]
    assert kinds.count("security.address_denied") == 1 and kinds.count("security.login_failures") == 1


def test_subscriptions_refuse_what_cannot_be_delivered(services: Services, people):
    alice = people["alice"]
    for fields, words in [
        ({"kinds": ["task.exploded"]}, "unknown event kinds"),
        ({"kinds": []}, "at least one"),
        ({"kinds": ["task.*"], "url": "ftp://example.com/x"}, "only http and https"),
        ({"kinds": ["task.*"], "url": "http://127.0.0.1:9/x"}, "non-public"),
        ({"kinds": ["task.*"], "url": "http://169.254.169.254/latest"}, "non-public"),
        ({"kinds": ["task.*"], "url": "http://[::ffff:10.0.0.1]/x"}, "non-public"),
        ({"kinds": ["task.*"], "url": "not a url"}, "only http and https"),
        ({"kinds": ["task.*"], "scope": "everyone"}, "invalid scope"),
    ]:
        with pytest.raises(ValidationFailed, match=words):
            services.subscriptions.create(alice, {"channel": "webhook", "url": "https://93.184.215.14/", **fields})
    with pytest.raises(ValidationFailed, match="no email channel"):
        services.subscriptions.create(alice, {"channel": "email", "email": "a@example.com", "kinds": ["*"]})
    with pytest.raises(Forbidden):
        services.subscriptions.create(people["agent"], {"channel": "webhook", "url": "https://93.184.215.14/"})


def test_concurrent_notifiers_sequence_and_route_each_event_once(services: Services, people):
    alice = people["alice"]
    sub = subscribe(services, alice, kinds=["task.created"])
    routed(services)
    tasks = [services.tasks.create(alice, {"name": f"c{i}", "type": "training"})["id"] for i in range(60)]
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            while services.notifier.route_once():
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    events = [e for e in services.stores.outbox.after(0, 100_000) if e.subject_id in set(tasks)]
    positions = [e.position for e in events]
    assert len(events) == 60 and len(set(positions)) == 60
    deliveries = [s for _, s in delivered_to(services, sub) if s in set(tasks)]
    assert sorted(deliveries) == sorted(tasks)


def test_the_routers_access_rule_agrees_with_the_stores(services: Services, people, make_user):
    admin, alice, bob, agent, stranger = (people[k] for k in ("admin", "alice", "bob", "agent", "stranger"))
    carol = make_user(f"n-carol-{uuid.uuid4().hex[:6]}")
    tag = uuid.uuid4().hex[:6]
    alices = services.projects.create(alice, {"name": f"n-a-{tag}"})["id"]
    bobs = services.projects.create(bob, {"name": f"n-b-{tag}"})["id"]
    services.sharing.share(admin, alices, GranteeType.USER, bob.user_id, ShareMode.READ)
    services.sharing.share(admin, bobs, GranteeType.USER, alice.user_id, ShareMode.WRITE)
    alice_now = services.auth.sessions.for_user(alice.user_id, fresh=True).identity
    tasks = [
        services.tasks.create(alice_now, {"name": "loose", "type": "training"}),
        services.tasks.create(alice_now, {"name": "in hers", "type": "training", "project": alices}),
        services.tasks.create(alice_now, {"name": "in his", "type": "training", "project": bobs}),
    ]
    owners = {alices: alice.user_id, bobs: bob.user_id}
    for who in (admin, alice, bob, carol, agent, stranger):
        identity = services.auth.sessions.for_user(who.user_id, fresh=True).identity
        for task in tasks:
            rule = may_read_record(
                identity, task["company"], task["user"], task["project"], owners.get(task["project"])
            )
            if rule is not None:
                in_store = services.stores.tasks.get(read_scope(identity), task["id"]) is not None
                assert rule == in_store, (identity.user_name, task["name"])
