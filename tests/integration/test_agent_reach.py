"""What an agent may do with other users' work, and for how long it may act for a task's owner (issue 9,
vulnerabilities 1 and 2 and the agent's reach), in process, on SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from clearway.auth.sessions import Session
from clearway.domain.allowlists import AddressPolicy
from clearway.domain.identity import Identity
from clearway.domain.sharing import GranteeType, ShareMode
from clearway.domain.task_status import Status
from clearway.errors import Forbidden, InvalidProjectId, InvalidTaskId
from clearway.services import Services

Refused = (Forbidden, InvalidTaskId, InvalidProjectId)


@pytest.fixture
def cast(services: Services, make_user: Callable[..., Identity]) -> dict[str, Identity]:
    tag = uuid.uuid4().hex[:6]
    return {
        "admin": make_user(f"reach-admin-{tag}", "admin"),
        "alice": make_user(f"reach-alice-{tag}"),
        "bob": make_user(f"reach-bob-{tag}"),
        "agent": make_user(f"reach-agent-{tag}", "agent"),
    }


@pytest.fixture
def queue(services: Services, cast: dict[str, Identity]) -> str:
    queue_id = services.queues.create(cast["admin"], {"name": f"reach-{uuid.uuid4().hex[:8]}"})["id"]
    services.workers.register(cast["agent"], f"gpu-{uuid.uuid4().hex[:6]}", queues=[queue_id])
    return queue_id


def task_in(services: Services, owner: Identity, project: str | None = None, **fields) -> str:
    return services.tasks.create(owner, {"name": "t", "type": "training", "project": project, **fields})["id"]


def run(services: Services, cast: dict[str, Identity], queue: str, task_id: str) -> None:
    """The owner sends the task; the agent takes it and starts it, as clearml-agent does."""
    services.dispatch.enqueue(cast["alice"], task_id, queue)
    entry, _ = services.dispatch.take(cast["agent"], queue)
    assert entry.task == task_id
    services.tasks.change_status(cast["agent"], task_id, Status.IN_PROGRESS, force=True)


def store_file(services: Services, who: Identity, path: str) -> None:
    upload = services.blobs.begin_upload(who, path, None)
    upload.write(b"bytes")
    upload.commit()


def acting(services: Services, agent: Identity, owner: Identity, task_id: str | None = None) -> Identity | None:
    """What a login with X-Clearml-Impersonate-As gives (``task_id`` None), or a token for ``task_id`` gives."""
    session = services.auth.sessions.acting_for(Session(agent, AddressPolicy()), owner.user_id, task_id)
    return session.identity if session is not None else None


def test_an_agent_cannot_send_a_users_task_to_its_own_queue(services: Services, cast, queue):
    """Vulnerability 1: a completed task that once went through a queue is the owner's to enqueue, not the
    agent's, through every path that queues a task."""
    done = task_in(services, cast["alice"])
    run(services, cast, queue, done)
    services.tasks.change_status(cast["agent"], done, Status.COMPLETED)
    name = services.queues.get(cast["admin"], queue)["name"]
    for enqueue in (
        lambda: services.dispatch.enqueue(cast["agent"], done, queue),
        lambda: services.dispatch.enqueue(cast["agent"], done, queue_name=name),
    ):
        with pytest.raises(Refused):
            enqueue()
    assert services.tasks.get(cast["alice"], done)["status"] == "completed"
    assert acting(services, cast["agent"], cast["alice"]) is None
    # The owner may, and so may an admin and a read-write sharer of its project; a plain user may not.
    project = services.projects.create(cast["alice"], {"name": f"p-{uuid.uuid4().hex[:6]}"})["id"]
    shared = task_in(services, cast["alice"], project)
    with pytest.raises(Refused):
        services.dispatch.enqueue(cast["bob"], shared, queue)
    services.sharing.share(cast["admin"], project, GranteeType.USER, cast["bob"].user_id, ShareMode.WRITE)
    services.auth.sessions._cache.clear()
    bob = services.auth.sessions.for_user(cast["bob"].user_id)
    assert bob is not None and services.dispatch.enqueue(bob.identity, shared, queue)["status"] == "queued"
    assert services.dispatch.enqueue(cast["admin"], done, queue)["status"] == "queued"


