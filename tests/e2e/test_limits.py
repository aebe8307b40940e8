"""Bounded work per request: the request-size and page-size limits, and down-sampled scalar series."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.api import call, data, error
from tests.support.clients import client_for
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

MAX_REQUEST = 64 * 1024
MAX_PAGE = 5


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CLEARWAY_MAX_REQUEST_BYTES": str(MAX_REQUEST), "CLEARWAY_MAX_PAGE_SIZE": str(MAX_PAGE)}
    with running_server(tmp_path_factory.mktemp("limits"), **env) as proc:
        yield proc


@pytest.fixture(scope="module")
def user(limited: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(limited, limited.user(f"limited-{uuid.uuid4().hex[:6]}")) as client:
        yield client


def _create(name: str, comment: str) -> bytes:
    return json.dumps({"name": name, "type": "training", "comment": comment}).encode()


def _chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _named(user: httpx.Client, name: str) -> list[dict]:
    return data(call(user, "tasks.get_all", {"name": f"^{name}$", "only_fields": ["id"]}))["tasks"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_request_over_the_size_limit_is_refused_and_stores_nothing(user: httpx.Client, declared: bool):
    """Refused whether the client declares its length or streams it (checked while it arrives)."""
    name = f"big-{uuid.uuid4().hex[:8]}"
    body = _create(name, "x" * MAX_REQUEST)
    content = body if declared else _chunks(body)
    response = user.post("/v2.23/tasks.create", content=content, headers={"Content-Type": "application/json"})
    assert "content-length" in response.request.headers if declared else "transfer-encoding" in response.request.headers
    code, subcode, message = error(response)
    assert (code, subcode, message) == (413, 0, f"Request body over {MAX_REQUEST} bytes")
    assert _named(user, name) == []


def test_a_request_just_under_the_size_limit_is_served(user: httpx.Client):
    name = f"fits-{uuid.uuid4().hex[:8]}"
    overhead = len(_create(name, ""))
    body = _create(name, "x" * (MAX_REQUEST - overhead))
    assert len(body) == MAX_REQUEST
    response = user.post("/v2.23/tasks.create", content=_chunks(body), headers={"Content-Type": "application/json"})
    task_id = data(response)["id"]
    assert _named(user, name) == [{"id": task_id}]


@pytest.mark.parametrize(
    "endpoint,key",
    [("tasks.get_all", "tasks"), ("projects.get_all", "projects"), ("models.get_all", "models"),
     ("queues.get_all", "queues")],
)  # fmt: skip
def test_a_page_over_the_page_size_limit_is_refused(user: httpx.Client, endpoint: str, key: str):
    assert isinstance(data(call(user, endpoint, {"page": 0, "page_size": MAX_PAGE}))[key], list)
    code, subcode, message = error(call(user, endpoint, {"page": 0, "page_size": MAX_PAGE + 1}))
    assert (code, subcode) == (400, 11) and f"page_size over the limit of {MAX_PAGE}" in message


def test_pages_up_to_the_limit_return_that_many(user: httpx.Client):
    project = data(call(user, "projects.create", {"name": f"paged-{uuid.uuid4().hex[:6]}"}))["id"]
    made = [data(call(user, "tasks.create", {"name": f"p{i}", "type": "training", "project": project}))["id"]
            for i in range(MAX_PAGE + 2)]  # fmt: skip
    query = {"project": [project], "order_by": ["created"], "only_fields": ["id"], "page_size": MAX_PAGE}
    pages = [[t["id"] for t in data(call(user, "tasks.get_all", {**query, "page": n}))["tasks"]] for n in (0, 1)]
    assert pages == [made[:MAX_PAGE], made[MAX_PAGE:]]


@pytest.mark.parametrize(
    "samples,picked",
    [
        (10, list(range(0, 100, 10))),
        (7, [0, 14, 28, 42, 57, 71, 85]),
        (100, list(range(100))),
        (None, list(range(100))),
    ],
)
def test_scalar_series_are_down_sampled_to_the_samples_asked_for(user: httpx.Client, samples, picked):
    """``samples`` keeps that many evenly spaced points of each series (the first always); fewer points are kept."""
    task_id = data(call(user, "tasks.create", {"name": "scalars", "type": "training"}))["id"]
    lines = [
        {"task": task_id, "type": "training_stats_scalar", "metric": "loss", "variant": variant, "iter": i,
         "value": i * scale}
        for i in range(100)
        for variant, scale in (("train", 2.0), ("val", 0.5))
    ]  # fmt: skip
    added = user.post("/v2.23/events.add_batch", content="\n".join(json.dumps(line) for line in lines))
    assert data(added)["added"] == 200
    body = {"task": task_id, "key": "iter", **({"samples": samples} if samples is not None else {})}
    series = data(call(user, "events.scalar_metrics_iter_histogram", body))
    assert set(series) == {"loss"} and set(series["loss"]) == {"train", "val"}
    for variant, scale in (("train", 2.0), ("val", 0.5)):
        assert series["loss"][variant] == {"name": variant, "x": picked, "y": [i * scale for i in picked]}
