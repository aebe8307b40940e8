"""Single sign-on: access tokens of an OpenID Connect issuer (Snap4City's Keycloak) stand for our users.

The issuer's keys come from :class:`~clearway.auth.oidc_keys.OidcKeys`, fetched in the background and kept, so that
no request waits on the issuer for long and a token that is clearly not the issuer's never waits at all. A token is
accepted when its RS256/ES256 signature checks against those keys, ``iss`` is the configured issuer, ``aud`` holds
the configured audience and it has not expired. Its
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

from clearway.auth.oidc_keys import OidcKeys
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Role
from clearway.errors import InvalidCredentials, InvalidToken
from clearway.settings import Settings
from clearway.store.base import Stores

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SEC = 30  # clock skew between the issuer and us
_REQUIRED = ["exp", "iss", "aud"]
_CLAIMS_ONLY = {"verify_signature": False, "verify_exp": True, "verify_aud": True, "verify_iss": True}


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
    def __init__(self, settings: Settings, keys: OidcKeys | None = None) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("CLEARWAY_OIDC_ISSUER needs CLEARWAY_OIDC_AUDIENCE: tokens minted for others are refused")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.username_claim = settings.oidc_username_claim
        self.roles_path = settings.oidc_roles_claim.split(".")
        self.admin_roles = frozenset(settings.oidc_admin_roles)
        self.keys = keys or OidcKeys(self.issuer, settings.oidc_retry_sec)

    def verify(self, token: str) -> OidcUser:
        checks: dict[str, Any] = {
            "algorithms": ALGORITHMS,
            "audience": self.audience,
            "issuer": self.issuer,
            "leeway": LEEWAY_SEC,
        }
        try:
            # Everything that can be checked without the issuer's keys is checked first, so that a token that is
            # clearly not the issuer's (another issuer, another audience, expired, no key id) never waits on it.
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
                raise InvalidToken("Invalid token: not signed the way the identity provider signs")
            jwt.decode(token, options={**_CLAIMS_ONLY, "require": _REQUIRED}, **checks)
            key = self.keys.key(header["kid"])
            claims = jwt.decode(token, key.key, options={"require": _REQUIRED}, **checks)
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Token expired") from exc
        except jwt.PyJWTError as exc:
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
        found = self.stores.identity.find_user(user.name)
        if found is not None and found["org_id"] != org["id"]:
            # The name is a user of another organisation: never someone else's account, never a second one.
            raise InvalidCredentials()
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
