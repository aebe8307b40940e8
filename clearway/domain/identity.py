"""Who is calling: the result of authentication, handed to every domain and store call."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    AGENT = "agent"


@dataclass(frozen=True)
class Identity:
    user_id: str
    user_name: str
    org_id: str
    org_name: str
    role: Role
    client_ip: str | None = None
    access_key: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
