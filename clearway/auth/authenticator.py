"""Turns the Authorization header of a request into an :class:`Identity`, or refuses it."""

from __future__ import annotations

import base64
import binascii
import threading
import time

from clearway.auth.keys import verify_secret
from clearway.auth.tokens import decode_token, issue_token
from clearway.domain.identity import Identity
from clearway.errors import InvalidCredentials, InvalidToken, MalformedCredentials, MissingCredentials
from clearway.settings import Settings
from clearway.store.base import IdentityStore


class Authenticator:
    def __init__(self, identities: IdentityStore, settings: Settings) -> None:
        self.identities = identities
        self.settings = settings
        self._key_status: dict[str, tuple[float, Identity | None]] = {}
        self._lock = threading.Lock()

    def login(self, authorization: str | None) -> str:
        """``auth.login`` with HTTP Basic credentials (or a still-valid Bearer token): a fresh token."""
        scheme, _, value = (authorization or "").partition(" ")
        if not value:
            raise MissingCredentials()
        if scheme.lower() == "bearer":
            identity = self.identify(authorization)
            return issue_token(identity, self.settings.signing_secret, self.settings.token_ttl_sec)
        if scheme.lower() != "basic":
            raise MalformedCredentials("Unsupported authorization scheme")
        try:
            access_key, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise MalformedCredentials() from exc
        record = self.identities.get_key(access_key)
        # The same message whether the key is unknown, revoked or the secret wrong.
        if record is None or record.revoked or not verify_secret(record.secret_hash, secret):
            raise InvalidCredentials()
        return issue_token(record.identity, self.settings.signing_secret, self.settings.token_ttl_sec)

    def identify(self, authorization: str | None) -> Identity:
        """The identity behind a Bearer token; the token's key must still be valid."""
        scheme, _, token = (authorization or "").partition(" ")
        if not token:
            raise MissingCredentials()
        if scheme.lower() != "bearer":
            raise MalformedCredentials("Expected a Bearer token")
        claims = decode_token(token, self.settings.signing_secret)
        identity = self._identity_for_key(claims.get("key"))
        if identity is None or identity.user_id != claims["identity"].get("user"):
            raise InvalidToken("Token's key was revoked")
        return identity

    def _identity_for_key(self, access_key: str | None) -> Identity | None:
        if not access_key:
            return None
        now = time.monotonic()
        cached = self._key_status.get(access_key)
        if cached and now - cached[0] < self.settings.key_cache_sec:
            return cached[1]
        record = self.identities.get_key(access_key)
        identity = None if record is None or record.revoked else record.identity
        with self._lock:
            self._key_status[access_key] = (now, identity)
        return identity
