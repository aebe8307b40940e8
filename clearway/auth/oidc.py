"""Single sign-on: access tokens of an OpenID Connect issuer (Snap4City's Keycloak) stand for our users.

The issuer's discovery document names its JWKS, which PyJWT's :class:`PyJWKClient` fetches and caches (an unknown
``kid`` refetches it at most once per cooldown). A token is accepted when its RS256/ES256 signature checks against
those keys, ``iss`` is the configured issuer, ``aud`` holds the configured audience and it has not expired. Its
username claim names the user (created on first use when ``oidc_create_users`` is on); its roles claim makes it an
admin or a user, and a changed role is written back (and audited).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Role
from clearway.errors import InvalidCredentials, InvalidToken
from clearway.settings import Settings
from clearway.store.base import Stores

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SEC = 30  # clock skew between the issuer and us
TIMEOUT_SEC = 5.0


@dataclass(frozen=True)
class OidcUser:
    name: str
    role: Role


def is_oidc_token(token: str) -> bool:
    """Our own tokens are HS256; the issuer's are signed with its keys. Says nothing about validity."""
    try:
        return jwt.get_unverified_header(token).get("alg") != "HS256"
    except jwt.PyJWTError:
        return False


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("CLEARWAY_OIDC_ISSUER needs CLEARWAY_OIDC_AUDIENCE: tokens minted for others are refused")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.username_claim = settings.oidc_username_claim
        self.roles_path = settings.oidc_roles_claim.split(".")
        self.admin_roles = frozenset(settings.oidc_admin_roles)
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> OidcUser:
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SEC,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Token expired") from exc
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise InvalidToken(f"Invalid token: {exc}") from exc
        name = claims.get(self.username_claim)
        if not isinstance(name, str) or not name.strip() or ":" in name or len(name) > 200:
            raise InvalidToken(f"The token has no usable {self.username_claim} claim")
        return OidcUser(name=name.strip(), role=Role.ADMIN if self._roles(claims) & self.admin_roles else Role.USER)

    def _roles(self, claims: dict[str, Any]) -> set[str]:
        value: Any = claims
        for part in self.roles_path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return {value}
        return {role for role in value or () if isinstance(role, str)} if isinstance(value, list) else set()

    def _client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._jwks is None:
                self._jwks = jwt.PyJWKClient(self._jwks_uri(), timeout=TIMEOUT_SEC)
            return self._jwks

    def _jwks_uri(self) -> str:
        import httpx  # here, not at the top: httpx imports its CLI (click, rich, pygments), 0.1 s of server start

        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=TIMEOUT_SEC)
            response.raise_for_status()
            discovery = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidToken("The identity provider cannot be reached; retry later") from exc
        if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer or not discovery.get("jwks_uri"):
            raise InvalidToken("The identity provider's discovery document does not match its issuer")
        return str(discovery["jwks_uri"])


class OidcAccounts:
    """Our user for a verified OIDC user: found or created, its role kept in step; remembered briefly."""

    def __init__(
        self,
        stores: Stores,
        audit: Audit,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores = stores
        self.audit = audit
        self.create = settings.oidc_create_users
        self.organization = settings.oidc_organization
        self.ttl_sec = settings.key_cache_sec
        self.clock = clock
        self._known: dict[OidcUser, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def user_id(self, user: OidcUser, client_ip: str | None) -> str:
        now = self.clock()
        known = self._known.get(user)
        if known and now - known[0] < self.ttl_sec:
            return known[1]
        with self._lock, self.stores.transaction():
            user_id = self._sync(user, client_ip)
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[user] = (now, user_id)
        return user_id

    def _sync(self, user: OidcUser, client_ip: str | None) -> str:
        org = self.stores.identity.ensure_org(self.organization)
        found = self.stores.identity.find_user(user.name, org["id"])
        if found is None:
            if not self.create:
                raise InvalidCredentials()
            found = self.stores.identity.create_user(org["id"], user.name, user.role.value)
            self.audit.record(
                Action.USER_CREATE,
                actor_name=user.name,
                org_id=org["id"],
                client_ip=client_ip,
                target=found["id"],
                name=user.name,
                new_role=user.role.value,
                via="oidc",
            )
        elif found["role"] != user.role.value:
            self.stores.identity.set_role(found["id"], user.role.value)
            self.audit.record(
                Action.USER_ROLE,
                actor_name=user.name,
                org_id=org["id"],
                client_ip=client_ip,
                target=found["id"],
                old=found["role"],
                new=user.role.value,
                via="oidc",
            )
        return str(found["id"])
