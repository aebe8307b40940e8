"""Server-side sessions of the web UI: a random token in an HttpOnly cookie, its SHA-256 in the database with the
session's CSRF token, expiry and revocation (logout ends it on every replica at once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from clearway.auth.authenticator import Authenticator
from clearway.domain.identity import Identity
from clearway.errors import InvalidToken
from clearway.store.web_sessions import WebSession, WebSessionStore
from clearway.timeutil import utcnow

COOKIE = "clearway_session"


@dataclass(frozen=True)
class WebLogin:
    identity: Identity
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebSessions:
    def __init__(self, store: WebSessionStore, auth: Authenticator, ttl_sec: int) -> None:
        self.store = store
        self.auth = auth
        self.ttl = timedelta(seconds=ttl_sec)

    def start(self, identity: Identity) -> str:
        """A new session for a user who just logged in; the token for the cookie (never stored)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        self.store.prune(now)  # expired sessions go at the next login (an indexed delete)
        password = self.auth.password_fingerprint(identity.user_id, fresh=True)
        session = WebSession(identity.user_id, secrets.token_urlsafe(32), now + self.ttl, password)
        self.store.create(_hash(token), session, now)
        return token

    def identify(self, token: str, client_ip: str | None) -> WebLogin:
        """The caller behind a session cookie, as of now; refused when the session ended or expired."""
        session = self.store.find(_hash(token), utcnow()) if token else None
        if session is None:
            raise InvalidToken("The session ended: log in again")
        # The cached fingerprint may predate the password this session began with: read it again before refusing.
        fingerprint = self.auth.password_fingerprint
        if fingerprint(session.user_id) != session.password and fingerprint(session.user_id, fresh=True) != (
            session.password
        ):
            raise InvalidToken("The password was changed: log in again")
        return WebLogin(self.auth.user_identity(session.user_id, client_ip), session.csrf)

    def end(self, token: str) -> None:
        self.store.revoke(_hash(token))

    @staticmethod
    def csrf_matches(expected: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
