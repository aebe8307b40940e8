"""What every admin route depends on: the services, and an admin caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clearway.auth.middleware import request_identity
from clearway.domain.access import may_administer
from clearway.domain.identity import Identity
from clearway.errors import Forbidden
from clearway.services import Services

# Declares the scheme in the OpenAPI document; IdentityMiddleware has already checked the token.
bearer = HTTPBearer(auto_error=False, description="A token from auth.login, or the OIDC issuer's access token.")


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def admin(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Identity:
    identity = request_identity(request)
    if not may_administer(identity):
        raise Forbidden("This needs the admin role")
    return identity


def member(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Identity:
    """Any caller of the organisation (the routes that act as the caller: the gateway's records)."""
    return request_identity(request)
