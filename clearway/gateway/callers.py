"""Who calls the gateway: a gateway token (counted against its rate limit), a Clearway API token from
``auth.login``, or an OIDC access token of the configured issuer; from the Authorization header, or on Snap4City's
routes from the body's ``access_token``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from clearway.domain.gateway.tokens import GatewayTokens, is_gateway_token
from clearway.domain.identity import Identity
from clearway.errors import MalformedCredentials, MissingCredentials
from clearway.services import Services
from clearway.store.base import Doc


@dataclass(frozen=True)
class Caller:
    identity: Identity
    token: Doc | None  # the gateway token's record, when it called with one


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise MalformedCredentials("Expected a Bearer token")
    return value.strip()


async def identify(services: Services, token: str | None, client_ip: str) -> Caller:
    caller = await run_in_threadpool(_identify, services, token, client_ip)
    await count_call(services, caller)
    return caller


async def count_call(services: Services, caller: Caller) -> None:
    """Count a gateway token's call against its rate limit (429 past it): on the event loop when the count is
    kept in this process's memory, else in a worker thread (a trip to Redis)."""
    if caller.token is None:
        return
    tokens = services.gateway.tokens
    if tokens.counted_in_process:
        tokens.count_call(caller.token)
    else:
        await run_in_threadpool(tokens.count_call, caller.token)


def _identify(services: Services, token: str | None, client_ip: str) -> Caller:
    if not token or not isinstance(token, str):
        raise MissingCredentials()
    if is_gateway_token(token):
        record = services.gateway.tokens.verify(token)
        assert record is not None
        return Caller(services.auth.identify_user(record["user_id"], client_ip), record)
    return Caller(services.auth.identify(f"Bearer {token}", client_ip), None)


class RecentCallers:
    """Callers identified from an address in the last ``ttl_sec`` (the key cache's lifetime, so a revoked key
    stops here within the same time as everywhere else; a revoked gateway token stops at once, see
    :meth:`get`): a call whose records are cached as well goes on without leaving the event loop."""

    def __init__(self, tokens: GatewayTokens, ttl_sec: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.tokens = tokens
        self.ttl_sec = ttl_sec
        self.clock = clock
        self._callers: dict[tuple[str, str], tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, token: str | None, client_ip: str) -> Caller | None:
        """The caller, when seen lately; a gateway token is checked again against its cached record (revoked or
        expired: :class:`InvalidToken`), None when that record is not cached."""
        hit = self._callers.get((token, client_ip)) if token else None
        if hit is None or self.clock() - hit[0] >= self.ttl_sec:
            return None
        caller = hit[1]
        if caller.token is not None and token is not None:
            record = self.tokens.verify(token, cached_only=True)
            if record is None:
                return None
            caller = Caller(caller.identity, record)
        return caller

    def put(self, token: str | None, client_ip: str, caller: Caller) -> None:
        if not token:
            return
        with self._lock:
            if len(self._callers) > 10_000:
                self._callers.clear()
            self._callers[(token, client_ip)] = (self.clock(), caller)
