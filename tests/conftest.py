"""Shared fixtures: one real server per session on the database chosen by CLEARWAY_TEST_DATABASE."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.databases import backend
from tests.support.response_schemas import check_recorded
from tests.support.server import ServerProcess, running_server

TEST_MAX_EVENTS = 2_000  # a small events.add_batch limit, so the over-limit test stays cheap
METRICS_TOKEN = "metrics-token-of-the-test-server"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``single_database`` (browser, Node-RED, serving: they exercise a surface, not the store) run in
    the SQLite pass only; the PostgreSQL pass deselects them rather than skipping them."""
    if backend() == "sqlite":
        return
    once = [item for item in items if item.get_closest_marker("single_database")]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if not item.get_closest_marker("single_database")]


@pytest.fixture(scope="session", autouse=True)
def clearml_answers_match_the_sdk_schemas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every server the session starts records its ClearML API answers, whoever asked (a test, the SDK or an agent
    in a subprocess); at the end of the session each is checked against the SDK's own response schemas."""
    directory = tmp_path_factory.mktemp("clearml-answers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLEARWAY_RECORD_RESPONSES_DIR", str(directory))
        yield
    report = check_recorded(directory)
    if report.mismatches:
        pytest.fail(report.describe(), pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("server")
    env = {
        "CLEARWAY_MAX_EVENTS_PER_BATCH": str(TEST_MAX_EVENTS),
        # Every test calls from 127.0.0.1: the suite's deliberate failed logins must not throttle it.
        "CLEARWAY_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        "CLEARWAY_METRICS_TOKEN": METRICS_TOKEN,
    }
    with running_server(data_dir, **env) as proc:
        yield proc


@pytest.fixture(scope="session")
def alice(server: ServerProcess) -> dict[str, str]:
    return server.user("alice")


@pytest.fixture(scope="session")
def api(server: ServerProcess, alice: dict[str, str]) -> Iterator[httpx.Client]:
    """A raw HTTP client logged in as alice, for contract tests below the SDK."""
    login = httpx.get(
        f"{server.url}/auth.login", auth=(alice["CLEARML_API_ACCESS_KEY"], alice["CLEARML_API_SECRET_KEY"])
    )
    token = login.json()["data"]["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client
