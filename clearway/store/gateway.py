"""The gateway's store interface: its records, tokens, runs and request log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from clearway.store.base import Doc


@dataclass(frozen=True)
class GatewayLogFilter:
    """Which gateway log rows to read: one organisation's, narrowed by any of the others, one page newest first."""

    org_id: str
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    record_id: str | None = None
    caller_id: str | None = None
    status: int | None = None
    page: int = 0
    page_size: int = 100


class GatewayStore(ABC):
    """The gateway's records (machines, endpoints, templates), tokens, runs and request log. Callers check access;
    every read of a record names its organisation, and ``owner_id`` None means any owner in it."""

    @abstractmethod
    def add_record(self, record: Doc) -> None:
        """Store a new record: ``id, kind, org_id, owner_id, parent, created, doc`` (health starts unknown)."""

    @abstractmethod
    def record(self, org_id: str, kind: str, record_id: str) -> Doc | None:
        """The live (not revoked) record with its ``health``, or None."""

    @abstractmethod
    def records(self, org_id: str, kind: str, owner_id: str | None, parent: str | None = None) -> list[Doc]:
        """Live records of a kind, oldest first (of one owner, under one parent, when given)."""

    @abstractmethod
    def revoke_record(self, org_id: str, kind: str, record_id: str, owner_id: str | None, at: datetime) -> bool:
        """Revoke a live record (an endpoint's of a revoked machine go with it); False when there is none."""

    @abstractmethod
    def set_health(self, org_id: str, record_id: str, health: str, reason: str | None, at: datetime) -> bool:
        """Change a machine's health; False when it was that already (so the change is announced once)."""

    @abstractmethod
    def counts(self, org_id: str) -> dict[str, int]:
        """Live records per kind."""

    @abstractmethod
    def add_token(self, token: Doc) -> None:
        """``id, digest, org_id, user_id, name, rate_per_minute, daily_runs, created, expires``."""

    @abstractmethod
    def token_by_digest(self, digest: str) -> Doc | None:
        """The token of that digest, revoked or expired ones included (the caller decides)."""

    @abstractmethod
    def tokens(self, org_id: str, user_id: str | None) -> list[Doc]:
        """Tokens, without their digests, oldest first."""

    @abstractmethod
    def revoke_token(self, org_id: str, token_id: str, user_id: str | None, at: datetime) -> bool: ...

    @abstractmethod
    def add_run(self, run: Doc) -> None:
        """``id, org_id, template_id, task_id, owner_id, caller_id, token_id, created``."""

    @abstractmethod
    def run(self, org_id: str, run_id: str) -> Doc | None: ...

    @abstractmethod
    def runs_since(self, token_id: str, since: datetime) -> int:
        """How many runs were asked with the token since ``since``."""

    @abstractmethod
    def add_log(self, rows: list[Doc]) -> None:
        """Append log rows (the columns of the request log) in one statement."""

    @abstractmethod
    def log(self, where: GatewayLogFilter) -> tuple[list[Doc], int]:
        """One page of rows, newest first, and how many match in all."""

    @abstractmethod
    def log_minutes(self, org_id: str, since_minute: int) -> list[Doc]:
        """Calls per ``minute, kind, record_id, endpoint``: ``calls`` and ``errors`` (status 400 and above)."""

    @abstractmethod
    def prune_log(self, before: datetime) -> int: ...
