"""Turns the Authorization header of a request into an :class:`Identity`, or refuses it.

Credentials: an API key pair or a user name and password (HTTP Basic, at ``auth.login``), our own tokens (Bearer),
and with single sign-on configured the OIDC issuer's access tokens (Bearer, at ``auth.login`` and on any request).
Every identity is checked against its address allowlists; logins are throttled; all of it is audited.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import replace

from clearway.auth.keys import verify_secret
from clearway.auth.oidc import OidcAccounts, OidcVerifier, is_oidc_token
from clearway.auth.sessions import Session, Sessions
from clearway.auth.throttle import LoginThrottle
from clearway.auth.tokens import decode_token, issue_token
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Identity
from clearway.domain.impersonation import Impersonation
from clearway.errors import (
    AddressNotAllowed,
    ClearwayError,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    MalformedCredentials,
    MissingCredentials,
)
from clearway.settings import Settings
from clearway.store.base import SlidingCounters, Stores


class Authenticator:
    def __init__(
        self,
        stores: Stores,
        settings: Settings,
        audit: Audit,
        impersonation: Impersonation | None = None,
        counters: SlidingCounters | None = None,
    ) -> None:
        self.identities = stores.identity
        self.impersonation = impersonation
        self.settings = settings
        self.audit = audit
        self.sessions = Sessions(stores, settings.key_cache_sec)
        self.throttle = LoginThrottle(
            counters or stores.sliding_counters,
            settings.login_max_failures_per_key,
            settings.login_max_failures_per_address,
            settings.login_failure_window_sec,
        )
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        self.oidc_accounts = OidcAccounts(stores, audit, settings)

    def login(self, authorization: str | None, client_ip: str | None = None, act_as: str | None = None) -> str:
        """``auth.login``: a fresh token for HTTP Basic credentials (a key pair, or a user name and password), for
        a still-valid token of ours, or for an access token of the OIDC issuer (``CLEARML_AUTH_TOKEN``).

        ``act_as`` (the ``X-Clearml-Impersonate-As`` header of ``clearml-agent --use-owner-token``) asks for a
        token of a task's owner; such a token is renewed only while the agent may still act for the owner."""
        scheme, _, value = (authorization or "").partition(" ")
        if not value:
            raise MissingCredentials()
        if scheme.lower() == "basic":
            session, method = self._basic_login(value, client_ip)
        elif scheme.lower() == "bearer" and self.oidc is not None and is_oidc_token(value):
            session, method = self._attempt(None, client_ip, None, lambda: self._oidc_session(value, client_ip)), "oidc"
        elif scheme.lower() == "bearer":
            session, method = self._token_session(value), "token"
        else:
            raise MalformedCredentials("Unsupported authorization scheme")
        if act_as or session.identity.impersonator:
            session = self._act_for(session, act_as or session.identity.user_id)
        identity = self._admit(session, client_ip)
        self.audit.record(Action.LOGIN, actor=identity, method=method)
        return issue_token(
            identity,
            self.settings.signing_secret,
            self.settings.token_ttl_sec,
            impersonator=identity.impersonator,
            password=session.password,
        )

    def _basic_login(self, value: str, client_ip: str | None) -> tuple[Session, str]:
        try:
            name, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise MalformedCredentials() from exc
        record = self.identities.get_key(name)
        if record is not None:
            # The same answer whether the key is unknown, revoked or the secret wrong.
            def check_key() -> Session:
                valid = verify_secret(record.secret_hash, secret) and not record.revoked
                session = self.sessions.for_key(name) if valid else None
                if session is None:
                    raise InvalidCredentials()
                return session

            return self._attempt(name, client_ip, record.identity.org_id, check_key), "key"

        def check_password() -> Session:
            user = self.identities.find_user(name)
            password_hash = self.identities.password_hash(user["id"]) if user else None
            session = self.sessions.for_user(user["id"]) if user and verify_secret(password_hash, secret) else None
            if session is None:
                raise InvalidCredentials()
            return session

        return self._attempt(name, client_ip, None, check_password), "password"

    def _attempt(
        self, name: str | None, client_ip: str | None, org_id: str | None, check: Callable[[], Session]
    ) -> Session:
        """Run one login check under the throttle: failures are counted and audited, success clears the key's."""
        self.throttle.check(name, client_ip)
        try:
            session = check()
        except ClearwayError as exc:
            self.audit.record(
                Action.LOGIN_FAILED,
                actor_name=name,
                org_id=org_id,
                client_ip=client_ip,
                outcome="failed",
                reason=exc.message,
            )
            for subject in self.throttle.failed(name, client_ip):
                self.audit.record(
                    Action.LOGIN_THROTTLED,
                    actor_name=name,
                    org_id=org_id,
                    client_ip=client_ip,
                    outcome="refused",
                    subject=subject,
                )
            raise
        if name:
            self.throttle.succeeded(name)
        return session

    def identify(self, authorization: str | None, client_ip: str | None = None) -> Identity:
        """The identity behind a Bearer token (ours, or the OIDC issuer's), allowed to call from ``client_ip``.

        A token of ours stays valid while its key is active (or, without a key, while its user exists); changes
        are seen within ``key_cache_sec``. ``client_ip`` None skips the address check: only callers behind
        :class:`~clearway.auth.middleware.IdentityMiddleware`, which made it, may pass None.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if not token:
            raise MissingCredentials()
        if scheme.lower() != "bearer":
            raise MalformedCredentials("Expected a Bearer token")
        if self.oidc is not None and is_oidc_token(token):
            return self._admit(self._oidc_session(token, client_ip), client_ip)
        return self._admit(self._token_session(token), client_ip)

    def _token_session(self, token: str) -> Session:
        claims = decode_token(token, self.settings.signing_secret)
        user_id = (claims.get("identity") or {}).get("user")
        key = claims.get("key")
        # An agent acting for a task's owner holds a token of the owner made with the agent's key.
        impersonator = claims.get("impersonator")
        session = self.sessions.for_key(key) if key else self.sessions.for_user(user_id) if user_id else None
        if session is None or session.identity.user_id != (impersonator or user_id):
            raise InvalidToken("Token's key was revoked")
        if not key and claims.get("pwd") != session.password:
            raise InvalidToken("Token's password was changed")
        if impersonator:
            session = self.sessions.acting_for(session, user_id)
            if session is None:
                raise InvalidToken("Token's user no longer exists")
        return session

    def _act_for(self, session: Session, owner_id: str) -> Session:
        agent: Session | None = session
        if session.identity.impersonator is not None:  # renewing: check again as the agent
            agent_key = session.identity.access_key
            agent = self.sessions.for_key(agent_key) if agent_key else None
        if agent is None or self.impersonation is None:
            raise Forbidden("Acting for another user is not possible with these credentials")
        self.impersonation.act_for(agent.identity, owner_id)
        acting = self.sessions.acting_for(agent, owner_id)
        if acting is None:
            raise Forbidden(f"Cannot act for user {owner_id}")
        return acting

    def _oidc_session(self, token: str, client_ip: str | None) -> Session:
        assert self.oidc is not None
        user = self.oidc.verify(token)
        user_id = self.oidc_accounts.user_id(user, client_ip)
        session = self.sessions.for_user(user_id)
        if session is not None and session.identity.role is not user.role:  # the issuer changed it: see it now
            session = self.sessions.for_user(user_id, fresh=True)
        if session is None:
            raise InvalidCredentials()
        return session

    def _admit(self, session: Session, client_ip: str | None) -> Identity:
        identity = replace(session.identity, client_ip=client_ip)
        if client_ip is not None and not session.policy.allows(client_ip):
            self.audit.record(Action.ADDRESS_DENIED, actor=identity, outcome="denied")
            raise AddressNotAllowed(f"Access from {client_ip} is not allowed for this account")
        return identity
