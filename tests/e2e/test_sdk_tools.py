"""The clearml package's tools against Clearway, as their users run them: ``clearml-data``, ``clearml-task``, a local
pipeline (PipelineController, steps run as local processes) and a TaskScheduler. The three run at once, each in
its own process; a fresh one then reads back what they made. The README's compatibility section links here.

The endpoints they call are those the other SDK tests exercise on both databases: this runs in the SQLite pass.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.sdk import last_line_value, run_sdk

pytestmark = [pytest.mark.e2e, pytest.mark.single_database]

COMMAND_LINE = """
import subprocess, sys
from pathlib import Path
from clearml.backend_api.session.client import APIClient

tag = sys.argv[1]
project = f"Tools {tag}"
APIClient().queues.create(name=f"cli {tag}")
Path("data").mkdir()
Path("data/a.csv").write_text("x,y\\n1,2\\n")
Path("train.py").write_text("print('hello')\\n")
commands = [
    ["clearml-data", "sync", "--project", project, "--name", "cli dataset", "--folder", "data"],
    ["clearml-task", "--project", project, "--name", "from cli", "--script", "train.py", "--args", "lr=0.1",
     "--packages", "clearml", "--queue", f"cli {tag}"],
]
for command in commands:
    done = subprocess.run([str(Path(sys.executable).parent / command[0]), *command[1:]], capture_output=True, text=True)
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]} {done.stderr[-3000:]}"
print("DONE")
"""

PIPELINE = """
import sys
from pathlib import Path
from clearml import PipelineController

def make_numbers(count):
    return list(range(int(count)))

def total(numbers):
    return sum(numbers)

pipe = PipelineController(
    name="sum pipeline", project=f"Tools {sys.argv[1]}", version="1.0", add_pipeline_tags=False, pool_frequency=0.01
)
pipe.add_parameter("count", 5)
pipe.add_function_step(
    name="make", function=make_numbers, function_kwargs={"count": "${pipeline.count}"}, function_return=["numbers"]
)
pipe.add_function_step(
    name="total", function=total, function_kwargs={"numbers": "${make.numbers}"}, function_return=["result"]
)
pipe.start_locally(run_pipeline_steps_locally=True)
Path("pipeline.id").write_text(pipe.id)  # a file, not stdout: the controller's threads print there too
"""

SCHEDULER = """
import sys, threading, time
from clearml import Task
from clearml.automation import TaskScheduler
from clearml.backend_api.session.client import APIClient

tag = sys.argv[1]
project = f"Tools {tag}"
APIClient().queues.create(name=f"nightly {tag}")
template = Task.create(project_name=project, task_name="nightly template")
scheduler = TaskScheduler(force_create_task_project=project, force_create_task_name="scheduler")
scheduler.add_task(
    schedule_task_id=template.id, queue=f"nightly {tag}", name="nightly", target_project=f"{project} runs",
    hour=3, minute=0, execute_immediately=True, task_parameters={"General/day": "today"},
)
threading.Thread(target=scheduler.start, daemon=True).start()
deadline = time.monotonic() + 90
while not Task.get_tasks(project_name=f"{project} runs"):
    assert time.monotonic() < deadline, "the scheduled task was not launched"
    time.sleep(0.5)
print("DONE")
"""

READ_BACK = """
import json, sys
from pathlib import Path
from clearml import Dataset, Task

tag, pipeline = sys.argv[1], sys.argv[2]
project = f"Tools {tag}"
folder = Path(Dataset.get(dataset_project=project, dataset_name="cli dataset").get_local_copy())
launched = Task.get_tasks(project_name=project, task_name="^from cli$")[0]
steps = Task.get_tasks(task_filter={"parent": pipeline, "search_hidden": True})
runs = Task.get_tasks(project_name=f"{project} runs")
out = {
    "dataset": {p.name: p.read_text() for p in folder.iterdir()},
    "clearml_task": [launched.get_status(), launched.data.script.entry_point, launched.get_parameters()["Args/lr"]],
    "pipeline": Task.get_task(task_id=pipeline).get_status(),
    "steps": {t.name: t.get_status() for t in steps},
    "made": [s for s in steps if s.name == "make"][0].artifacts["numbers"].get(),
    "total": [s for s in steps if s.name == "total"][0].get_parameters()["return/result"],
    "scheduled": [[t.get_status(), t.get_parameters()["General/day"]] for t in runs],
}
print("RESULT", json.dumps(out))
"""


@pytest.fixture(scope="module")
def tools(alice: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("sdk-tools")
    scripts = {"command_line": COMMAND_LINE, "pipeline": PIPELINE, "scheduler": SCHEDULER}
    with ThreadPoolExecutor(len(scripts)) as pool:
        for run in [pool.submit(run_sdk, code, alice, work / name, tag) for name, code in scripts.items()]:
            run.result()  # raises when the script failed
    pipeline = (work / "pipeline" / "pipeline.id").read_text()
    read = run_sdk(READ_BACK, alice, work / "read", tag, pipeline)
    return json.loads(last_line_value(read.stdout, "RESULT"))


def test_clearml_data_syncs_a_folder_that_reads_back(tools):
    assert tools["dataset"] == {"a.csv": "x,y\n1,2\n"}


def test_clearml_task_creates_and_enqueues_a_script(tools):
    assert tools["clearml_task"] == ["queued", "train.py", "0.1"]


def test_a_local_pipeline_runs_its_steps_and_passes_their_results(tools):
    assert tools["pipeline"] == "completed"
    assert tools["steps"] == {"make": "completed", "total": "completed"}
    assert (tools["made"], tools["total"]) == ([0, 1, 2, 3, 4], "10")  # a basic value is kept as a parameter


def test_task_scheduler_launches_its_job(tools):
    assert tools["scheduled"] == [["queued", "today"]]
