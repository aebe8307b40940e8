"""API key pairs: generated here, stored only as argon2 hashes, shown once."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_ACCESS_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class KeyPair:
    access_key: str
    secret_key: str


def generate_key_pair() -> KeyPair:
    access = "".join(secrets.choice(_ACCESS_ALPHABET) for _ in range(24))
    return KeyPair(access_key=access, secret_key=secrets.token_urlsafe(40))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