def test_an_agent_changes_only_the_tasks_it_holds_and_never_their_projects(services: Services, cast, queue):
    project = services.projects.create(cast["alice"], {"name": f"p-{uuid.uuid4().hex[:6]}"})["id"]
    waiting, running = task_in(services, cast["alice"], project), task_in(services, cast["alice"], project)
    elsewhere = services.queues.create(cast["admin"], {"name": f"later-{uuid.uuid4().hex[:8]}"})["id"]
    services.dispatch.enqueue(cast["alice"], waiting, elsewhere)
    run(services, cast, queue, running)
    agent = cast["agent"]
    assert services.tasks.get(agent, waiting)["id"] == waiting  # it sees what waits in queues
    with pytest.raises(Refused):
        services.tasks.edit(agent, waiting, {"comment": "mine now"}, force=True)
    services.tasks.edit(agent, running, {"comment": "running here"}, force=True)
    assert services.projects.get(agent, project)["id"] == project
    with pytest.raises(Refused):  # the project of a running task is read-only for it: its outputs stay the owner's
        services.projects.update(agent, project, {"default_output_destination": "s3://evil/bucket"})
    assert services.projects.get(cast["alice"], project)["default_output_destination"] is None
    services.tasks.change_status(agent, running, Status.COMPLETED)
    with pytest.raises(Refused):  # done: no longer its to change
        services.tasks.edit(agent, running, {"comment": "later"}, force=True)


def test_acting_for_the_owner_is_for_the_task_held_and_ends_with_it(services: Services, cast, queue):
    """Vulnerability 2: the grant is bound to the task, checked again on use, and ends when the agent no longer
    holds it: the task finishes, goes back to a queue, or the agent's workers are gone."""
    agent, alice = cast["agent"], cast["alice"]
    project = services.projects.create(alice, {"name": f"runs-{uuid.uuid4().hex[:6]}"})["id"]
    other_project = services.projects.create(alice, {"name": f"private-{uuid.uuid4().hex[:6]}"})["id"]
    private = task_in(services, alice, other_project)
    task_id = task_in(services, alice, project)
    assert acting(services, agent, alice) is None  # queued is not enough: the agent must have taken it
    run(services, cast, queue, task_id)
    me = acting(services, agent, alice)
    assert me is not None and (me.user_id, me.role.value, me.acting_task) == (alice.user_id, "user", task_id)
    assert acting(services, agent, cast["bob"]) is None
    assert acting(services, cast["bob"], alice) is None

    # It reads as the owner (datasets, other tasks), but writes only its task and what is in the task's project.
    assert services.tasks.get(me, private)["id"] == private
    with pytest.raises(Refused):
        services.tasks.edit(me, private, {"comment": "x"}, force=True)
    with pytest.raises(Refused):
        services.dispatch.enqueue(me, private, queue)
    services.tasks.edit(me, task_id, {"comment": "ran"}, force=True)
    sibling = task_in(services, me, project)  # a pipeline step, a dataset: inside the task's project
    model = services.models.create(me, {"name": "out", "uri": "http://files/x", "task": task_id})
    assert model["project"] == project
    services.projects.create(me, {"name": services.projects.get(me, project)["name"] + "/.datasets/d"})
    for forbidden in (
        lambda: task_in(services, me),  # nowhere
        lambda: task_in(services, me, other_project),
        lambda: services.projects.create(me, {"name": f"elsewhere-{uuid.uuid4().hex[:6]}"}),
        lambda: services.projects.update(me, project, {"default_output_destination": "s3://evil"}),
        lambda: services.models.create(me, {"name": "m", "uri": "http://x", "project": other_project}),
    ):
        with pytest.raises(Refused):
            forbidden()
    assert services.tasks.get(alice, sibling)["user"] == alice.user_id

    # Checked again by task: the token's task must still be held.
    assert acting(services, agent, alice, task_id) is not None
    assert acting(services, agent, alice, private) is None
    services.tasks.change_status(agent, task_id, Status.COMPLETED)
    services.auth.sessions._cache.clear()  # (the few seconds of caching, passed)
    assert acting(services, agent, alice, task_id) is None
    assert acting(services, agent, alice) is None


