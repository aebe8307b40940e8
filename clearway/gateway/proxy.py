"""Calls to serving machines: one ``httpx.AsyncClient`` with kept-alive connection pools (one per machine
address), connect and read timeouts from the settings; an unreachable machine is a 503 and a slow one a 504, at
once, with a body that says which. Health bookkeeping (:mod:`clearway.domain.gateway.health`) happens around each
call; recording a change of health runs off the event loop."""

from __future__ import annotations

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
        self.limits = httpx.Limits(
            max_connections=settings.gateway_pool_size,
            max_keepalive_connections=settings.gateway_pool_size,
            keepalive_expiry=60,
        )
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        # Made on first use, inside the event loop that serves requests.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=self.limits, trust_env=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def serve(self, machine: Doc, endpoint: str, body: bytes, content_type: str | None) -> Answer:
        """POST the body to the machine's ``/serve/<endpoint>``: its answer, whatever its status."""
        self.health.admit(machine)
        headers = {"content-type": content_type or "application/json"}
        try:
            response = await self.client.post(f"{machine['url']}/serve/{endpoint}", content=body, headers=headers)
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
