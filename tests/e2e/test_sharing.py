"""Privacy between users, and projects shared read-only or read-write with users and groups."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.api import call, data, error
from tests.support.clients import client_for, user_id
from tests.support.files import upload
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    """Shares reach a user's sessions within key_cache_sec: poll with a deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def people(server: ServerProcess) -> Iterator[dict[str, httpx.Client]]:
    tag = uuid.uuid4().hex[:6]
    clients = {
        who: client_for(server, server.user(f"{who}-{tag}", role))
        for who, role in [("owner", "user"), ("friend", "user"), ("stranger", "user"), ("boss", "admin")]
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def work(people: dict[str, httpx.Client]) -> dict[str, str]:
    """The owner's project with a task (with a console line) and a dataset subproject with its own task."""
    owner = people["owner"]
    name = f"shared-{uuid.uuid4().hex[:8]}"
    project = data(call(owner, "projects.create", {"name": name}))["id"]
    task = data(call(owner, "tasks.create", {"name": "train", "type": "training", "project": project}))["id"]
    owner.post("/events.add_batch", content=f'{{"task":"{task}","type":"log","msg":"secret line"}}')
    sub = data(call(owner, "projects.create", {"name": f"{name}/.datasets/data"}))["id"]
    sub_task = data(call(owner, "tasks.create", {"name": "data", "type": "data_processing", "project": sub}))["id"]
    return {"name": name, "project": project, "task": task, "sub": sub, "sub_task": sub_task}


def share(boss: httpx.Client, project: str, grantee: str, mode: str, kind: str = "user") -> None:
    response = boss.put(f"/admin/api/projects/{project}/shares/{kind}/{grantee}", json={"mode": mode})
    assert response.status_code == 200, response.text


def sees_task(client: httpx.Client, task: str) -> bool:
    return call(client, "tasks.get_by_id", {"task": task}).status_code == 200


def test_users_see_only_their_own_work(people, work):
    stranger = people["stranger"]
    assert error(call(stranger, "tasks.get_by_id", {"task": work["task"]}))[:2] == (400, 101)
    assert error(call(stranger, "projects.get_by_id", {"project": work["project"]}))[:2] == (400, 401)
    assert data(call(stranger, "tasks.get_all", {"id": [work["task"]]}))["tasks"] == []
    assert data(call(stranger, "projects.get_all", {"name": work["name"]}))["projects"] == []
    assert error(call(stranger, "events.get_task_log", {"task": work["task"]}))[0] == 400
    assert error(call(stranger, "tasks.edit", {"task": work["task"], "name": "mine now", "force": True}))[0] == 400
    assert data(call(people["boss"], "tasks.get_by_id", {"task": work["task"]}))["task"]["name"] == "train"


def test_a_read_only_share_shows_the_project_its_subprojects_and_everything_in_them(people, work):
    friend, owner, boss = people["friend"], people["owner"], people["boss"]
    share(boss, work["project"], user_id(friend), "read")
    eventually(lambda: sees_task(friend, work["task"]))
    listed = data(call(friend, "tasks.get_all", {"project": [work["project"]], "only_fields": ["id"]}))["tasks"]
    assert [t["id"] for t in listed] == [work["task"]]
    assert sees_task(friend, work["sub_task"])
    log = data(call(friend, "events.get_task_log", {"task": work["task"]}))["events"]
    assert [e["msg"] for e in log] == ["secret line"]
    # ...but nothing in it can be changed, deleted, or added to.
    assert error(call(friend, "tasks.edit", {"task": work["task"], "name": "x", "force": True}))[:2] == (403, 21)
    assert error(call(friend, "tasks.delete", {"task": work["task"], "force": True}))[:2] == (403, 21)
    assert error(call(friend, "projects.delete", {"project": work["project"], "force": True}))[0] == 403
    created = call(friend, "tasks.create", {"name": "intruder", "type": "training", "project": work["project"]})
    assert error(created)[:2] == (400, 401)
    added = friend.post("/events.add_batch", content=f'{{"task":"{work["task"]}","type":"log","msg":"x"}}')
    assert data(added)["added"] == 0
    # The owner still sees exactly its own data; a third user still sees nothing.
    assert len(data(call(owner, "events.get_task_log", {"task": work["task"]}))["events"]) == 1
    assert not sees_task(people["stranger"], work["task"])


def test_a_read_write_share_lets_the_grantee_work_in_the_project(people, work):
    friend, owner, boss = people["friend"], people["owner"], people["boss"]
    share(boss, work["project"], user_id(friend), "write")
    edit = {"task": work["task"], "comment": "hi", "force": True}
    eventually(lambda: call(friend, "tasks.edit", edit).status_code == 200)
    body = {"name": "by friend", "type": "training", "project": work["project"]}
    theirs = data(call(friend, "tasks.create", body))["id"]
    # The owner sees what the grantee put into its project; renaming or deleting the project stays the owner's.
    assert data(call(owner, "tasks.get_by_id", {"task": theirs}))["task"]["name"] == "by friend"
    assert error(call(friend, "projects.update", {"project": work["project"], "name": "taken"}))[0] == 403
    assert error(call(friend, "projects.delete", {"project": work["project"], "force": True}))[0] == 403


def test_a_group_share_reaches_members_and_leaves_with_them(people, work):
    friend, boss = people["friend"], people["boss"]
    group = boss.post("/admin/api/groups", json={"name": f"team-{uuid.uuid4().hex[:6]}"}).json()
    assert boss.put(f"/admin/api/groups/{group['id']}/members/{user_id(friend)}").json()["members"] == [user_id(friend)]
    share(boss, work["project"], group["id"], "read", kind="group")
    eventually(lambda: sees_task(friend, work["task"]))
    assert not sees_task(people["stranger"], work["task"])
    boss.delete(f"/admin/api/groups/{group['id']}/members/{user_id(friend)}")
    eventually(lambda: not sees_task(friend, work["task"]))


def test_unsharing_hides_the_project_again_within_seconds(people, work):
    friend, boss = people["friend"], people["boss"]
    share(boss, work["project"], user_id(friend), "read")
    eventually(lambda: sees_task(friend, work["task"]))
    shares = boss.get(f"/admin/api/projects/{work['project']}/shares").json()
    assert [(s["grantee_id"], s["mode"]) for s in shares] == [(user_id(friend), "read")]
    assert boss.delete(f"/admin/api/projects/{work['project']}/shares/user/{user_id(friend)}").status_code == 204
    eventually(lambda: not sees_task(friend, work["task"]))
    assert data(call(friend, "projects.get_all", {"name": work["name"]}))["projects"] == []


def test_only_admins_share_through_the_admin_api(people, work):
    response = people["owner"].put(
        f"/admin/api/projects/{work['project']}/shares/user/{user_id(people['friend'])}", json={"mode": "read"}
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("forbidden")


def test_a_read_only_share_lets_nothing_be_created_inside_or_attached(server: ServerProcess, people, work):
    """Vulnerability 4 as a class: with a read-only share, nothing is created in the owner's project or attached
    to her task, whichever endpoint is used; the owner's listings stay hers."""
    friend, owner = people["friend"], people["owner"]
    share(people["boss"], work["project"], user_id(friend), "read")
    eventually(lambda: sees_task(friend, work["task"]))
    project, task = work["project"], work["task"]
    own_model = data(call(friend, "models.create", {"name": "mine", "uri": "https://evil/own"}))["id"]
    own_task = data(call(friend, "tasks.create", {"name": "mine", "type": "training"}))["id"]
    attempts = [
        ("models.create", {"name": "evil", "uri": "https://evil/w", "project": project, "task": task}),
        ("models.create", {"name": "evil", "uri": "https://evil/w", "task": task}),
        ("models.create", {"name": "evil", "uri": "https://evil/w", "project": project}),
        ("models.create", {"name": "evil", "uri": "https://evil/w", "project": work["sub"]}),
        ("models.edit", {"model": own_model, "task": task}),
        ("models.edit", {"model": own_model, "project": project}),
        ("models.update", {"model": own_model, "project": project}),
        ("models.update_for_task", {"task": task, "uri": "https://evil/w", "name": "evil"}),
        ("tasks.create", {"name": "evil", "type": "training", "project": project}),
        ("tasks.clone", {"task": task, "new_task_project": project}),
        ("tasks.edit", {"task": own_task, "project": project, "force": True}),
        ("tasks.add_or_update_model", {"task": task, "name": "m", "model": own_model, "type": "output"}),
        ("tasks.add_or_update_artifacts", {"task": task, "artifacts": [{"key": "x", "type": "custom", "uri": "x"}]}),
        ("tasks.enqueue", {"task": task}),
    ]
    for endpoint, body in attempts:
        response = call(friend, endpoint, body)
        assert 400 <= response.status_code < 500, (endpoint, body, response.text)
    added = data(friend.post("/events.add_batch", content=f'{{"task":"{task}","type":"log","msg":"evil"}}'))
    assert added["added"] == 0
    token = friend.headers["Authorization"].removeprefix("Bearer ")
    assert upload(server, token, [(f"{work['name']}/train.{task}/models/evil.pt", b"evil")]).status_code == 403
    models = data(call(owner, "models.get_all", {"project": [project, work["sub"]], "only_fields": ["name"]}))
    assert models["models"] == []
    listed = data(call(owner, "tasks.get_all", {"project": [project], "only_fields": ["name"]}))["tasks"]
    assert [t["name"] for t in listed] == ["train"]
