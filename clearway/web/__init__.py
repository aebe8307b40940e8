"""The web UI: server-rendered pages (Jinja2, htmx), reading and changing through the same domain functions and
access rules as the APIs. Mounted at :data:`PREFIX`; everything else it needs is in this package (templates,
vendored static files)."""

from __future__ import annotations

PREFIX = "/web"
# Paths that answer without a session: the login form and its single sign-on steps, and the static files.
_PUBLIC = frozenset({PREFIX + "/login", PREFIX + "/login/oidc", PREFIX + "/login/oidc/callback"})


def is_public(path: str) -> bool:
    return path in _PUBLIC or path.startswith(PREFIX + "/static/")


def cookie_allowed(method: str, path: str) -> bool:
    """Where the session cookie stands for its user: the pages (whose changes check the session's CSRF token),
    downloads from the file server, and the live event stream (an ``EventSource`` sends no header)."""
    if path == PREFIX or path.startswith(PREFIX + "/"):
        return True
    reading = method in ("GET", "HEAD")
    return reading and (path.startswith("/files/") or path == "/events/stream")
