"""The whole course notebook in one process (datasets, training task, artifacts, model, plot, publish) with the
real clearml SDK, then a second process that reads everything back through the API and the file server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

WEIGHTS = bytes(range(256)) * 8

NOTEBOOK = """
import json
from pathlib import Path

import matplotlib.pyplot as plt
from clearml import Dataset, OutputModel, Task

# 1. The data set, then a second version on top of it.
for folder, files in {"v1": {"a.csv": "x,y\\n1,2\\n", "b.txt": "hello"}, "v2": {"c.csv": "x,y\\n3,4\\n"}}.items():
    Path("data", folder).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        Path("data", folder, name).write_text(text)
ds1 = Dataset.create(dataset_project="Snap4Parking", dataset_name="parking")
ds1.add_files(path="data/v1")
ds1.upload()
ds1.finalize()
ds2 = Dataset.create(dataset_project="Snap4Parking", dataset_name="parking", parent_datasets=[ds1.id])
ds2.add_files(path="data/v2")
ds2.upload()
ds2.finalize()

# 2. Training.
Task.add_requirements("numpy")
task = Task.init(project_name="Snap4ParkingCML", task_name="Training", output_uri=True)
output_model = OutputModel(task=task, framework="PyTorch")
params = {"num_epochs": 3, "lr": 0.001}
task.connect(params)
logger = task.get_logger()
train_losses = []
for epoch in range(params["num_epochs"]):
    train_losses.append(1.0 / (epoch + 1))
    logger.report_scalar("loss", "train", value=train_losses[-1], iteration=epoch)
task.upload_artifact("train_losses", artifact_object=train_losses)
task.upload_artifact("summary", artifact_object={"best": min(train_losses), "epochs": 3})
Path("model.pth").write_bytes(bytes(range(256)) * 8)
output_model.update_weights(weights_filename="model.pth")
plt.figure()
plt.plot(train_losses)
plt.title("losses")
plt.show()
task.mark_completed()
task.close()
task.publish()
print("RESULT", json.dumps({"task": task.id, "model": output_model.id, "ds1": ds1.id, "ds2": ds2.id}))
"""

READ_BACK = """
import json, os, sys
from clearml import Dataset, Model, Task

task_id, model_id = sys.argv[1], sys.argv[2]
task = Task.get_task(task_id=task_id)
model = task.models["output"][-1]
with open(model.get_local_copy(), "rb") as f:
    weights = f.read()
registered = Model(model_id=model_id)


def files(ds):
    root = ds.get_local_copy()
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _, ns in os.walk(root) for n in ns)


latest = Dataset.get(dataset_project="Snap4Parking", dataset_name="parking")
first = Dataset.get(dataset_project="Snap4Parking", dataset_name="parking", dataset_version="1.0.0")
out = {
    "status": task.get_status(),
    "train_losses": task.artifacts["train_losses"].get(),
    "summary": task.artifacts["summary"].get(),
    "summary_preview": task.artifacts["summary"].preview,
    "output_models": [m.id for m in task.models["output"]],
    "weights_hex": weights.hex(),
    "published": registered.published,
    "framework": registered.framework,
    "model_task": registered.task,
    "model_url": registered.url,
    "project_models": [m.id for m in Model.query_models(project_name="Snap4ParkingCML")],
    "datasets": sorted((d["name"], d["version"]) for d in Dataset.list_datasets(dataset_project="Snap4Parking")),
    "latest": [latest.id, latest.version, files(latest)],
    "first": [first.id, first.version, files(first)],
}
print("RESULT", json.dumps(out))
"""


def test_course_notebook_end_to_end(server: ServerProcess, tmp_path: Path) -> None:
    creds = server.user("notebook")
    ran = run_sdk(NOTEBOOK, creds, tmp_path / "notebook", timeout=300)
    ids = json.loads(last_line_value(ran.stdout, "RESULT"))

    read = run_sdk(READ_BACK, creds, tmp_path / "read", ids["task"], ids["model"], timeout=300)
    out = json.loads(last_line_value(read.stdout, "RESULT"))

    assert out["status"] == "published"
    assert out["train_losses"] == [1.0, 0.5, 1 / 3]
    assert out["summary"] == {"best": 1 / 3, "epochs": 3}
    assert out["output_models"] == [ids["model"]]
    assert bytes.fromhex(out["weights_hex"]) == WEIGHTS
    assert out["published"] is True
    assert out["framework"] == "PyTorch"
    assert out["model_task"] == ids["task"]
    assert out["model_url"].startswith(creds["CLEARML_FILES_HOST"] + "/Snap4ParkingCML/Training.")
    assert out["project_models"] == [ids["model"]]
    assert out["datasets"] == [["parking", "1.0.0"], ["parking", "1.0.1"]]
    assert out["latest"] == [ids["ds2"], "1.0.1", ["a.csv", "b.txt", "c.csv"]]
    assert out["first"] == [ids["ds1"], "1.0.0", ["a.csv", "b.txt"]]
