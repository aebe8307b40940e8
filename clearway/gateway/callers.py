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

from clearway.domain.gateway.tokens import is_gateway_token
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
    return await run_in_threadpool(identify_now, services, token, client_ip)


def identify_now(services: Services, token: str | None, client_ip: str) -> Caller:
    """:func:`identify` in the calling thread (which is not the event loop's: it may read the database)."""
    if not token or not isinstance(token, str):
        raise MissingCredentials()
    if is_gateway_token(token):
        record = services.gateway.tokens.verify(token)
        identity = services.auth.identify_user(record["user_id"], client_ip)
        services.gateway.tokens.count_call(record)
        return Caller(identity, record)
    return Caller(services.auth.identify(f"Bearer {token}", client_ip), None)


class RecentCallers:
    """Callers identified by a Clearway or OIDC token from an address in the last ``ttl_sec`` (the key cache's
    lifetime, so a revoked key stops here within the same time as everywhere else): a call whose records are
    cached as well goes on without leaving the event loop. Gateway tokens are not kept: each call counts against
    their rate limit, in the database."""

    def __init__(self, ttl_sec: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_sec = ttl_sec
        self.clock = clock
        self._callers: dict[tuple[str, str], tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, token: str | None, client_ip: str) -> Caller | None:
        hit = self._callers.get((token, client_ip)) if token else None
        return hit[1] if hit is not None and self.clock() - hit[0] < self.ttl_sec else None

    def put(self, token: str | None, client_ip: str, caller: Caller) -> None:
        if not token or caller.token is not None:
            return
        with self._lock:
            if len(self._callers) > 10_000:
                self._callers.clear()
            self._callers[(token, client_ip)] = (self.clock(), caller)
