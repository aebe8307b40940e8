"""The JWT that ``auth.login`` returns, with the claims the ClearML clients read (wire contract 1.5)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from clearway.domain.identity import Identity
from clearway.errors import InvalidToken

API_VERSION = "2.31"
SERVER_VERSION = "2.0.0"
_ALGORITHM = "HS256"


def issue_token(identity: Identity, secret: str, ttl_sec: int, *, impersonator: str | None = None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "identity": {
            "user": identity.user_id,
            "company": identity.org_id,
            "role": identity.role.value,
            "user_name": identity.user_name,
            "company_name": identity.org_name,
        },
        "key": identity.access_key,
        "iat": now,
        "exp": now + ttl_sec,
        "env": "local",
        "session_id": uuid.uuid4().hex,
        "entities": {},
        "api_version": API_VERSION,
        "server_version": SERVER_VERSION,
        "server_build": "clearway",
        "feature_set": "basic",
    }
    if impersonator:
        claims["impersonator"] = impersonator
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_token(token: str, secret: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, secret, algorithms=[_ALGORITHM], options={"require": ["exp", "identity"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("Token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"Invalid token: {exc}") from exc
