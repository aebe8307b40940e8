"""Runs the app under uvicorn: in this process, or in N worker processes that share one listening socket.

Every accepted connection gets TCP_NODELAY. asyncio sets it only on sockets whose ``proto`` is TCP, and uvicorn's
multi-process mode binds its socket with ``proto`` 0, which the accepted sockets inherit: without this every
kept-alive response waits for the client's delayed ACK, about 40 ms (uvicorn issue #3149).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from clearway.settings import Settings

HTTP_PROTOCOL = f"{__name__}:NoDelayHttpProtocol"
WORKER_HEALTHCHECK_SEC = 60
# proxy_headers off: X-Forwarded-For is read only from CLEARWAY_TRUSTED_PROXIES, by IdentityMiddleware.
# A few seconds for requests in flight at shutdown: live event streams (/events/stream) never end by themselves.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    "timeout_graceful_shutdown": 5,
}


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (httptools, or h11), with TCP_NODELAY on its connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


def worker_app() -> Any:
    """The app of one worker process (which starts afresh: its logging is set up here)."""
    from clearway.app import create_app
    from clearway.ops.logs import configure_logging

    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve until stopped. With ``workers`` > 1 each worker process builds its own app from the same settings
    (the environment), and metrics are gathered across them through a shared directory."""
    # A kept-alive connection closed by the server just as the client reuses it fails that request: keep idle
    # connections longer than clients and proxies do (uvicorn's default is 5 s; agents poll every 5 s or so).
    options = {**UVICORN_OPTIONS, "timeout_keep_alive": settings.keep_alive_sec}
    if workers <= 1:
        from clearway.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, http=NoDelayHttpProtocol, **options)
        return
    metrics_dir = tempfile.mkdtemp(prefix="clearway-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # the workers inherit it
    try:
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=HTTP_PROTOCOL,
            # uvicorn kills a worker that does not answer its ping within this: 5 s by default, which a busy worker
            # on a loaded machine can miss, losing the requests it was serving.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SEC,
            **options,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
