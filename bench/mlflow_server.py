"""The MLflow tracking server as its users run it (``mlflow server``, SQLite, default options), or on the SQLite
settings Clearway runs with (WAL, one worker process), and its REST calls."""

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

    def __init__(self, data_dir: Path, *, same_sqlite: bool = False) -> None:
        """``same_sqlite``: Clearway's SQLite settings (journal in WAL mode, one server process) instead of MLflow's
        defaults (a rollback journal, ``--workers`` left at MLflow's 4); synchronous is FULL on both."""
        super().__init__(data_dir)
        self.db_path = data_dir / "mlflow.db"
        self.same_sqlite = same_sqlite
        if same_sqlite:
            # WAL is kept in the database file: set once, before MLflow creates its tables, it holds for every
            # connection MLflow opens.
            with sqlite3.connect(self.db_path) as conn:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"SQLite refused WAL for {self.db_path}: {mode}")

    @property
    def settings(self) -> str:
        """What this server runs with, as the results say it."""
        if self.same_sqlite:
            return "SQLite WAL, synchronous FULL, 1 worker process"
        return "SQLite rollback journal (no WAL), synchronous FULL, 4 worker processes (MLflow's defaults)"

    def journal_mode(self) -> str:
        with sqlite3.connect(self.db_path) as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    @classmethod
    @contextmanager
    def running(cls, data_dir: Path, *, same_sqlite: bool = False) -> Iterator[MlflowServer]:
        server = cls(data_dir, same_sqlite=same_sqlite)
        try:
            server.start()
            if same_sqlite and server.journal_mode() != "wal":
                raise RuntimeError(f"MLflow's database left WAL mode: {server.journal_mode()}")
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
            *(["--workers", "1"] if self.same_sqlite else []),
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

    def seed_runs(self, experiment_ids: list[str], runs: list[dict[str, Any]]) -> None:
        """Add finished runs straight into MLflow's tables (seeding is not what is measured): each with its name,
        ``experiment`` (an index into ``experiment_ids``), status, start time, ``deleted``, tags, params, metrics."""
        rows, tags, params, metrics = [], [], [], []
        for run in runs:
            run_id = uuid.uuid4().hex
            start = run["start_time"]
            rows.append(
                (run_id, run["name"], "LOCAL", "train.py", "", "bench", run["status"], start, start + 500, "",
                 "deleted" if run["deleted"] else "active", str(self.data_dir / "artifacts"),
                 int(experiment_ids[run["experiment"]]))
            )  # fmt: skip
            tags += [(key, value, run_id) for key, value in run["tags"].items()]
            tags.append(("mlflow.runName", run["name"], run_id))
            params += [(key, value, run_id) for key, value in run["params"].items()]
            metrics += [(key, value, start, run_id, 0, False) for key, value in run["metrics"].items()]
        with sqlite3.connect(self.db_path) as conn:
            conn.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
                " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
            conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics
            )
            conn.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
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
