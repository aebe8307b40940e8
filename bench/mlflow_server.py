"""The MLflow tracking server as its users run it (``mlflow server``, SQLite, default options), and its REST calls."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.mlflow_env import ensure_installed
from bench.processes import BenchServer

API = "/api/2.0/mlflow"


class MlflowServer(BenchServer):
    name = "mlflow server"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.db_path = data_dir / "mlflow.db"

    @classmethod
    @contextmanager
    def running(cls, data_dir: Path) -> Iterator[MlflowServer]:
        server = cls(data_dir)
        try:
            server.start()
            yield server
        finally:
            server.stop()

    def start(self) -> float:
        """Start the server; seconds from the process start to its first answered API call."""
        command = [
            str(ensure_installed()),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.db_path}",
            "--default-artifact-root",
            str(self.data_dir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        return self.launch(
            command,
            env,
            lambda: (
                httpx.post(f"{self.url}{API}/experiments/search", json={"max_results": 1}, timeout=5).status_code == 200
            ),
            timeout=180,
        )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}{API}", timeout=300)

    def seed_runs(self, experiment_id: str, count: int) -> None:
        """Add ``count`` finished runs straight into MLflow's tables (seeding is not what is measured)."""
        now = int(time.time() * 1000)
        statuses = ("FINISHED", "FAILED", "RUNNING", "KILLED")
        rows = [
            (
                uuid.uuid4().hex,
                f"run {i}",
                "LOCAL",
                "train.py",
                "",
                "bench",
                statuses[i % len(statuses)],
                now - (count - i) * 1000,
                now - (count - i) * 1000 + 500,
                "",
                "active",
                str(self.data_dir / "artifacts"),
                int(experiment_id),
            )
            for i in range(count)
        ]
        with sqlite3.connect(self.db_path) as conn:
            conn.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
                " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


def call(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One MLflow REST call (POST with a JSON body); its JSON answer."""
    response = client.post(f"/{path}", json=body)
    if response.status_code != 200:
        raise RuntimeError(f"mlflow {path} failed ({response.status_code}): {response.text[:500]}")
    return response.json()


def new_run(client: httpx.Client, experiment: str) -> str:
    """A run in the named experiment (created if missing)."""
    found = client.get("/experiments/get-by-name", params={"experiment_name": experiment})
    if found.status_code == 200:
        experiment_id = found.json()["experiment"]["experiment_id"]
    else:
        experiment_id = call(client, "experiments/create", {"name": experiment})["experiment_id"]
    return call(client, "runs/create", {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)})["run"][
        "info"
    ]["run_id"]
