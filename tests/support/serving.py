"""The official ``clearml-serving`` 1.3.5 against a running Clearway server, as its users run it (no Docker, Triton
or Kafka): a scikit-learn model trained and published with the real SDK, declared with the real CLI, and served by
the real inference app (``uvicorn clearml_serving.serving.main:app``) on a free port. Plus a template task for
``clearml-agent``: hyperparameters in, a scalar and an artifact out.

Every function takes the ``CLEARML_*`` credentials of a user (``ServerProcess.user``, or a bench server's
``credentials``) and a scratch directory; each client runs in a process of its own, with that directory as its home
and ``clearml.conf``. Shared by the end-to-end tests and ``bench/gateway.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.sdk import last_line_value, run_sdk, sdk_env
from tests.support.server import free_port

PROJECT = "serving examples"
ENDPOINT = "test_model_sklearn"
# A point on the "1" side of the model's boundary (x0 + x1 > 1), and the app's answer for it.
SAMPLE = {"x0": 0.9, "x1": 0.8}
PREDICTION = {"y": [1]}

TRAIN = """
import joblib
from clearml import OutputModel, Task
from sklearn.linear_model import LogisticRegression

task = Task.init(project_name=PROJECT, task_name="train sklearn model", auto_connect_frameworks=False)
points = [[a / 4, b / 4] for a in range(5) for b in range(5)]
model = LogisticRegression().fit(points, [int(x0 + x1 > 1) for x0, x1 in points])
joblib.dump(model, "model.pkl")
output = OutputModel(task=task, name="tiny sklearn", framework="scikitlearn")
output.update_weights(weights_filename="model.pkl", auto_delete_file=False, async_enable=False)
output.publish()
task.close()
print("MODEL_ID", output.id, flush=True)
"""

# The 1.3.5 signature: ``state`` comes second (older README examples without it break).
PREPROCESS = """
class Preprocess(object):
    def preprocess(self, body, state, collect_custom_statistics_fn=None):
        return [[body.get("x0"), body.get("x1")]]

    def postprocess(self, data, state, collect_custom_statistics_fn=None):
        return dict(y=data.tolist())
"""

# A template: run here it only registers itself as a draft (execute_remotely without a queue resets it and exits);
# a clone run by clearml-agent goes on past that line with the clone's parameters.
TEMPLATE = """
from clearml import Task

task = Task.init(project_name=PROJECT, task_name=NAME)
params = {"factor": 6, "label": "demo"}
task.connect(params)
print("TASK_ID", task.id, flush=True)
task.execute_remotely(queue_name=None)

answer = float(params["factor"]) * 7
task.get_logger().report_scalar("result", "answer", value=answer, iteration=0)
task.upload_artifact("result", artifact_object={"answer": answer, "label": params["label"]}, wait_on_upload=True)
print("RAN ON THE AGENT", flush=True)
"""
TEMPLATE_PARAMS = {"General/factor": "6", "General/label": "demo"}


def _script(code: str, **names: str) -> str:
    """``code`` with its module-level constants (PROJECT, NAME...) bound to ``names``."""
    return "".join(f"{key} = {value!r}\n" for key, value in names.items()) + code


def train_model(creds: dict[str, str], workdir: Path, project: str = PROJECT) -> str:
    """Train a tiny LogisticRegression with the real SDK, upload its weights and publish it; its model id."""
    out = run_sdk(_script(TRAIN, PROJECT=project), creds, workdir, name="train.py").stdout
    return last_line_value(out, "MODEL_ID")


def create_template(
    creds: dict[str, str], workdir: Path, name: str = "gateway template", project: str = PROJECT
) -> str:
    """A draft task with hyperparameters ``TEMPLATE_PARAMS``; a clone run by clearml-agent reports the scalar
    ``result/answer`` (factor * 7) and uploads the artifact ``result``. Its task id."""
    out = run_sdk(_script(TEMPLATE, PROJECT=project, NAME=name), creds, workdir, name="template.py").stdout
    return last_line_value(out, "TASK_ID")


def serving_cli(creds: dict[str, str], workdir: Path, *args: str, timeout: float = 120) -> str:
    """Run ``clearml-serving ARGS`` as the user; its standard output (an error with its output if it fails)."""
    command = [str(Path(sys.executable).parent / "clearml-serving"), *args]
    result = subprocess.run(
        command, cwd=workdir, env=sdk_env(creds, workdir), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def create_service(
    creds: dict[str, str], workdir: Path, model_id: str, endpoint: str = ENDPOINT, name: str = "serving"
) -> str:
    """``clearml-serving create`` and ``model add --engine sklearn`` of a published model with ``PREPROCESS``; the
    serving service (control-plane task) id."""
    workdir.mkdir(parents=True, exist_ok=True)
    created = serving_cli(creds, workdir, "create", "--name", name)
    found = re.search(r"New Serving Service created: id=(\w+)", created)
    assert found, created
    service_id = found.group(1)
    preprocess = workdir / "preprocess.py"
    preprocess.write_text(PREPROCESS)
    serving_cli(creds, workdir, "--id", service_id, "model", "add", "--engine", "sklearn", "--endpoint", endpoint,
                "--published", "--model-id", model_id, "--preprocess", str(preprocess))  # fmt: skip
    return service_id


@dataclass
class ServingApp:
    """The inference app of one serving service: ``uvicorn clearml_serving.serving.main:app`` on a free port, in a
    session of its own, as the user. :meth:`start` returns once ``endpoint`` answers a prediction."""

    creds: dict[str, str]
    workdir: Path
    service_id: str
    endpoint: str = ENDPOINT
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def serve_url(self) -> str:
        return f"{self.url}/serve/{self.endpoint}"

    @property
    def log(self) -> Path:
        return self.workdir / "serving-app.log"

    def start(self, timeout: float = 120) -> None:
        env = {
            **sdk_env(self.creds, self.workdir),
            "CLEARML_SERVING_TASK_ID": self.service_id,
            "CLEARML_SERVING_POLL_FREQ": "0.1",  # minutes: endpoint changes show within 6 s
        }
        command = [sys.executable, "-m", "uvicorn", "clearml_serving.serving.main:app", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_until_serving(timeout)

    def wait_until_serving(self, timeout: float) -> None:
        """Until ``POST /serve/<endpoint>`` answers a prediction (the model loads on the first request)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"the serving app exited:\n{self.tail()}")
                try:
                    response = client.post(self.serve_url, json=SAMPLE)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:300]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise TimeoutError(f"the serving app did not serve {self.endpoint} in {timeout:g} s ({last}):\n{self.tail()}")

    def predict(self, body: dict[str, Any] = SAMPLE) -> Any:
        response = httpx.post(self.serve_url, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (the app completes its instance task), then SIGKILL whatever is left after 15 s."""
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the app and anything it started: a machine that goes down."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)  # its own session: the app and its children, nothing else
        except ProcessLookupError:
            pass


@dataclass
class ServedModel:
    """A published model, the serving service that serves it at ``endpoint``, and its running inference app."""

    model_id: str
    service_id: str
    endpoint: str
    app: ServingApp


@contextmanager
def served_model(creds: dict[str, str], workdir: Path, endpoint: str = ENDPOINT) -> Iterator[ServedModel]:
    """Train and publish a model, declare a serving service for it and start its app; the app is stopped after."""
    model_id = train_model(creds, workdir / "train")
    service_id = create_service(creds, workdir / "cli", model_id, endpoint)
    app = ServingApp(creds, workdir / "app", service_id, endpoint)
    try:
        app.start()
        yield ServedModel(model_id, service_id, endpoint, app)
    finally:
        app.stop()
