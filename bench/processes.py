"""A server process the run started: its own process group, its resident memory, and a stop that always ends it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

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
