"""Calls to serving machines: kept-alive connections per machine address (``httpx.AsyncClient`` pools, see
:class:`_Pool`), connect and read timeouts from the settings; an unreachable machine is a 503 and a slow one a 504, at
once, with a body that says which. Health bookkeeping (:mod:`clearway.domain.gateway.health`) happens around each
call; recording a change of health runs off the event loop."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.concurrency import run_in_threadpool

from clearway.domain.gateway.health import MachineHealth
from clearway.errors import MachineTimeout, MachineUnavailable
from clearway.settings import Settings
from clearway.store.base import Doc

# The model's answer keeps these of its headers; hop-by-hop and framing headers are the server's own.
KEPT_HEADERS = ("content-type", "cache-control")  # httpx gives the body decoded: no content-encoding


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    headers: dict[str, str]


class Proxy:
    def __init__(self, settings: Settings, health: MachineHealth) -> None:
        self.health = health
        self.timeout = httpx.Timeout(
            connect=settings.gateway_connect_timeout_sec,
            read=settings.gateway_read_timeout_sec,
            write=settings.gateway_read_timeout_sec,
            pool=settings.gateway_connect_timeout_sec,
        )
        self.pool_size = settings.gateway_pool_size
        self._pools: dict[str, _Pool] = {}
        self._tls: ssl.SSLContext | None = None

    def _pool(self, url: str) -> _Pool:
        pool = self._pools.get(url)
        if pool is None:
            if self._tls is None:  # loading the CA certificates takes a tenth of a second: once, on first need
                self._tls = ssl.create_default_context()
            pool = self._pools[url] = _Pool(self.timeout, self.pool_size, self._tls)
        return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def serve(self, machine: Doc, endpoint: str, body: bytes, content_type: str | None) -> Answer:
        """POST the body to the machine's ``/serve/<endpoint>``: its answer, whatever its status."""
        self.health.admit(machine)
        headers = {"content-type": content_type or "application/json"}
        try:
            async with self._pool(machine["url"]).client() as client:
                response = await client.post(f"{machine['url']}/serve/{endpoint}", content=body, headers=headers)
        except httpx.TimeoutException as exc:
            # A connect or pool timeout: nobody answered; a read or write timeout: too slow.
            unreachable = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            reason = "unreachable (connect timeout)" if unreachable else "timed out"
            await self._failed(machine, reason)
            if unreachable:
                raise MachineUnavailable(
                    f"Serving machine {machine['name']!r} is unreachable", reason="unreachable"
                ) from exc
            raise MachineTimeout(
                f"Serving machine {machine['name']!r} did not answer in time", reason="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            await self._failed(machine, f"unreachable: {type(exc).__name__}")
            raise MachineUnavailable(
                f"Serving machine {machine['name']!r} is unreachable", reason="unreachable"
            ) from exc
        if response.status_code >= 502:  # the machine's own proxy or app is failing
            await self._failed(machine, f"answered {response.status_code}")
        else:
            was_down = self.health.succeeded(machine)
            if was_down is not None:
                await run_in_threadpool(self.health.mark_up, machine, was_down)
        kept = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
        return Answer(response.status_code, response.content, kept)

    async def _failed(self, machine: Doc, reason: str) -> None:
        if self.health.failed(machine):
            await run_in_threadpool(self.health.mark_down, machine, reason)


class _Pool:
    """Kept-alive connections to one machine, as several small ``httpx.AsyncClient`` pools (``SHARD`` connections
    each), a call going to the one with the fewest calls in flight; a new one is opened only when every open one is
    full. httpcore scans a pool's every connection (a poll(2) each) twice per request, twice over: with 32 calls in
    flight in one pool that scan cost the server more than the rest of the call (measured: 117 req/s through one
    pool where the app alone answered 822)."""

    SHARD = 4

    def __init__(self, timeout: httpx.Timeout, size: int, tls: ssl.SSLContext) -> None:
        self.timeout = timeout
        self.tls = tls
        self.limits = httpx.Limits(
            max_connections=self.SHARD, max_keepalive_connections=self.SHARD, keepalive_expiry=60
        )
        self.most = max(1, -(-size // self.SHARD))
        self._clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        index = min(range(len(self._busy)), key=self._busy.__getitem__, default=-1)
        if index < 0 or (self._busy[index] >= self.SHARD and len(self._clients) < self.most):
            # Made in the event loop that serves requests, on first need.
            self._clients.append(
                httpx.AsyncClient(timeout=self.timeout, limits=self.limits, verify=self.tls, trust_env=False)
            )
            self._busy.append(0)
            index = len(self._clients) - 1
        self._busy[index] += 1
        try:
            yield self._clients[index]
        finally:
            self._busy[index] -= 1

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
