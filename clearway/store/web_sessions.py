"""The web UI's session store interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WebSession:
    user_id: str
    csrf: str
    expires: datetime
    password: str | None = None  # the user's password fingerprint when the session began


class WebSessionStore(ABC):
    """Server-side sessions of the web UI, found by the SHA-256 of the cookie's token (the token is never stored)."""

    @abstractmethod
    def create(self, token_hash: str, session: WebSession, now: datetime) -> None: ...

    @abstractmethod
    def find(self, token_hash: str, now: datetime) -> WebSession | None:
        """The session, unless it is unknown, revoked or expired."""

    @abstractmethod
    def revoke(self, token_hash: str) -> None: ...

    @abstractmethod
    def prune(self, before: datetime) -> int:
        """Delete sessions that expired before ``before``."""
