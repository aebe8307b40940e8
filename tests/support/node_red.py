"""A real, headless Node-RED with Clearway's nodes installed from the tarball ``npm pack`` makes, as a user
installs them; flows deployed through its admin HTTP API; a collector for what the flows send out."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "node-red"
EXAMPLES_DIR = PACKAGE_DIR / "examples"

SETTINGS = """module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    flowFile: "flows.json",
    credentialSecret: {secret},
    disableEditor: true,
    logging: {{ console: {{ level: "debug", metrics: false, audit: true }} }},
}};
"""


def npm(*args: str, cwd: Path, timeout: float = 600) -> str:
    """Run npm; its output on failure."""
    result = subprocess.run(
        ["npm", "--no-audit", "--no-fund", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"npm {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def build_package(dest: Path) -> Path:
    """``npm ci`` in node-red/ (Node-RED itself and the test helper, the package's dev dependencies), then
    ``npm pack``: the tarball a user installs."""
    npm("ci", cwd=PACKAGE_DIR)
    out = npm("pack", "--json", "--pack-destination", str(dest), cwd=PACKAGE_DIR)
    return dest / json.loads(out)[0]["filename"]


@dataclass
class NodeRed:
    """``node-red`` (the one ``npm ci`` put in node-red/node_modules) on a free port, with its own user
    directory, into which the package's tarball is installed with ``npm install``."""

    user_dir: Path
    credential_secret: str = "node-red-credential-secret-of-the-test"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.user_dir / "node-red.log"

    def install(self, tarball: Path) -> None:
        self.user_dir.mkdir(parents=True, exist_ok=True)
        (self.user_dir / "package.json").write_text(json.dumps({"name": "node-red-project", "private": True}))
        npm("install", str(tarball), cwd=self.user_dir)

    def start(self, timeout: float = 90) -> None:
        settings = self.user_dir / "settings.js"
        settings.write_text(SETTINGS.format(port=self.port, secret=json.dumps(self.credential_secret)))
        red = PACKAGE_DIR / "node_modules" / "node-red" / "red.js"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", str(red), "--settings", str(settings), "--userDir", str(self.user_dir)],
                cwd=self.user_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node-red exited:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/settings", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"node-red did not answer in time:\n{self.tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def deploy(self, flows: list[dict[str, Any]]) -> None:
        """Replace every flow (a full deploy, as the editor's Deploy button); credentials ride on the nodes."""
        response = httpx.post(
            f"{self.url}/flows",
            json=flows,
            headers={"Node-RED-Deployment-Type": "full", "Node-RED-API-Version": "v1"},
            timeout=30,
        )
        assert response.status_code in (200, 204), response.text

    def flows(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/flows", headers={"Node-RED-API-Version": "v1"}, timeout=30).json()

    def node_types(self) -> dict[str, dict[str, Any]]:
        """The installed node sets by type, as the palette manager lists them."""
        sets = httpx.get(f"{self.url}/nodes", headers={"Accept": "application/json"}, timeout=30).json()
        return {kind: node_set for node_set in sets for kind in node_set.get("types", [])}

    def inject(self, node_id: str) -> None:
        """Press an inject node's button."""
        response = httpx.post(f"{self.url}/inject/{node_id}", timeout=30)
        assert response.status_code == 200, response.text


class Collector:
    """An HTTP server that keeps the JSON bodies POSTed to it, by path: the flows send it the whole messages that
    reach their ends (see :func:`collect`)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                collector.received.append((self.path, json.loads(body or b"null")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[Any]:
        return [body for where, body in list(self.received) if where == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def collect(collector: Collector, node_id: str, tab: str, path: str) -> list[dict[str, Any]]:
    """Two nodes that POST every message reaching ``node_id`` to the collector at ``path``: a function that makes
    the whole message the payload, and an ``http request``."""
    return [
        {
            "id": node_id,
            "type": "function",
            "z": tab,
            "func": "return {payload: JSON.parse(JSON.stringify(msg))};",
            "outputs": 1,
            "wires": [[f"{node_id}-post"]],
        },
        {
            "id": f"{node_id}-post",
            "type": "http request",
            "z": tab,
            "method": "POST",
            "ret": "txt",
            "paytoqs": "ignore",
            "url": f"{collector.url}{path}",
            "persist": False,
            "authType": "",
            "senderr": False,
            "headers": [],
            "wires": [[]],
        },
    ]


def example_flows() -> dict[str, list[dict[str, Any]]]:
    """The package's example flows, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(EXAMPLES_DIR.glob("*.json"))}
