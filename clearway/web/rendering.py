"""Rendering: one Jinja2 environment (autoescape everywhere), the page context, the security headers of every
answer, and the CSRF check of every change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from clearway.auth.middleware import request_csrf, request_identity
from clearway.auth.web_sessions import WebSessions
from clearway.domain.identity import Role
from clearway.errors import Forbidden
from clearway.timeutil import parse_iso
from clearway.web import PREFIX

HERE = Path(__file__).parent
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# No inline script anywhere; data for charts travels as JSON (application/json blocks or fetched).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Plotly writes <style> rules of its own: the plots tab alone lets inline styles through (never scripts).
CSP_PLOTS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _when(value: Any) -> str:
    moment = parse_iso(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _size(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


_ENV.filters["when"] = _when
_ENV.filters["size"] = _size
_ENV.filters["ms"] = lambda value: (
    datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, int | float) else ""
)
_ENV.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
_ENV.globals["PREFIX"] = PREFIX


def with_query(request: Request, **changes: Any) -> str:
    """This page's address with some query parameters changed (None drops one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, v) for k, value in changes.items() if value is not None for v in _values(value)]
    return f"{request.url.path}?{urlencode(params)}"


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def page(
    request: Request, template: str, status: int = 200, *, inline_styles: bool = False, **context: Any
) -> Response:
    identity = request.scope.get("state", {}).get("identity")
    html = _ENV.get_template(template).render(
        request=request,
        me=identity,
        is_admin=identity is not None and identity.role is Role.ADMIN,
        csrf=request_csrf(request) or "",
        with_query=lambda **changes: with_query(request, **changes),
        **context,
    )
    return secured(HTMLResponse(html, status_code=status), inline_styles=inline_styles)


def render_refusal(path: str, exc: Exception, *, login: bool = True) -> Response:
    """A refusal before any page: the login form (401, for a missing or ended session) or an error page."""
    message = getattr(exc, "message", "Refused")
    status = getattr(exc, "status", 401)
    if login:
        target = f"{PREFIX}/login?{urlencode({'next': path})}"
        html = _ENV.get_template("refused.html").render(me=None, is_admin=False, csrf="", target=target)
        response = HTMLResponse(html, status_code=401)
        response.headers["HX-Redirect"] = target
    else:
        html = _ENV.get_template("error.html").render(me=None, is_admin=False, csrf="", error=message)
        response = HTMLResponse(html, status_code=status)
    return secured(response)


def secured(response: Response, *, inline_styles: bool = False) -> Response:
    response.headers["Content-Security-Policy"] = CSP_PLOTS if inline_styles else CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(path: str) -> Response:
    """After a change: the page to show, fetched anew (htmx follows ``HX-Redirect``, a form the 303)."""
    response = RedirectResponse(path, status_code=303)
    response.headers["HX-Redirect"] = path
    return secured(response)


async def checked_form(request: Request) -> FormData:
    """The posted form of a change, after the CSRF check: a caller identified by its session cookie must send the
    session's token (form field ``csrf`` or header ``X-CSRF-Token``); one with a Bearer header needs none."""
    request_identity(request)
    form = await request.form()
    expected = request_csrf(request)
    if expected is not None:
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not WebSessions.csrf_matches(expected, given if isinstance(given, str) else None):
            raise Forbidden("The form is stale or forged (CSRF token mismatch): reload the page")
    return form


def text(form: FormData, key: str, default: str = "") -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else default
