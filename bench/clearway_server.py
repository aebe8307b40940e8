"""A ``clearway server`` process on a fresh database, with one user, timed from start to its first answer."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.backends import Backend
from bench.processes import BenchServer

USER = "bench"


class ClearwayServer(BenchServer):
    name = "clearway server"

    def __init__(self, data_dir: Path, backend: Backend, database_url: str, env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir)
        self.backend = backend
        self.database_url = database_url
        self.env = env or {}  # CLEARWAY_* settings of this server
        self.credentials: dict[str, str] = {}
        self.identity: Any = None  # clearway.domain.identity.Identity of USER, for seeding in process

    @classmethod
    @contextmanager
    def running(cls, data_dir: Path, backend: Backend, **env: str) -> Iterator[ClearwayServer]:
        with backend.database(data_dir) as url:
            server = cls(data_dir, backend, url, env)
            server.prepare()
            try:
                server.start()
                yield server
            finally:
                server.stop()

    def prepare(self) -> None:
        """Migrate the database and create the user and its key, in process (as ``clearway db upgrade`` would)."""
        from clearway.auth.keys import generate_key_pair, hash_secret
        from clearway.store import migrations

        migrations.upgrade(self.database_url)
        with self.services() as services:
            identity_store = services.stores.identity
            org = identity_store.ensure_org("default")
            user = identity_store.create_user(org["id"], USER, "user")
            pair = generate_key_pair()
            identity_store.add_key(user["id"], pair.access_key, hash_secret(pair.secret_key))
            self.identity = identity_store.identity_of(user["id"])
        self.credentials = {
            "CLEARML_API_HOST": self.url,
            "CLEARML_WEB_HOST": self.url,
            "CLEARML_FILES_HOST": f"{self.url}/files",
            "CLEARML_API_ACCESS_KEY": pair.access_key,
            "CLEARML_API_SECRET_KEY": pair.secret_key,
        }

    @contextmanager
    def services(self) -> Iterator[Any]:
        """The server's own services over the same database, in this process (for fast seeding)."""
        from clearway.services import Services
        from clearway.settings import Settings

        services = Services.build(Settings(data_dir=self.data_dir, database_url=self.database_url))
        try:
            yield services
        finally:
            services.stores.db.dispose()

    def start(self) -> float:
        """Start the server; seconds from the process start to its first answered ``auth.login``."""
        env = {
            **os.environ,
            "CLEARWAY_DATA_DIR": str(self.data_dir),
            "CLEARWAY_DATABASE_URL": self.database_url,
            **self.env,
        }
        auth = (self.credentials["CLEARML_API_ACCESS_KEY"], self.credentials["CLEARML_API_SECRET_KEY"])
        return self.launch(
            [sys.executable, "-m", "clearway", "server", "--port", str(self.port)],
            env,
            lambda: httpx.post(f"{self.url}/auth.login", auth=auth, timeout=5).status_code == 200,
            timeout=60,
        )

    def client(self) -> httpx.Client:
        """A kept-alive client logged in as the user."""
        auth = (self.credentials["CLEARML_API_ACCESS_KEY"], self.credentials["CLEARML_API_SECRET_KEY"])
        with httpx.Client(base_url=self.url, auth=auth) as login:
            token = call(login, "auth.login")["token"]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def call(client: httpx.Client, endpoint: str, body: Any = None, *, content: bytes | None = None) -> dict[str, Any]:
    """One ClearML API call; its ``data``, or an error naming the endpoint."""
    response = client.post(f"/{endpoint}", json=body, content=content)
    if response.status_code != 200:
        raise RuntimeError(f"{endpoint} failed ({response.status_code}): {response.text[:500]}")
    return response.json()["data"]
