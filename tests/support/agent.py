"""A real ``clearml-agent daemon`` process serving one queue of a test server, with fast polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# report_use_subprocess: false avoids the SDK's fork deadlock in the task process too (wire contract 9.1).
AGENT_CONF = """
agent {{
    worker_id: "{worker}"
    venvs_dir: "{root}/venvs"
    vcs_cache {{ enabled: false, path: "{root}/vcs-cache" }}
    pip_download_cache {{ enabled: false, path: "{root}/pip-cache" }}
    docker_pip_cache: "{root}/docker-pip-cache"
    docker_apt_cache: "{root}/docker-apt-cache"
    task_ping_interval_sec: 2
}}
sdk {{ development {{ report_use_subprocess: false, worker {{ report_period_sec: 1 }} }} }}
"""


@dataclass
class AgentProcess:
    """``clearml-agent daemon --queue QUEUE --foreground --cpu-only [--use-owner-token]`` with agent credentials.

    No virtual environment and no pip: tasks run with this interpreter. The agent leads a session of its own, so
    :meth:`kill` (SIGKILL, as a machine dying) and :meth:`stop` reach the task processes it started too.
    """

    root: Path
    creds: dict[str, str]
    queue: str
    worker: str
    use_owner_token: bool = True
    execute: str | None = None  # run just this task (``clearml-agent execute --id``) instead of serving the queue
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.root / "agent.log"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "agent.conf"
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        conf.write_text(textwrap.dedent(AGENT_CONF.format(worker=self.worker, root=self.root)))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "CLEARWAY_", "TRAINS_"))},
            **self.creds,
            "CLEARML_CONFIG_FILE": str(conf),
            "CLEARML_WORKER_ID": self.worker,
            "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
            "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
            "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
            "CLEARML_AGENT_STATUS_REPORT_FREQ_SEC": "1",
            "HOME": str(self.root),
            # The agent keeps its one-daemon-per-worker-id lock in the temp dir: one per agent, so parallel
            # runs of the suite (or a leftover agent) cannot collide.
            "TMPDIR": str(tmp),
            "MPLBACKEND": "Agg",
            "PYTHONWARNINGS": "ignore",
        }
        agent = Path(sys.executable).parent / "clearml-agent"
        command = [str(agent), "daemon", "--queue", self.queue, "--foreground", "--cpu-only"]
        if self.execute is not None:
            command = [str(agent), "execute", "--id", self.execute, "--cpu-only"]
        elif self.use_owner_token:
            command.append("--use-owner-token")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the agent and everything it started, the way a machine that loses power stops."""
        self._signal_all(signal.SIGKILL)

    def stop(self) -> None:
        if not self.alive():
            self._signal_all(signal.SIGKILL)  # task processes may outlive a dead agent
            return
        self._signal_all(signal.SIGTERM)
        assert self.process is not None
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self._signal_all(signal.SIGKILL)

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _signal_all(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            family = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for proc in family:
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.process.pid, sig)  # whatever is left of its session, orphans included
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            for proc in family:
                try:
                    proc.wait(10)
                except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                    pass
            self.process.poll()
