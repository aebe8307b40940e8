"""Logging in and out (password, or single sign-on with the authorization-code flow and PKCE), and the settings
page where users create and revoke their own API keys."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from clearway.auth.middleware import request_client_ip, request_identity
from clearway.auth.web_sessions import COOKIE
from clearway.domain.identity import Identity
from clearway.errors import ClearwayError, Forbidden, InvalidCredentials
from clearway.services import Services
from clearway.settings import Settings
from clearway.web import PREFIX
from clearway.web.rendering import checked_form, page, redirect, secured

_OIDC_COOKIE = "clearway_oidc"
_OIDC_STEP_SEC = 600  # from the redirect to the issuer until its answer comes back


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of the UI only (never another site)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/projects"


def _same_origin(request: Request) -> bool:
    """The login form posts to its own site (no login CSRF): Origin, else Referer, names this host when sent."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    return not origin or urlsplit(origin).netloc == request.url.netloc


def _logged_in(request: Request, services: Services, identity: Identity, target: str) -> Response:
    token = services.web_sessions.start(identity)
    response = redirect(safe_next(target))
    response.set_cookie(
        COOKIE,
        token,
        max_age=services.settings.web_session_ttl_sec,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def routes(services: Services) -> list[Route]:
    settings = services.settings
    oidc = _OidcClient(settings) if settings.oidc_issuer and settings.oidc_client_id else None

    def login_form(request: Request) -> Response:
        return page(request, "login.html", next=request.query_params.get("next", ""), error=None, oidc=oidc)

    async def login(request: Request) -> Response:
        form = await request.form()
        name, password, target = (str(form.get(k) or "") for k in ("name", "password", "next"))
        try:
            if not _same_origin(request):
                raise Forbidden("Log in from this site's own login page")
            identity = await run_in_threadpool(services.auth.web_login, name, password, request_client_ip(request))
        except ClearwayError as exc:
            return page(request, "login.html", exc.status, next=target, error=exc.message, oidc=oidc)
        return _logged_in(request, services, identity, target)

    async def logout(request: Request) -> Response:
        await checked_form(request)
        token = request.cookies.get(COOKIE)
        if token:
            await run_in_threadpool(services.web_sessions.end, token)
        response = redirect(PREFIX + "/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    def oidc_start(request: Request) -> Response:
        if oidc is None:
            raise InvalidCredentials("Single sign-on is not configured")
        location, state_cookie = oidc.start(request, request.query_params.get("next", ""))
        response = secured(RedirectResponse(location, status_code=303))
        response.set_cookie(
            _OIDC_COOKIE,
            state_cookie,
            max_age=_OIDC_STEP_SEC,
            path=PREFIX + "/login/oidc",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def oidc_callback(request: Request) -> Response:
        if oidc is None:
            raise InvalidCredentials("Single sign-on is not configured")
        try:
            access_token, target = await oidc.finish(request, request.cookies.get(_OIDC_COOKIE, ""))
            identity = await run_in_threadpool(services.auth.web_oidc_login, access_token, request_client_ip(request))
        except ClearwayError as exc:
            return page(request, "login.html", exc.status, next="", error=exc.message, oidc=oidc)
        response = _logged_in(request, services, identity, target)
        response.delete_cookie(_OIDC_COOKIE, path=PREFIX + "/login/oidc")
        return response

    def settings_page(request: Request) -> Response:
        me = request_identity(request)
        return page(request, "settings.html", keys=services.accounts.own_keys(me), new_pair=None)

    async def create_key(request: Request) -> Response:
        await checked_form(request)
        me = request_identity(request)
        pair = await run_in_threadpool(services.accounts.create_own_key, me)
        base = str(request.base_url).rstrip("/")
        lines = [
            ("CLEARML_API_HOST", base),
            ("CLEARML_WEB_HOST", base),
            ("CLEARML_FILES_HOST", f"{base}/files"),
            ("CLEARML_API_ACCESS_KEY", pair.access_key),
            ("CLEARML_API_SECRET_KEY", pair.secret_key),
        ]
        keys = await run_in_threadpool(services.accounts.own_keys, me)
        return page(request, "settings.html", keys=keys, new_pair=lines)

    async def revoke_key(request: Request) -> Response:
        await checked_form(request)
        me = request_identity(request)
        await run_in_threadpool(services.accounts.revoke_own_key, me, request.path_params["access_key"])
        return redirect(PREFIX + "/settings")

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/login/oidc", oidc_start, methods=["GET"]),
        Route("/login/oidc/callback", oidc_callback, methods=["GET"]),
        Route("/settings", settings_page, methods=["GET"]),
        Route("/settings/keys", create_key, methods=["POST"]),
        Route("/settings/keys/{access_key}/revoke", revoke_key, methods=["POST"]),
    ]


class _OidcClient:
    """The authorization-code flow with PKCE (S256) against the configured issuer. The state, the code verifier
    and where to go next travel in a short-lived signed cookie; the code is exchanged at the issuer's token
    endpoint, and its access token is checked as any of the issuer's tokens is."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.secret = settings.signing_secret
        self._endpoints: dict[str, Any] | None = None

    def _discovery(self) -> dict[str, Any]:
        if self._endpoints is None:
            found = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()
            self._endpoints = {k: found[k] for k in ("authorization_endpoint", "token_endpoint")}
        return self._endpoints

    def _redirect_uri(self, request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}{PREFIX}/login/oidc/callback"

    def start(self, request: Request, target: str) -> tuple[str, str]:
        try:
            endpoints = self._discovery()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise InvalidCredentials("The single sign-on issuer cannot be reached") from exc
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(24)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self._redirect_uri(request),
            "scope": "openid profile",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        claims = {"state": state, "verifier": verifier, "next": target, "exp": int(time.time()) + _OIDC_STEP_SEC}
        cookie = jwt.encode(claims, self.secret, algorithm="HS256")
        return f"{endpoints['authorization_endpoint']}?{urlencode(params)}", cookie

    async def finish(self, request: Request, cookie: str) -> tuple[str, str]:
        try:
            claims = jwt.decode(cookie, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise InvalidCredentials("The single sign-on step expired: try again") from exc
        if not secrets.compare_digest(str(claims.get("state")), request.query_params.get("state", "")):
            raise InvalidCredentials("The single sign-on answer does not match this browser's request")
        code = request.query_params.get("code")
        if not code:
            raise InvalidCredentials(request.query_params.get("error_description") or "Single sign-on was refused")
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri(request),
            "client_id": self.client_id,
            "code_verifier": claims["verifier"],
        }
        if self.client_secret:
            body["client_secret"] = self.client_secret
        try:
            endpoints = await run_in_threadpool(self._discovery)
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(endpoints["token_endpoint"], data=body)
            token = answer.json().get("access_token") if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise InvalidCredentials("The single sign-on issuer cannot be reached") from exc
        if not isinstance(token, str):
            raise InvalidCredentials("The single sign-on issuer refused the code")
        return token, str(claims.get("next") or "")
