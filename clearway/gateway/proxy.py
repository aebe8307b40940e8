"""Calls to serving machines: one ``aiohttp`` session per machine address, its connections kept alive, connect and
read timeouts from the settings; an unreachable machine is a 503 and a slow one a 504, at once, with a body that
says which. Health bookkeeping (:mod:`clearway.domain.gateway.health`) happens around each call; recording a change
of health runs off the event loop.

aiohttp rather than httpx here: its C response parser and plain connection pool cost about a third of the CPU per
call of httpx's stack (httpcore, h11, anyio), which was most of what the gateway added to a call."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp
from starlette.concurrency import run_in_threadpool

from clearway.domain.gateway.health import MachineHealth
from clearway.errors import MachineTimeout, MachineUnavailable
from clearway.settings import Settings
from clearway.store.base import Doc

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
        # connect: waiting for a free connection and opening one; sock_read: between two reads of the answer.
        self.timeout = aiohttp.ClientTimeout(
            connect=settings.gateway_connect_timeout_sec, sock_read=settings.gateway_read_timeout_sec
        )
        self.pool_size = settings.gateway_pool_size
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._tls: ssl.SSLContext | None = None

    def _session(self, url: str) -> aiohttp.ClientSession:
        session = self._sessions.get(url)
        if session is None:  # made in the event loop that serves requests, on first need
            if self._tls is None:  # loading the CA certificates takes a tenth of a second: once, on first need
                self._tls = ssl.create_default_context()
            connector = aiohttp.TCPConnector(limit=self.pool_size, keepalive_timeout=KEEPALIVE_SEC, ssl=self._tls)
            session = self._sessions[url] = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
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
        headers = {"Content-Type": content_type or "application/json"}
        try:
            async with self._session(url).post(
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
