"""tasks.delete and tasks.reset and what the task made: its models, events and files (ClearML's documented rules),
in process on SQLite or PostgreSQL (CLEARWAY_TEST_DATABASE)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from clearway.domain.identity import Identity
from clearway.domain.task_outputs import Options
from clearway.errors import InvalidModelId, NotFound, TaskCannotBeDeleted
from clearway.services import Services

FILES = "http://clearway.test/files/"


@pytest.fixture(scope="module")
def owner(make_user: Callable[..., Identity]) -> Identity:
    return make_user("outputs-owner")


def made_task(services: Services, owner: Identity) -> tuple[str, dict[str, str]]:
    """A task with an artifact file, a debug image, a log line, and three output models: a draft, a draft that
    another task uses as input, and (when asked) a published one."""
    task = services.tasks.create(owner, {"name": "maker", "type": "training"})["id"]
    files = {}
    for name in ("artifact.bin", "image.jpg", "draft.pt"):
        key = f"outputs/maker.{task}/{uuid.uuid4().hex[:6]}/{name}"
        upload = services.blobs.begin_upload(owner, key, None)
        upload.write(b"x")
        upload.commit()
        files[name] = FILES + key
    artifact = {"key": "a", "type": "custom", "uri": files["artifact.bin"]}
    services.tasks.mutate(owner, task, lambda doc: {**doc, "execution": {**doc["execution"], "artifacts": [artifact]}})
    image = {"type": "training_debug_image", "task": task, "metric": "m", "variant": "v", "iter": 0}
    services.events.add_batch(owner, [{**image, "url": files["image.jpg"]}, {"type": "log", "task": task, "msg": "hi"}])
    models = {}
    for name, uri in (("draft", files["draft.pt"]), ("shared", "s3://bucket/shared.pt")):
        models[name] = services.models.create(owner, {"name": name, "uri": uri, "task": task})["id"]
        services.models.attach_to_task(owner, task, "output", name, models[name])
    user = services.tasks.create(owner, {"name": "user", "type": "inference"})["id"]
    services.models.attach_to_task(owner, user, "input", "in", models["shared"])
    return task, {**files, **models}


def test_delete_takes_draft_models_and_events_and_tells_the_files(services: Services, owner: Identity):
    task, made = made_task(services, owner)
    outcome = services.task_outputs.delete(owner, task, force=False, options=Options(return_file_urls=True))
    assert (outcome.deleted_models, outcome.deleted_events) == (1, 2)
    assert outcome.urls == {
        "artifact_urls": [made["artifact.bin"]],
        "model_urls": [made["draft.pt"]],
        "event_urls": [made["image.jpg"]],
    }
    assert services.models.get(owner, made["shared"])["name"] == "shared"  # another task's input stays
    with pytest.raises(InvalidModelId):
        services.models.get(owner, made["draft"])
    services.blobs.open(owner, made["artifact.bin"].removeprefix(FILES))  # files stay unless asked for


def test_published_models_stay_and_need_force(services: Services, owner: Identity):
    task, made = made_task(services, owner)
    services.models.set_ready(owner, made["draft"], publish_task=False)
    with pytest.raises(TaskCannotBeDeleted):
        services.task_outputs.reset(owner, task, force=False, clear_all=False, options=Options())
    outcome = services.task_outputs.reset(owner, task, force=True, clear_all=False, options=Options())
    assert (outcome.deleted_models, outcome.urls) == (0, None)
    assert services.models.get(owner, made["draft"])["ready"] is True
    assert services.tasks.get(owner, task)["models"]["output"] == []


def test_files_of_this_server_go_too_when_configured(services: Services, owner: Identity):
    task, made = made_task(services, owner)
    services.task_outputs.delete(owner, task, force=True, options=Options(files_url=FILES))
    for name in ("artifact.bin", "image.jpg", "draft.pt"):
        with pytest.raises(NotFound):
            services.blobs.open(owner, made[name].removeprefix(FILES))
