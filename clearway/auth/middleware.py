"""Identity first: every request becomes an :class:`Identity`, or is refused, before any route sees it.

Only the public paths (declared once, in :mod:`clearway.app`) pass without credentials; everything else, any route
added later included, needs a valid Bearer token used from an allowed address. Routes read the result with
:func:`request_identity`, and the client's address (behind trusted proxies, the forwarded one) with
:func:`request_client_ip`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from clearway.auth.authenticator import Authenticator
from clearway.auth.client_address import UNKNOWN, ClientAddress
from clearway.domain.identity import Identity
from clearway.errors import ClearwayError, MissingCredentials

Refusal = Callable[[str, ClearwayError], Response]


class IdentityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        auth: Authenticator,
        addresses: ClientAddress,
        is_public: Callable[[str], bool],
        refusal: Refusal,
    ) -> None:
        self.app = app
        self.auth = auth
        self.addresses = addresses
        self.is_public = is_public
        self.refusal = refusal  # renders a refusal the way the surface at that path renders errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else None
        state = scope.setdefault("state", {})
        state.pop("identity", None)
        state["client_ip"] = client_ip = self.addresses.resolve(peer, headers.getlist("x-forwarded-for"))
        if not self.is_public(scope["path"]):
            try:
                state["identity"] = await run_in_threadpool(self.auth.identify, headers.get("authorization"), client_ip)
            except ClearwayError as exc:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": exc.message})
                else:
                    await self.refusal(scope["path"], exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def request_identity(connection: HTTPConnection) -> Identity:
    """The caller, as :class:`IdentityMiddleware` identified it."""
    identity = connection.scope.get("state", {}).get("identity")
    if not isinstance(identity, Identity):
        raise MissingCredentials()
    return identity


def request_client_ip(connection: HTTPConnection) -> str:
    """The client's address: the peer's, or the one trusted proxies forwarded (:data:`UNKNOWN` if unreadable)."""
    return connection.scope.get("state", {}).get("client_ip") or UNKNOWN
