"""Operating the server: /metrics behind its token, request ids in responses and logs, JSON logs without secrets,
several worker processes on one port, and SQLite's durability setting."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from clearway.ops.serve import set_nodelay
from clearway.settings import Settings
from clearway.store.sql.database import Database
from tests.conftest import METRICS_TOKEN
from tests.support.databases import backend
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


def _login(server: ServerProcess, creds: dict[str, str]) -> str:
    auth = (creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
    return httpx.post(f"{server.url}/auth.login", auth=auth).json()["data"]["token"]


def _metric(text: str, name: str) -> float:
    """The sum of every sample of a metric in a Prometheus text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_metrics_need_the_token_and_count_what_happens(server: ServerProcess, alice: dict[str, str]) -> None:
    token = _login(server, alice)
    user = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    assert httpx.get(f"{server.url}/metrics", headers=user).status_code == 403
    with httpx.Client(base_url=server.url, headers=user) as api:
        task = api.post("/tasks.create", json={"name": "metered", "type": "training"}).json()["data"]["id"]
        queue = api.post("/queues.create", json={"name": f"metered-{uuid.uuid4().hex[:6]}"}).json()["data"]["id"]
        api.post("/tasks.enqueue", json={"task": task, "queue": queue}).raise_for_status()
        line = {"type": "training_stats_scalar", "task": task, "metric": "m", "variant": "v", "iter": 1, "value": 1}
        assert api.post("/events.add_batch", content=json.dumps(line)).json()["data"]["added"] == 1
    scraped = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert 'clearway_http_requests_total{endpoint="tasks.create",status="200"}' in text
    assert 'clearway_http_request_duration_seconds_bucket{endpoint="events.add_batch"' in text
    assert _metric(text, "clearway_events_ingested_total") >= 1
    assert f'queue="{json.dumps(queue)[1:-1]}"' not in text  # labelled by name, not id
    assert any(line.startswith("clearway_queue_length{") and line.endswith(" 1.0") for line in text.splitlines())
    for name in ("clearway_workers_live", "clearway_queue_oldest_wait_seconds", "clearway_db_connections_in_use"):
        assert name in text
    assert token not in text


def test_every_response_carries_a_request_id(server: ServerProcess) -> None:
    made = httpx.get(f"{server.url}/tasks.get_all")  # refused, in the ClearML envelope
    assert len(made.headers["x-request-id"]) == 32
    given = httpx.get(f"{server.url}/health", headers={"X-Request-Id": "proxy-1234"})
    assert given.headers["x-request-id"] == "proxy-1234"
    odd = httpx.get(f"{server.url}/health", headers={"X-Request-Id": "no spaces\tor tabs"})
    assert odd.headers["x-request-id"] != "no spaces\tor tabs"


def test_two_workers_json_logs_without_secrets(tmp_path: Path) -> None:
    """Two worker processes on one port: both answer, metrics add up across them, and every request has a JSON log
    line with its request id, while no key secret, password or token is ever logged."""
    env = {"CLEARWAY_WORKERS": "2", "CLEARWAY_LOG_FORMAT": "json", "CLEARWAY_METRICS_ALLOW": "127.0.0.1/32"}
    with running_server(tmp_path / "data", **env) as server:
        assert server.process is not None
        workers = psutil.Process(server.process.pid).children(recursive=True)
        assert len([p for p in workers if "python" in p.name()]) >= 2
        creds = server.user("logged")
        server.cli("users", "set-password", "logged", "--stdin", input="pa55-Word-secret\n")
        token = _login(server, creds)
        assert httpx.post(f"{server.url}/auth.login", auth=("logged", "wrong-pa55word")).status_code == 401
        assert httpx.post(f"{server.url}/auth.login", auth=("logged", "pa55-Word-secret")).status_code == 200
        ids = []
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
            for _ in range(20):  # kept alive: TCP_NODELAY matters here
                ids.append(api.post("/projects.get_all", json={}).headers["x-request-id"])
        text = httpx.get(f"{server.url}/metrics").text  # allowed by address
        assert _metric(text, 'clearway_http_requests_total{endpoint="projects.get_all"') == 20
        server.stop()
        log = (server.data_dir / "server.log").read_text().splitlines()
        lines = [json.loads(line) for line in log if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "clearway.access"}
    assert set(ids) <= set(access)
    assert access[ids[0]]["path"] == "/projects.get_all" and access[ids[0]]["status"] == 200
    everything = json.dumps(lines)
    for secret in (creds["CLEARML_API_SECRET_KEY"], "pa55-Word-secret", "wrong-pa55word", token):
        assert secret not in everything


def test_accepted_sockets_get_tcp_nodelay() -> None:
    """Even from a listening socket made as uvicorn's worker mode makes it (``proto`` 0, which asyncio's own
    TCP_NODELAY skips), an accepted connection ends up with TCP_NODELAY."""

    class Transport:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def get_extra_info(self, name: str) -> socket.socket:
            return self.sock

    with socket.socket(socket.AF_INET) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                set_nodelay(Transport(accepted))  # type: ignore[arg-type]
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@pytest.mark.skipif(backend() != "sqlite", reason="a SQLite setting")
@pytest.mark.parametrize("mode", ["FULL", "NORMAL"])
def test_sqlite_durability_setting_is_in_force(tmp_path: Path, mode: str) -> None:
    settings = Settings(data_dir=tmp_path, sqlite_synchronous=mode)
    db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == {"FULL": 2, "NORMAL": 1}[mode]
    finally:
        db.dispose()
    assert Settings().sqlite_synchronous == "FULL"
