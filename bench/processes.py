"""A server process the run started: its own process group, its resident memory, and a stop that always ends it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            # Its own session, so that stop() ends the workers it forks too (and nothing else).
            self.popen = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def rss_mb(self) -> float:
        """Resident memory of the process and all its descendants, in MiB."""
        root = psutil.Process(self.popen.pid)
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def stop(self) -> None:
        """End the whole process group (the server and any workers it forked)."""
        group = self.popen.pid  # the group leader's id is the group's id (start_new_session)
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.popen.wait(5)


class BenchServer:
    """A server the benchmark starts and stops, timing each start from the process start to its first answer."""

    name = "server"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: ServerProcess | None = None
        self.start_seconds: list[float] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self, command: list[str], env: dict[str, str], answers: Callable[[], bool], timeout: float) -> float:
        """Start ``command`` and poll ``answers`` until it is true; the seconds that took."""
        started = time.perf_counter()
        self.process = ServerProcess(command, env, self.data_dir / "server.log")
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.exited():
                raise RuntimeError(f"{self.name} exited:\n{self.process.log_tail()}")
            try:
                if answers():
                    self.start_seconds.append(time.perf_counter() - started)
                    return self.start_seconds[-1]
            except httpx.TransportError:
                time.sleep(0.005)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.process.log_tail()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def rss_mb(self) -> float:
        assert self.process is not None
        return self.process.rss_mb()
