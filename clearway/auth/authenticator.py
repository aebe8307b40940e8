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
        self.sessions = Sessions(stores, settings.key_cache_sec, impersonation)
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
        token of the owner of a task the agent holds, for that task; such a token is short-lived
        (``acting_token_ttl_sec``) and renewed only while the agent still holds the task."""
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
        acting_task = {"task": identity.acting_task} if identity.acting_task else {}
        self.audit.record(Action.LOGIN, actor=identity, method=method, **acting_task)
        acting = identity.impersonator is not None
        return issue_token(
            identity,
            self.settings.signing_secret,
            self.settings.acting_token_ttl_sec if acting else self.settings.token_ttl_sec,
            impersonator=identity.impersonator,
            password=session.password,
        )

    def web_login(self, name: str, password: str, client_ip: str | None) -> Identity:
        """The web UI's login: a user name and password only (an API key pair cannot log in), throttled and
        audited like ``auth.login``."""

        session = self._attempt(name, client_ip, None, lambda: self._password_session(name, password))
        identity = self._admit(session, client_ip)
        self.audit.record(Action.LOGIN, actor=identity, method="web-password")
        return identity

    def web_oidc_login(self, access_token: str, client_ip: str | None) -> Identity:
        """The web UI's single sign-on: the issuer's access token from the authorization-code flow, checked as
        any of its tokens is (issuer, audience, signature, expiry)."""
        if self.oidc is None or not is_oidc_token(access_token):
            raise InvalidCredentials()
        session = self._attempt(None, client_ip, None, lambda: self._oidc_session(access_token, client_ip))
        identity = self._admit(session, client_ip)
        self.audit.record(Action.LOGIN, actor=identity, method="web-oidc")
        return identity

    def password_fingerprint(self, user_id: str, *, fresh: bool = False) -> str | None:
        """What a session started with a password keeps, so that a changed (or removed) password ends it;
        ``fresh`` reads it now (a login), else it may be ``key_cache_sec`` old."""
        session = self.sessions.for_user(user_id, fresh=fresh)
        return session.password if session else None

    def user_identity(self, user_id: str, client_ip: str | None) -> Identity:
        """A logged-in user's identity now (a web session): its role, groups and shares, checked against its
        address allowlists."""
        session = self.sessions.for_user(user_id)
        if session is None:
            raise InvalidToken("The session's user is gone")
        return self._admit(session, client_ip)

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

        return self._attempt(name, client_ip, None, lambda: self._password_session(name, secret)), "password"

    def _password_session(self, name: str, secret: str) -> Session:
        user = self.identities.find_user(name)
        password_hash = self.identities.password_hash(user["id"]) if user else None
        session = self.sessions.for_user(user["id"]) if user and verify_secret(password_hash, secret) else None
        if session is None:
            raise InvalidCredentials()
        return session

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
            self.throttle.succeeded(name, client_ip)
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

    def identify_user(self, user_id: str, client_ip: str | None) -> Identity:
        """The identity of a user named by a credential checked elsewhere (a gateway token), admitted from
        ``client_ip`` like any other credential."""
        session = self.sessions.for_user(user_id)
        if session is None:
            raise InvalidToken("The token's user is gone")
        return self._admit(session, client_ip)

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
            # Checked again on every request (sessions are cached for key_cache_sec): the grant ends when the agent
            # no longer holds the task the token was issued for. Tokens without a task grant nothing.
            task = claims.get("task")
            session = self.sessions.acting_for(session, user_id, task) if isinstance(task, str) else None
            if session is None:
                raise InvalidToken("The agent no longer runs a task of this user")
        return session

    def _act_for(self, session: Session, owner_id: str) -> Session:
        agent: Session | None = session
        task_id = None
        if session.identity.impersonator is not None:  # renewing: check again as the agent, for the same task
            agent_key = session.identity.access_key
            agent = self.sessions.for_key(agent_key) if agent_key else None
            task_id = session.identity.acting_task
            if owner_id != session.identity.user_id:
                agent = None
        if agent is None or self.impersonation is None:
            raise Forbidden("Acting for another user is not possible with these credentials")
        acting = self.sessions.acting_for(agent, owner_id, task_id, fresh=True)
        if acting is None:
            raise self.impersonation.refusal(agent.identity, owner_id)
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
