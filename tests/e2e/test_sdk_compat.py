"""What the official clearml SDK gets right from Clearway, item by item, as a data scientist writes it: the SDK calls
run in one subprocess, and their results are read back from a fresh one (two processes for all the items, to keep
the suite quick); the TriggerScheduler runs in its own. The README's compatibility section links here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api import call, data
from tests.support.clients import client_for
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

LOSSES = [-0.0, -4.0, -1.0, 10.0, 9.0, 2.5]  # ordered as text, they come out wrong

SDK_CALLS = """
import json, sys
from pathlib import Path
from clearml import Dataset, OutputModel, Task

tag = sys.argv[1]
project = f"Compat {tag}"
out = {"children": {}}

# A HyperParameterOptimizer session: the optimizer task and its finished jobs.
optimizer = Task.create(project_name=project, task_name="optimizer", task_type=Task.TaskTypes.optimizer)
out["optimizer"] = optimizer.id
for loss in LOSSES:
    child = Task.create(project_name=project, task_name=f"job {loss}")
    child.set_parent(optimizer)
    child.mark_started()
    child.get_logger().report_scalar("val", "loss", value=loss, iteration=0)
    child.flush(wait_for_uploads=True)
    child.mark_completed()
    out["children"][child.id] = loss

properties = Task.create(project_name=project, task_name="with properties")
properties.set_user_properties(owner="alice", stage={"value": "2", "description": "rollout stage"})
out["properties"] = properties.id

task = Task.init(project_name=project, task_name="trainer", output_uri=True)
for stage in ("prod", "dev"):
    model = OutputModel(task=task, name=f"{stage} model")
    model.update_weights(register_uri=f"file:///models/{stage}.bin")
    model.set_metadata("stage", stage, "str")
Path("weights.bin").write_bytes(b"real weights " * 1000)
published = OutputModel(task=task, name="published model")
published.update_weights(weights_filename="weights.bin")  # uploads in the background (the default)
published.publish()  # at once, before the upload is done
out["published"] = published.id
# Debug images: three iterations of one series, and a second series at the last one.
import numpy as np
for iteration in range(3):
    image = np.full((8, 8, 3), 60 * iteration, dtype=np.uint8)
    task.get_logger().report_image("samples", "digit", iteration=iteration, image=image)
task.get_logger().report_image("samples", "other", iteration=2, image=np.zeros((4, 4, 3), dtype=np.uint8))
task.flush(wait_for_uploads=True)
out["trainer"] = task.id
task.close()

for name in ("keep", "drop"):
    Path(name).mkdir()
    (Path(name) / "data.txt").write_text(name)
    dataset = Dataset.create(dataset_project=f"{project} data", dataset_name=name)
    dataset.add_files(name)
    dataset.upload()
    dataset.finalize()
Dataset.delete(dataset_project=f"{project} data", dataset_name="drop")
print("SETUP", json.dumps(out))
""".replace("LOSSES", repr(LOSSES))

READ_BACK = """
import json, sys
from clearml import Dataset, Model, Task
from clearml.automation import HyperParameterOptimizer
from clearml.backend_api.services import tasks
from clearml.backend_interface.util import datetime_from_isoformat

setup, tag = json.loads(sys.argv[1]), sys.argv[2]
project = f"Compat {tag}"
out = {}

def top(sign):
    found = HyperParameterOptimizer.get_optimizer_top_experiments(
        objective_metric_title="val", objective_metric_series="loss", objective_metric_sign=sign,
        optimizer_task_id=setup["optimizer"], top_k=3,
    )
    return [setup["children"][t.id] for t in found]

out["top_min"], out["top_max"] = top("min"), top("max")
# What HyperParameterOptimizer's reporting thread does with the time a job completed.
job = Task.get_task(task_id=next(iter(setup["children"])))
completed = job.send(tasks.GetByIdRequest(task=job.id)).response_data["task"]["completed"]
out["completed"] = datetime_from_isoformat(completed.partition("+")[0]).isoformat()
out["properties"] = Task.get_task(task_id=setup["properties"]).get_user_properties(value_only=True)
out["prod_models"] = [m.name for m in Model.query_models(project_name=project, metadata={"stage": "prod"})]
published = Model(model_id=setup["published"])
with open(published.get_local_copy(), "rb") as weights:
    out["published"] = {"ready": published.published, "url": published.url, "weights": weights.read(12).decode()}
out["datasets"] = sorted(d["name"] for d in Dataset.list_datasets(dataset_project=f"{project} data"))
out["search_text"] = [t.name for t in Task.get_tasks(project_name=project, task_filter={"search_text": "properties"})]
# More iterations asked for than there are: the SDK scrolls on until an answer has none.
samples = Task.get_task(task_id=setup["trainer"]).get_debug_samples("samples", "digit", n_last_iterations=5)
out["debug_samples"] = [[s["variant"], s["iter"], s["url"]] for s in samples]
print("RESULT", json.dumps(out))
"""


@pytest.fixture(scope="module")
def sdk(server: ServerProcess, alice: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The SDK calls of every item below, then what a fresh process reads back, with both processes' output."""
    tag = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("sdk-compat")
    calls = run_sdk(SDK_CALLS, alice, work / "calls", tag)
    setup = json.loads(last_line_value(calls.stdout, "SETUP"))
    read = run_sdk(READ_BACK, alice, work / "read", json.dumps(setup), tag)
    output = calls.stdout + calls.stderr + read.stdout + read.stderr
    return {"setup": setup, "output": output, **json.loads(last_line_value(read.stdout, "RESULT"))}