@pytest.mark.parametrize("ending", ["dequeued", "re-enqueued", "stopped", "worker unregistered"])
def test_the_grant_ends_when_the_agent_lets_go_of_the_task(services: Services, cast, queue, ending: str):
    agent, alice = cast["agent"], cast["alice"]
    task_id = task_in(services, alice)
    services.dispatch.enqueue(alice, task_id, queue)
    assert services.dispatch.take(agent, queue) is not None  # taken, not yet started: held
    assert acting(services, agent, alice, task_id) is not None
    if ending == "dequeued":
        services.dispatch.dequeue(agent, task_id)
    elif ending == "re-enqueued":
        services.dispatch.enqueue(alice, task_id, queue)
    elif ending == "stopped":
        services.dispatch.stop(alice, task_id, force=True)
    else:
        for worker in services.workers.list(cast["admin"]):
            if worker["user"]["id"] == agent.user_id:
                services.workers.unregister(agent, worker["id"])
    services.auth.sessions._cache.clear()
    assert acting(services, agent, alice, task_id) is None
    with pytest.raises(Refused):
        services.tasks.edit(agent, task_id, {"comment": "still mine?"}, force=True)


def test_once_a_worker_reports_the_task_the_grant_lives_only_as_long_as_that_worker(services: Services, cast, queue):
    agent, alice = cast["agent"], cast["alice"]
    task_id = task_in(services, alice)
    run(services, cast, queue, task_id)
    runner, idle = f"runner-{uuid.uuid4().hex[:6]}", f"idle-{uuid.uuid4().hex[:6]}"
    services.workers.register(agent, idle, queues=[queue])
    services.workers.status_report(agent, runner, {"queues": [queue], "task": task_id, "queue": queue})
    assert acting(services, agent, alice, task_id) is not None
    services.workers.unregister(agent, runner)
    services.auth.sessions._cache.clear()
    assert acting(services, agent, alice, task_id) is None  # another worker of the agent alive is not enough


def test_acting_for_the_owner_writes_files_only_into_its_tasks_folders(services: Services, cast, queue):
    agent, alice = cast["agent"], cast["alice"]
    runs = services.projects.create(alice, {"name": f"files-{uuid.uuid4().hex[:6]}"})
    private = services.projects.create(alice, {"name": f"secret-{uuid.uuid4().hex[:6]}"})
    task_id, other = task_in(services, alice, runs["id"]), task_in(services, alice, private["id"])
    mine = f"{runs['name']}/t.{task_id}/artifacts/a.txt"
    hers = f"{private['name']}/t.{other}/artifacts/b.txt"
    for path in (hers, "notes/n.txt"):
        store_file(services, alice, path)
    run(services, cast, queue, task_id)
    me = acting(services, agent, alice)
    assert me is not None
    store_file(services, me, mine)
    assert services.blobs.open(alice, mine)[0].namespace == alice.user_id  # in the owner's folder, read by her
    assert services.blobs.open(me, hers)[0].path == hers  # it reads her files (datasets, inputs)
    for path in (hers, "notes/n.txt", "anything/else.txt"):
        with pytest.raises(Forbidden):
            services.blobs.begin_upload(me, path, None)
    with pytest.raises(Forbidden):
        services.blobs.delete(me, hers)
