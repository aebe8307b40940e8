"""Identity first: every request becomes an :class:`Identity`, or is refused, before any route sees it.

Only the public paths (declared once, in :mod:`clearway.app`) pass without credentials; everything else, any route
added later included, needs a valid Bearer token used from an allowed address (or, where ``cookie_allowed`` says so,
the web UI's session cookie). Routes read the result with
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
from clearway.auth.web_sessions import COOKIE, WebSessions
from clearway.domain.identity import Identity
from clearway.errors import ClearwayError, MissingCredentials

Refusal = Callable[[str, ClearwayError], Response]
# A session cookie of the web UI stands for its user on the paths where ``cookie_allowed(method, path)`` is true:
# the web pages, and downloads from the file server (``<img>`` and ``<a>`` send no Bearer header).
CookieAllowed = Callable[[str, str], bool]


class IdentityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        auth: Authenticator,
        addresses: ClientAddress,
        is_public: Callable[[str], bool],
        refusal: Refusal,
        web_sessions: WebSessions | None = None,
        cookie_allowed: CookieAllowed | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.addresses = addresses
        self.is_public = is_public
        self.refusal = refusal  # renders a refusal the way the surface at that path renders errors
        self.web_sessions = web_sessions
        self.cookie_allowed = cookie_allowed or (lambda _method, _path: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else None
        state = scope.setdefault("state", {})
        state.pop("identity", None)
        state.pop("web_csrf", None)
        state["client_ip"] = client_ip = self.addresses.resolve(peer, headers.getlist("x-forwarded-for"))
        if not self.is_public(scope["path"]):
            try:
                authorization = headers.get("authorization")
                cookie = self._session_cookie(scope, headers) if not authorization else None
                if cookie is not None and self.web_sessions is not None:
                    login = await run_in_threadpool(self.web_sessions.identify, cookie, client_ip)
                    state["identity"], state["web_csrf"] = login.identity, login.csrf
                else:
                    state["identity"] = await run_in_threadpool(self.auth.identify, authorization, client_ip)
            except ClearwayError as exc:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": exc.message})
                else:
                    await self.refusal(scope["path"], exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _session_cookie(self, scope: Scope, headers: Headers) -> str | None:
        if self.web_sessions is None or not self.cookie_allowed(scope.get("method", "GET"), scope["path"]):
            return None
        return HTTPConnection(scope).cookies.get(COOKIE) or None


def request_identity(connection: HTTPConnection) -> Identity:
    """The caller, as :class:`IdentityMiddleware` identified it."""
    identity = connection.scope.get("state", {}).get("identity")
    if not isinstance(identity, Identity):
        raise MissingCredentials()
    return identity


def request_csrf(connection: HTTPConnection) -> str | None:
    """The CSRF token of the caller's web session; None when it was not identified by a session cookie (a Bearer
    header, which a browser never adds to a forged request)."""
    csrf = connection.scope.get("state", {}).get("web_csrf")
    return csrf if isinstance(csrf, str) else None


def request_client_ip(connection: HTTPConnection) -> str:
    """The client's address: the peer's, or the one trusted proxies forwarded (:data:`UNKNOWN` if unreadable)."""
    return connection.scope.get("state", {}).get("client_ip") or UNKNOWN
