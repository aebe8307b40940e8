"""A stand-in for a clearml-serving inference app, for the gateway's routing tests: a real process answering
``POST /serve/{endpoint}`` like the real app does (JSON in, JSON out), plus endpoints that misbehave on purpose.

- ``/serve/sum``: ``{"y": [sum of the body's numbers]}``
- ``/serve/echo``: the body and its content type back, unchanged
- ``/serve/status/{code}``: an answer with that status
- ``/serve/slow/{seconds}``: answers after sleeping that long
- anything else: 404, as clearml-serving answers an unknown endpoint
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.server import free_port


async def serve(request: Request) -> Response:
    endpoint = request.path_params["endpoint"]
    body = await request.body()
    if endpoint == "sum":
        values = await request.json()
        return JSONResponse({"y": [sum(v for v in values.values() if isinstance(v, int | float))]})
    if endpoint == "echo":
        return Response(body, media_type=request.headers.get("content-type"), headers={"x-standin": "echo"})
    if endpoint.startswith("status/"):
        return JSONResponse({"detail": "as asked"}, status_code=int(endpoint.split("/")[1]))
    if endpoint.startswith("slow/"):
        await asyncio.sleep(float(endpoint.split("/")[1]))
        return JSONResponse({"slept": True})
    return JSONResponse({"detail": f"Unknown endpoint {endpoint}"}, status_code=404)


app = Starlette(routes=[Route("/serve/{endpoint:path}", serve, methods=["POST"])])


@dataclass
class StandinServing:
    """The stand-in app in a uvicorn process of its own, on a free port."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        command = [sys.executable, "-m", "uvicorn", "tests.support.standin_serving:app", "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{self.url}/serve/echo", content=b"{}", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the stand-in serving app did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
