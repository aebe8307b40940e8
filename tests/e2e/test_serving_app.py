"""The official clearml-serving 1.3.5 against Clearway: a model trained and published with the SDK, declared with
the ``clearml-serving`` CLI, served by its unmodified inference app, called directly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for
from tests.support.server import ServerProcess
from tests.support.serving import (
    PREDICTION,
    SAMPLE,
    TEMPLATE_PARAMS,
    ServedModel,
    create_template,
    served_model,
)

pytestmark = pytest.mark.e2e

QUEUE = "serving-templates"
NEW = {"factor": "2", "label": "cloned"}


@pytest.fixture(scope="module")
def served(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    creds = server.user("serving-owner")
    with served_model(creds, tmp_path_factory.mktemp("serving")) as model:
        yield model


def test_the_app_serves_the_published_models_prediction(served: ServedModel):
    assert served.app.predict(SAMPLE) == PREDICTION
    assert served.app.predict({"x0": 0.1, "x1": 0.2}) == {"y": [0]}


def test_the_service_is_stored_as_the_cli_and_the_app_left_it(server: ServerProcess, served: ServedModel):
    with client_for(server, server.credentials("serving-owner")) as api:
        service = data(call(api, "tasks.get_by_id", {"task": served.service_id}))["task"]
        model = data(call(api, "models.get_by_id", {"model": served.model_id}))["model"]
    assert service["status"] == "in_progress" and "serving-control-plane" in service["system_tags"]
    assert served.endpoint in service["configuration"]["endpoints"]["value"]
    assert served.model_id in service["configuration"]["endpoints"]["value"]
    assert [m["model"] for m in service["models"]["input"] if m["name"] == served.endpoint] == [served.model_id]
    assert [a["key"] for a in service["execution"]["artifacts"]] == [f"py_code_{served.endpoint}"]
    assert model["ready"] is True and model["framework"] == "scikitlearn"


def test_an_unknown_endpoint_is_a_404_of_the_app(served: ServedModel):
    assert httpx.post(f"{served.app.url}/serve/no_such_endpoint", json=SAMPLE, timeout=10).status_code == 404


def test_a_clone_of_the_template_run_by_the_agent_reports_its_scalar_and_artifact(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
):
    owner = server.user("template-owner")
    template = create_template(owner, tmp_path_factory.mktemp("template"))
    agent = AgentProcess(tmp_path_factory.mktemp("agent"), server.user("serving-agent", "agent"), QUEUE, "serving:0")
    with client_for(server, owner) as api:
        draft = data(call(api, "tasks.get_by_id", {"task": template}))["task"]
        assert draft["status"] == "created"
        params = {f"{s}/{n}": p["value"] for s, names in draft["hyperparams"].items() for n, p in names.items()}
        assert params == TEMPLATE_PARAMS
        queue = data(call(api, "queues.create", {"name": QUEUE}))["id"]
        hyperparams = {"General": {n: {"section": "General", "name": n, "value": v} for n, v in NEW.items()}}
        clone = data(call(api, "tasks.clone", {"task": template, "new_task_hyperparams": hyperparams}))["id"]
        data(call(api, "tasks.enqueue", {"task": clone, "queue": queue}))
        agent.start()
        try:
            task = _wait_for_completion(api, clone, agent)
        finally:
            agent.stop()
        scalars = data(call(api, "events.scalar_metrics_iter_histogram", {"task": clone, "key": "iter"}))
        assert scalars["result"]["answer"]["y"] == [14.0]
        uri = next(a["uri"] for a in task["execution"]["artifacts"] if a["key"] == "result")
        assert api.get(uri).json() == {"answer": 14.0, "label": "cloned"}


def _wait_for_completion(api: httpx.Client, task_id: str, agent: AgentProcess, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = data(call(api, "tasks.get_by_id", {"task": task_id}))["task"]
        if task["status"] in ("completed", "failed", "stopped"):
            assert task["status"] == "completed", f"{task['status']}: {task.get('status_reason')}\n{agent.tail()}"
            return task
        time.sleep(0.25)
    raise AssertionError(f"the clone did not complete in {timeout:g} s:\n{agent.tail()}")
