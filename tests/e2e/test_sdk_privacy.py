"""Privacy through the real SDK: a second user finds nothing of the first user's work; an admin finds all of it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.api import call, data, error
from tests.support.clients import client_for, token_for
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

PRODUCE = """
import sys
from pathlib import Path
from clearml import Dataset, OutputModel, Task

project, secret = sys.argv[1:3]
task = Task.init(project_name=project, task_name="private training", output_uri=True)
task.upload_artifact("secret", artifact_object={"answer": secret}, wait_on_upload=True)
Path("weights.bin").write_bytes(b"private weights")
model = OutputModel(task=task, name="private model", framework="PyTorch")
model.update_weights(weights_filename="weights.bin", auto_delete_file=False)
task.close()
Path("data").mkdir(exist_ok=True)
Path("data/rows.csv").write_text("a,b\\n1,2\\n")
dataset = Dataset.create(dataset_project=project, dataset_name="private data")
dataset.add_files("data")
dataset.upload()
dataset.finalize()
print("IDS", task.id, model.id, dataset.id, task.artifacts["secret"].url)
"""

LOOK = """
import json, sys
from clearml import Dataset, Model, Task

project, task_id, model_id, dataset_id = sys.argv[1:5]


def attempt(action):
    try:
        return action()
    except Exception as exc:  # recorded whole: the test tells a refusal from any other failure
        return {"raised": type(exc).__name__, "message": str(exc)}


found = {
    "get_task": attempt(lambda: Task.get_task(task_id=task_id).id),
    "get_tasks": attempt(lambda: sorted(t.id for t in Task.get_tasks(project_name=project))),
    "query_models": attempt(lambda: [m.id for m in Model.query_models(project_name=project)]),
    "list_datasets": attempt(lambda: [d["id"] for d in Dataset.list_datasets(dataset_project=project)]),
    "dataset_get": attempt(lambda: Dataset.get(dataset_id=dataset_id).id),
}
print("FOUND", json.dumps(found))
"""


@pytest.fixture(scope="module")
def produced(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    project = f"Private {uuid.uuid4().hex[:8]}"
    secret = f"private-answer-{uuid.uuid4().hex}"
    owner = server.user(f"owner-{uuid.uuid4().hex[:6]}")
    out = run_sdk(PRODUCE, owner, tmp_path_factory.mktemp("produce"), project, secret, timeout=300)
    task, model, dataset, url = last_line_value(out.stdout, "IDS").split()
    return {"project": project, "task": task, "model": model, "dataset": dataset, "url": url, "secret": secret}


def look(server: ServerProcess, creds: dict[str, str], produced: dict[str, str], workdir: Path) -> dict:
    args = (produced["project"], produced["task"], produced["model"], produced["dataset"])
    out = run_sdk(LOOK, creds, workdir, *args, timeout=300)
    return json.loads(last_line_value(out.stdout, "FOUND"))


def download(server: ServerProcess, creds: dict[str, str], url: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {token_for(server, creds)}"})


def test_a_second_user_finds_nothing(server: ServerProcess, produced: dict[str, str], tmp_path: Path):
    other = server.user(f"other-{uuid.uuid4().hex[:6]}")
    found = look(server, other, produced, tmp_path)
    # An id the user cannot read is the SDK's "could not be found"; a project name it cannot see finds nothing (the
    # SDK says so in a ValueError for models). Any other failure (a 500, a dropped connection) is not privacy.
    not_found = {"raised": "ValueError", "message": 'Task ID "{}" could not be found'}
    assert found == {
        "get_task": {**not_found, "message": not_found["message"].format(produced["task"])},
        "get_tasks": [],
        "query_models": {
            "raised": "ValueError",
            "message": f"No projects found when searching for `{produced['project']}`",
        },
        "list_datasets": [],
        "dataset_get": {**not_found, "message": not_found["message"].format(produced["dataset"])},
    }
    # The answers the SDK turned into those: the invalid-id error and empty lists, never a server error.
    with client_for(server, other) as raw:
        for task_id in (produced["task"], produced["dataset"]):
            assert error(call(raw, "tasks.get_by_id", {"task": task_id}))[:2] == (400, 101)
        assert data(call(raw, "projects.get_all", {"name": f"^{produced['project']}$"}))["projects"] == []
        assert data(call(raw, "models.get_all", {"id": [produced["model"]]}))["models"] == []
        assert error(call(raw, "models.get_by_id", {"model": produced["model"]}))[:2] == (400, 201)
    response = download(server, other, produced["url"])
    assert response.status_code in (403, 404) and produced["secret"] not in response.text


def test_an_admin_finds_all_of_it(server: ServerProcess, produced: dict[str, str], tmp_path: Path):
    admin = server.user(f"admin-{uuid.uuid4().hex[:6]}", "admin")
    found = look(server, admin, produced, tmp_path)
    assert found["get_task"] == produced["task"]
    assert produced["task"] in found["get_tasks"]
    assert found["query_models"] == [produced["model"]]
    assert found["list_datasets"] == [produced["dataset"]]
    assert found["dataset_get"] == produced["dataset"]
    response = download(server, admin, produced["url"])
    assert response.status_code == 200 and produced["secret"] in response.text


def test_a_shared_project_shows_its_tasks_models_and_datasets(
    server: ServerProcess, produced: dict[str, str], tmp_path: Path
):
    admin = server.user(f"sharer-{uuid.uuid4().hex[:6]}", "admin")
    friend_name = f"friend-{uuid.uuid4().hex[:6]}"
    friend = server.user(friend_name)
    headers = {"Authorization": f"Bearer {token_for(server, admin)}"}
    with httpx.Client(base_url=f"{server.url}/admin/api", headers=headers) as api:
        friend_id = next(u["id"] for u in api.get("/users").json() if u["name"] == friend_name)
        share = api.put(
            f"/projects/{project_id(server, admin, produced)}/shares/user/{friend_id}", json={"mode": "read"}
        )
        assert share.status_code == 200, share.text
    found = look(server, friend, produced, tmp_path)
    assert found["get_task"] == produced["task"] and produced["task"] in found["get_tasks"]
    assert found["query_models"] == [produced["model"]]
    assert found["list_datasets"] == [produced["dataset"]] and found["dataset_get"] == produced["dataset"]
    response = download(server, friend, produced["url"])
    assert response.status_code == 200 and produced["secret"] in response.text


def project_id(server: ServerProcess, admin: dict[str, str], produced: dict[str, str]) -> str:
    headers = {"Authorization": f"Bearer {token_for(server, admin)}"}
    body = {"task": produced["task"]}
    response = httpx.request("GET", f"{server.url}/tasks.get_by_id", json=body, headers=headers)
    return response.json()["data"]["task"]["project"]
