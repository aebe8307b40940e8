"""The course notebook's Task.init ... publish, run unchanged with the real clearml SDK, then read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

TRAIN = """
import sys
import matplotlib.pyplot as plt
from clearml import Task

task = Task.init(project_name="Snap4ParkingCML", task_name="Training")
params = {"num_epochs": 100, "lr": 0.0001, "optimizer": "adam"}
task.connect(params)
logger = task.get_logger()
for i in range(120):
    logger.report_scalar("loss", "train", value=1.0 / (i + 1), iteration=i)
    logger.report_scalar("loss", "val", value=2.0 / (i + 1), iteration=i)
print("epoch summary: done")
print("a warning on stderr", file=sys.stderr)
plt.figure()
plt.plot([1, 2, 3], [3, 1, 2])
plt.title("losses")
plt.show()
task.mark_completed()
task.close()
task.publish()
print("TASK_ID", task.id)
"""

READ_BACK = """
import json, sys
from clearml import Task

task = Task.get_task(task_id=sys.argv[1])
scalars = task.get_reported_scalars()
out = {
    "name": task.name,
    "status": task.get_status(),
    "parameters": task.get_parameters(),
    "scalar_points": {m: {v: len(s["y"]) for v, s in vs.items()} for m, vs in scalars.items()},
    "last_train": scalars["loss"]["train"]["y"][-1],
    "console": task.get_reported_console_output(number_of_reports=50),
    "plots": [p["metric"] for p in task.get_reported_plots()],
    "plot_data": json.loads(task.get_reported_plots()[0]["plot_str"])["data"][0]["y"],
    "last_iteration": task.get_last_iteration(),
    "project_tasks": [t.name for t in Task.get_tasks(project_name="Snap4ParkingCML")],
}
print("RESULT", json.dumps(out))
"""


def test_notebook_runs_unchanged_and_reads_back(server: ServerProcess, alice: dict[str, str], tmp_path: Path):
    trained = run_sdk(TRAIN, alice, tmp_path / "train")
    task_id = last_line_value(trained.stdout, "TASK_ID")

    read = run_sdk(READ_BACK, alice, tmp_path / "read", task_id)
    result = json.loads(last_line_value(read.stdout, "RESULT"))

    assert result["name"] == "Training"
    assert result["status"] == "published"
    assert result["parameters"] == {"General/num_epochs": "100", "General/lr": "0.0001", "General/optimizer": "adam"}
    assert result["scalar_points"] == {"loss": {"train": 120, "val": 120}}
    assert result["last_train"] == pytest.approx(1 / 120)
    assert result["last_iteration"] == 119
    console = "\n".join(result["console"])
    assert "epoch summary: done" in console
    assert "a warning on stderr" in console
    assert result["plots"] == ["losses"]
    assert result["plot_data"] == [3, 1, 2]
    assert "Training" in result["project_tasks"]


RERUN = """
from clearml import Task

task = Task.init(project_name="Rerun project", task_name="rerun me")
for i in range(5):
    task.get_logger().report_scalar("m", "v", value=float(i), iteration=i)
task.close()
print("TASK_ID", task.id)
"""

POINTS = """
import json, sys
from clearml import Task
print("POINTS", json.dumps(Task.get_task(task_id=sys.argv[1]).get_reported_scalars()["m"]["v"]["y"]))
"""


def test_rerunning_a_script_reuses_and_resets_its_task(server: ServerProcess, alice: dict[str, str], tmp_path: Path):
    first = last_line_value(run_sdk(RERUN, alice, tmp_path / "w").stdout, "TASK_ID")
    second = last_line_value(run_sdk(RERUN, alice, tmp_path / "w").stdout, "TASK_ID")
    assert first == second
    points = json.loads(last_line_value(run_sdk(POINTS, alice, tmp_path / "r", second).stdout, "POINTS"))
    assert points == [0.0, 1.0, 2.0, 3.0, 4.0]  # the first run's events were cleared by the reset
