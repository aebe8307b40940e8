"""The JWT that ``auth.login`` returns, with the claims the ClearML clients read (wire contract 1.5)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from clearway.domain.identity import Identity, Role
from clearway.errors import InvalidToken

API_VERSION = "2.31"
SERVER_VERSION = "2.0.0"
_ALGORITHM = "HS256"


def issue_token(
    identity: Identity, secret: str, ttl_sec: int, *, impersonator: str | None = None, password: str | None = None
) -> str:
    """A token for the identity. Without a key it carries ``password`` (a fingerprint of the password hash, or
    None), which must still match for the token to be accepted."""
    now = int(time.time())
    agent = identity.role is Role.AGENT
    claims: dict[str, Any] = {
        "identity": {
            "user": identity.user_id,
            "company": identity.org_id,
            "role": identity.role.value,
            "user_name": identity.user_name,
            "company_name": identity.org_name,
            # clearml-agent --use-owner-token requires a role of admin or a service account of type >= 2.
            **({"service_account_type": 2} if agent else {}),
        },
        "tenant": identity.org_id,  # clearml-agent logs in again per tenant unless it matches the task's company
        "key": identity.access_key,
        "iat": now,
        "exp": now + ttl_sec,
        "env": "local",
        "session_id": uuid.uuid4().hex,
        "entities": {},
        "api_version": API_VERSION,
        "server_version": SERVER_VERSION,
        "server_build": "clearway",
        # "basic" keeps the SDK from asking for vaults; clearml-agent refuses --use-owner-token with it, so
        # agents get "advanced" (the extra calls it then makes, vaults and cluster reports, tolerate a 404).
        "feature_set": "advanced" if agent else "basic",
    }
    if impersonator:
        claims["impersonator"] = impersonator
        claims["task"] = identity.acting_task  # the one task the agent acts for the owner in
    if not identity.access_key:
        claims["pwd"] = password
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_token(token: str, secret: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, secret, algorithms=[_ALGORITHM], options={"require": ["exp", "identity"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("Token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"Invalid token: {exc}") from exc