def test_a_model_published_during_its_background_upload_gets_its_weights(sdk, server: ServerProcess):
    """Issue 10, item 1: the upload's callback sets the real uri on the already published model."""
    published = sdk["published"]
    assert published["ready"] is True
    assert published["url"].startswith(f"{server.url}/files/") and published["url"].endswith("/weights.bin")
    assert published["weights"] == "real weights"


def test_user_properties_read_back(sdk):
    """Item 2: tasks.get_hyper_params."""
    assert sdk["properties"] == {"owner": "alice", "stage": "2"}


def test_dataset_delete_by_name_deletes_that_dataset_only(sdk):
    """Item 3: search_text finds no dataset depending on the one deleted, so the SDK goes ahead."""
    assert sdk["datasets"] == ["keep"]
    assert "Failed deleting" not in sdk["output"]


def test_get_tasks_with_search_text(sdk):
    assert sdk["search_text"] == ["with properties"]


def test_hyperparameter_optimizer_top_experiments_sort_numbers_as_numbers(sdk):
    """Item 4: order_by -last_metrics.<m>.<v>.value."""
    assert sdk["top_min"] == [-4.0, -1.0, -0.0]
    assert sdk["top_max"] == [10.0, 9.0, 2.5]


def test_query_models_by_metadata(sdk):
    """Item 5: models.get_all filters on metadata.<key>.value."""
    assert sdk["prod_models"] == ["prod model"]


def test_timestamps_parse_with_the_sdks_own_parser(sdk):
    """Item 6: the reporting thread of HyperParameterOptimizer parses them with datetime_from_isoformat."""
    assert sdk["completed"].startswith("20")


def test_the_sdk_parses_every_answer(sdk):
    """Item 7: a field of the wrong type makes the SDK log "Failed parsing response" (tasks.delete's deleted)."""
    assert "Failed parsing response" not in sdk["output"]


TRIGGER = """
import json, sys, threading, time
from pathlib import Path
from clearml import Task
from clearml.automation import TriggerScheduler
from clearml.backend_api.session.client import APIClient

tag = sys.argv[1]
project = f"Triggers {tag}"
APIClient().queues.create(name=f"triggered {tag}")
before = Task.create(project_name=project, task_name="finished before the scheduler started")
before.mark_started()
before.mark_completed()
template = Task.create(project_name=project, task_name="template")

scheduler = TriggerScheduler(pooling_frequency_minutes=0.02, force_create_task_project=project)
scheduler.add_task_trigger(
    name="on completion",
    schedule_task_id=template.id,
    schedule_queue=f"triggered {tag}",
    trigger_project=project,
    trigger_on_status=["completed"],
    task_parameters={"General/source": "${task.id}"},
    add_tag="triggered",
)
threading.Thread(target=scheduler.start, daemon=True).start()

def wait_for(done, what):
    deadline = time.monotonic() + 90
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)

wait_for(lambda: all(t.last_update for t in scheduler.get_triggers()), "the scheduler's first look")
after = Task.create(project_name=project, task_name="finished after")
after.mark_started()
after.mark_completed()
wait_for(lambda: Task.get_tasks(project_name=project, tags=["triggered"]), "the trigger")
# A file, not stdout: the scheduler's thread prints to stdout at any moment.
Path("trigger.json").write_text(json.dumps({"before": before.id, "after": after.id}))
"""

FIRED = """
import json, sys
from clearml import Task
launched = Task.get_tasks(project_name=f"Triggers {sys.argv[1]}", tags=["triggered"])
print("FIRED", json.dumps([t.get_parameters().get("General/source") for t in launched]))
"""


def test_trigger_scheduler_fires_only_for_tasks_finished_after_it_started(alice: dict[str, str], tmp_path: Path):
    """Item 3: the _or_ {fields, datetime} filter (last_update or last_change after the scheduler's last look)."""
    tag = uuid.uuid4().hex[:8]
    run_sdk(TRIGGER, alice, tmp_path / "trigger", tag)
    tasks = json.loads((tmp_path / "trigger" / "trigger.json").read_text())
    fired = json.loads(last_line_value(run_sdk(FIRED, alice, tmp_path / "fired", tag).stdout, "FIRED"))
    assert fired == [tasks["after"]]


def test_debug_images_reported_by_the_sdk_are_listed_and_served(sdk, server: ServerProcess, alice: dict[str, str]):
    """``report_image``: the image goes to the file server, its event to events.debug_images, newest first."""
    task_id = sdk["setup"]["trainer"]
    with client_for(server, alice) as client:
        body = {"metrics": [{"task": task_id, "metric": "samples"}], "iters": 2}
        (metric,) = data(call(client, "events.debug_images", body))["metrics"]
        assert (metric["task"], metric["metric"]) == (task_id, "samples")
        shown = {it["iter"]: sorted(e["variant"] for e in it["events"]) for it in metric["iterations"]}
        assert list(shown) == [2, 1] and shown == {2: ["digit", "other"], 1: ["digit"]}
        for event in (e for it in metric["iterations"] for e in it["events"]):
            assert (event["task"], event["metric"], event["type"]) == (task_id, "samples", "training_debug_image")
            assert event["url"].startswith(f"{server.url}/files/"), event
            image = client.get(event["url"])
            assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff", event["url"]  # a JPEG
        everything = data(call(client, "events.debug_images", {**body, "iters": 10}))["metrics"][0]["iterations"]
        assert [it["iter"] for it in everything] == [2, 1, 0]
    # The SDK's own reader: one series (its variant filter), every iteration once, newest first.
    assert [(variant, iteration) for variant, iteration, _ in sdk["debug_samples"]] == [
        ("digit", 2), ("digit", 1), ("digit", 0)
    ]  # fmt: skip
    assert all(url.startswith(f"{server.url}/files/") for _, _, url in sdk["debug_samples"])
