"""models.* and the task/model lineage, over raw HTTP as the SDK sends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import call, data, error
from tests.support.files import login
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bob(server: ServerProcess) -> Iterator[httpx.Client]:
    token = login(server, server.user(f"bob-{uuid.uuid4().hex[:6]}"))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def new_task(api: httpx.Client, project: str, name: str = "train") -> str:
    task = data(call(api, "tasks.create", {"name": name, "type": "training", "project": project}))["id"]
    data(call(api, "tasks.started", {"task": task}))
    return task


@pytest.fixture
def project(api: httpx.Client) -> str:
    return data(call(api, "projects.create", {"name": f"models-{uuid.uuid4().hex[:8]}"}))["id"]


def create_model(api: httpx.Client, **fields: object) -> str:
    body = {"uri": "http://files/uploading_file", "name": "Anonymous model", "labels": {}, "ready": False, **fields}
    answer = data(call(api, "models.create", {**body, "public": False, "method": "get"}))
    assert answer["created"] is True
    return answer["id"]


def get_model(api: httpx.Client, model_id: str) -> dict:
    return data(call(api, "models.get_by_id", {"model": model_id}))["model"]


def test_the_sdk_sequence_create_edit_attach_publish(api: httpx.Client, project: str) -> None:
    task = new_task(api, project)
    model = create_model(api, project=project)
    doc = get_model(api, model)
    assert doc["ready"] is False and doc["labels"] == {} and doc["project"] == project
    assert isinstance(doc["user"], str) and isinstance(doc["company"], str) and doc["created"] and doc["last_update"]

    edit = {"name": "Training", "framework": "PyTorch", "design": {"design": ""}, "task": task, "tags": []}
    data(call(api, "models.edit", {"model": model, **edit}))
    data(call(api, "tasks.add_or_update_model", {"task": task, "name": "model", "model": model, "type": "output"}))
    data(call(api, "models.edit", {"model": model, "uri": "http://files/P/T/models/model.pth", "iteration": 1}))

    assert [m["model"] for m in data(call(api, "tasks.get_by_id", {"task": task}))["task"]["models"]["output"]] == [
        model
    ]
    listed = data(call(api, "models.get_all", {"task": [task], "only_fields": ["id"], "order_by": ["created"]}))
    assert listed["models"] == [{"id": model}]

    data(call(api, "tasks.completed", {"task": task}))
    data(call(api, "tasks.publish", {"task": task}))
    doc = get_model(api, model)
    assert (doc["ready"], doc["framework"], doc["task"], doc["iteration"]) == (True, "PyTorch", task, 1)
    assert doc["uri"] == "http://files/P/T/models/model.pth"

    # As on ClearML's server, a published model's fields still change, its weights included: the SDK's background
    # upload sets the real uri after an immediate publish().
    data(call(api, "models.edit", {"model": model, "uri": "http://files/P/T/models/final.pth", "comment": "final"}))
    assert (get_model(api, model)["uri"], get_model(api, model)["ready"]) == ("http://files/P/T/models/final.pth", True)


def test_get_all_filters(api: httpx.Client, project: str) -> None:
    task = new_task(api, project)
    first = create_model(api, project=project, task=task, framework="PyTorch")
    second = create_model(api, project=project, framework="ScikitLearn", ready=True)
    data(call(api, "models.archive_many", {"ids": [second]}))

    def ids(**query: object) -> list[str]:
        return [m["id"] for m in data(call(api, "models.get_all", {"project": [project], **query}))["models"]]

    assert ids(order_by=["created"]) == [first, second]
    assert ids(system_tags=["-archived"], order_by=["-created"], only_fields=["id", "created", "system_tags"]) == [
        first
    ]
    assert ids(ready=True) == [second]
    assert ids(framework=["PyTorch"]) == [first]
    assert ids(task=[task]) == [first]
    assert ids(page=1, page_size=1, order_by=["created"]) == [second]
    assert ids(page=2, page_size=1) == []
    data(call(api, "models.unarchive_many", {"ids": [second]}))
    assert ids(system_tags=["-archived"]) and second in ids(system_tags=["-archived"])


def test_set_ready_can_publish_the_task(api: httpx.Client, project: str) -> None:
    task = new_task(api, project)
    model = create_model(api, task=task)
    assert get_model(api, model)["project"] == project  # taken from the task
    data(call(api, "tasks.completed", {"task": task}))
    answer = data(call(api, "models.set_ready", {"model": model}))
    assert answer["updated"] == 1 and answer["published_task"]["id"] == task
    assert data(call(api, "tasks.get_by_id", {"task": task}))["task"]["status"] == "published"

    other = create_model(api, task=new_task(api, project))
    answer = data(call(api, "models.set_ready", {"model": other, "publish_task": False}))
    assert answer == {"updated": 1, "published_task": None}


def test_delete_needs_force_once_published_and_unlinks_the_task(api: httpx.Client, project: str) -> None:
    task = new_task(api, project)
    model = create_model(api, task=task, uri="http://files/m.pth")
    data(call(api, "tasks.add_or_update_model", {"task": task, "name": "m", "model": model, "type": "output"}))
    data(call(api, "models.set_ready", {"model": model, "publish_task": False}))
    assert error(call(api, "models.delete", {"model": model}))[:2] == (400, 203)
    assert data(call(api, "models.delete", {"model": model, "force": True})) == {
        "deleted": True,
        "url": "http://files/m.pth",
    }
    assert error(call(api, "models.get_by_id", {"model": model}))[:2] == (400, 201)
    assert data(call(api, "tasks.get_by_id", {"task": task}))["task"]["models"]["output"] == []
    many = data(call(api, "models.delete_many", {"ids": [model]}))
    assert many["succeeded"] == [] and many["failed"][0]["error"]["codes"] == [400, 201]


def test_update_for_task_and_metadata(api: httpx.Client, project: str) -> None:
    task = new_task(api, project, name="legacy")
    answer = data(call(api, "models.update_for_task", {"task": task, "uri": "http://files/w.bin", "iteration": 3}))
    assert answer["created"] is True
    model = answer["id"]
    assert data(call(api, "models.get_by_task_id", {"task": task}))["model"]["id"] == model
    again = data(call(api, "models.update_for_task", {"task": task, "uri": "http://files/w2.bin"}))
    assert (again["id"], again["created"]) == (model, False)
    assert get_model(api, model)["uri"] == "http://files/w2.bin"

    items = [{"key": "epochs", "type": "int", "value": "3"}, {"key": "owner", "type": "str", "value": "me"}]
    data(call(api, "models.add_or_update_metadata", {"model": model, "metadata": items}))
    data(call(api, "models.delete_metadata", {"model": model, "keys": ["owner"]}))
    assert get_model(api, model)["metadata"] == {"epochs": {"key": "epochs", "type": "int", "value": "3"}}


def test_other_users_models_are_invisible(api: httpx.Client, bob: httpx.Client, project: str) -> None:
    task = new_task(api, project)
    model = create_model(api, task=task)
    assert error(call(bob, "models.get_by_id", {"model": model}))[:2] == (400, 201)
    assert data(call(bob, "models.get_all", {"id": [model]}))["models"] == []
    assert error(call(bob, "models.edit", {"model": model, "name": "mine"}))[:2] == (400, 201)
    assert error(call(bob, "models.delete", {"model": model, "force": True}))[:2] == (400, 201)
    # Nobody links a model they cannot see, and nobody links to a task they cannot see.
    bobs_project = data(call(bob, "projects.create", {"name": f"bob-{uuid.uuid4().hex[:6]}"}))["id"]
    bobs_task = new_task(bob, bobs_project)
    attach = {"task": bobs_task, "name": "stolen", "model": model, "type": "input"}
    assert error(call(bob, "tasks.add_or_update_model", attach))[:2] == (400, 201)
    assert error(call(bob, "models.create", {"uri": "x", "name": "n", "task": task}))[:2] == (400, 101)
    assert get_model(api, model)["name"] == "Anonymous model"
