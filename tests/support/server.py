"""A real ``clearway server`` process on a free port, and the CLI that manages its users."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.support.databases import fresh_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CLEARWAY_DATA_DIR": str(self.data_dir),
            "CLEARWAY_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def cli(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clearway", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            input=input,
        )

    def start(self, timeout: float = 30, *, upgrade: bool = True) -> None:
        """Start and wait for /health; ``upgrade`` False leaves an empty database for the server to set up."""
        if upgrade:
            self.cli("db", "upgrade")
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - kept open for the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clearway", "server", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not answer /health in time")

    def kill(self) -> None:
        """SIGKILL the server (and its worker processes), as a machine that loses power."""
        assert self.process is not None
        for proc in [*psutil.Process(self.process.pid).children(recursive=True), psutil.Process(self.process.pid)]:
            proc.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def user(self, name: str, role: str = "user", org: str = "default") -> dict[str, str]:
        """Create a user and a key pair; the CLEARML_* variables that point the SDK at this server as them."""
        self.cli("users", "create", name, "--role", role, "--org", org)
        return self.credentials(name)

    def credentials(self, name: str) -> dict[str, str]:
        out = self.cli("env", name, "--url", self.url).stdout
        env = {}
        for line in out.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0]
        return env


@contextmanager
def running_server(data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """A server on a fresh database of the suite's kind, configured by ``CLEARWAY_*`` variables; stopped after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with fresh_database(data_dir) as url:
        proc = ServerProcess(data_dir=data_dir, database_url=url, extra_env=env)
        proc.start()
        try:
            yield proc
        finally:
            proc.stop()
