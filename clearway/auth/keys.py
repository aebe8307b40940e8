"""API key pairs: generated here, stored only as argon2 hashes, shown once."""

from __future__ import annotations

import functools
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


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Whether the secret matches. Without a hash it takes as long and says False, so that the time a failed login
    takes does not tell whether the key or user exists."""
    try:
        return _hasher.verify(secret_hash or _unusable_hash(), secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _unusable_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))
