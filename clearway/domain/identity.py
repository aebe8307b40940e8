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
    impersonator: str | None = None  # the agent acting for this user (clearml-agent --use-owner-token)
    # An agent acting for a user does so for one task it holds (``acting_task``): it writes only that task and the
    # project it is in with its subprojects (``acting_project``, None when the owner may not write there).
    acting_task: str | None = None
    acting_project: str | None = None
    # Filled in by the Authenticator from the groups and shares tables; domain/access.py turns them into scopes.
    group_ids: frozenset[str] = frozenset()
    shared_read: frozenset[str] = frozenset()  # projects (with their subprojects) shared read-only
    shared_write: frozenset[str] = frozenset()  # projects (with their subprojects) shared read-write
