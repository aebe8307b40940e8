"""Calls to serving machines: one ``aiohttp`` session per machine address, its connections kept alive, connect and
read timeouts from the settings; an unreachable machine is a 503 and a slow one a 504, at once, with a body that
says which. Health bookkeeping (:mod:`clearway.domain.gateway.health`) happens around each call; recording a change
of health runs off the event loop.

aiohttp rather than httpx here: its C response parser and plain connection pool cost about a third of the CPU per
call of httpx's stack (httpcore, h11, anyio), which was most of what the gateway added to a call."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from clearway.domain.gateway.health import MachineHealth
from clearway.errors import MachineTimeout, MachineUnavailable
from clearway.settings import Settings
from clearway.store.base import Doc

if TYPE_CHECKING:
    import aiohttp

# The model's answer keeps these of its headers; hop-by-hop and framing headers are the server's own.
KEPT_HEADERS = ("content-type", "cache-control")  # aiohttp gives the body decoded: no content-encoding
# An idle connection is dropped before the serving machine's server drops it (clearml-serving's gunicorn keeps one
# 2 s, uvicorn 5 s): a request sent just as the other side closes would be lost, and a POST is not retried.
KEEPALIVE_SEC = 1.5


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    headers: dict[str, str]


class Proxy:
    def __init__(self, settings: Settings, health: MachineHealth) -> None:
        self.health = health
        self.settings = settings
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    async def _session(self, url: str) -> aiohttp.ClientSession:
        session = self._sessions.get(url)
        if session is None:
            # aiohttp is imported on first need, in a worker thread: its import (the CA certificates with it) takes
            # a few tenths of a second, which would lengthen every server's start, or stall the event loop.
            await run_in_threadpool(importlib.import_module, "aiohttp")
            session = self._sessions.get(url) or self._open(url)
        return session

    def _open(self, url: str) -> aiohttp.ClientSession:
        """A session for one machine, made in the event loop that serves requests."""
        import aiohttp  # imported already (see _session): a look-up in sys.modules

        settings = self.settings
        # connect: waiting for a free connection and opening one; sock_read: between two reads of the answer.
        timeout = aiohttp.ClientTimeout(
            connect=settings.gateway_connect_timeout_sec, sock_read=settings.gateway_read_timeout_sec
        )
        connector = aiohttp.TCPConnector(limit=settings.gateway_pool_size, keepalive_timeout=KEEPALIVE_SEC)
        session = self._sessions[url] = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # one caller's cookies are never sent for another
        )
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def serve(self, machine: Doc, endpoint: str, body: bytes, content_type: str | None) -> Answer:
        """POST the body to the machine's ``/serve/<endpoint>``: its answer, whatever its status."""
        self.health.admit(machine)
        url = machine["url"]
        session = await self._session(url)
        import aiohttp  # imported by _session, off the event loop: a look-up in sys.modules

        headers = {"Content-Type": content_type or "application/json"}
        try:
            async with session.post(
                f"{url}/serve/{endpoint}", data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await response.read()
        except aiohttp.ConnectionTimeoutError as exc:  # nobody answered, or no connection free in time
            await self._failed(machine, "unreachable (connect timeout)")
            raise MachineUnavailable(
                f"Serving machine {machine['name']!r} is unreachable", reason="unreachable"
            ) from exc
        except TimeoutError as exc:  # connected, but the answer was too slow
            await self._failed(machine, "timed out")
            raise MachineTimeout(
                f"Serving machine {machine['name']!r} did not answer in time", reason="timeout"
            ) from exc
        except aiohttp.ClientError as exc:
            await self._failed(machine, f"unreachable: {type(exc).__name__}")
            raise MachineUnavailable(
                f"Serving machine {machine['name']!r} is unreachable", reason="unreachable"
            ) from exc
        status = response.status
        if status >= 502:  # the machine's own proxy or app is failing
            await self._failed(machine, f"answered {status}")
        else:
            was_down = self.health.succeeded(machine)
            if was_down is not None:
                await run_in_threadpool(self.health.mark_up, machine, was_down)
        got = response.headers
        kept = {name: got[name] for name in KEPT_HEADERS if name in got}
        return Answer(status, content, kept)

    async def _failed(self, machine: Doc, reason: str) -> None:
        if self.health.failed(machine):
            await run_in_threadpool(self.health.mark_down, machine, reason)
