"""The scheduler's store interface: queue policies, quotas, grants and usage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime

from clearway.store.base import Doc


class SchedulerStore(ABC):
    """Queue policies, quotas, and what dispatched tasks hold and have used (see clearway/domain/scheduling)."""

    #: Whether one writer already serialises every take (SQLite): then grants are settled in the take's own
    #: transaction (one commit instead of two) at no cost in concurrency. Elsewhere they are settled in a
    #: transaction of their own first, so the owners' usage rows are not held locked across a take.
    settles_with_take: bool = False

    @abstractmethod
    def policy(self, queue_id: str) -> Doc | None:
        """``{policy, allow_priority, gpus, gpu_memory_gb, memory_gb}`` of the queue; None when never set."""

    @abstractmethod
    def set_policy(self, org_id: str, queue_id: str, doc: Doc) -> None: ...

    @abstractmethod
    def quotas(self, org_id: str) -> list[Doc]:
        """Every ``{subject_type, subject_id, max_running, max_gpus, weight}`` of the organisation."""

    @abstractmethod
    def set_quota(self, org_id: str, subject_type: str, subject_id: str, doc: Doc | None) -> None:
        """Set (or with None remove) a user's or group's quota and weight."""

    @abstractmethod
    def lock_quotas(self, org_id: str, subjects: list[tuple[str, str]]) -> None:
        """Lock these quota rows until the transaction ends (taking a task for their users waits on it)."""

    @abstractmethod
    def groups_of(self, org_id: str, user_ids: Iterable[str]) -> dict[str, list[str]]:
        """The groups each user is in."""

    @abstractmethod
    def held(self, org_id: str) -> dict[str, tuple[int, int]]:
        """Per owner, the tasks dispatched and not yet ended, and the GPUs they hold."""

    @abstractmethod
    def usage(self, org_id: str, now: datetime, half_life_sec: float) -> dict[str, float]:
        """Per owner, recent GPU-seconds: ended tasks' decayed usage plus what running tasks used so far."""

    @abstractmethod
    def grant(self, org_id: str, task_id: str, owner_id: str, queue_id: str, gpus: int, at: datetime) -> None:
        """Note a task handed to a worker (replacing any earlier grant of it)."""

    @abstractmethod
    def settle(self, org_id: str, now: datetime, half_life_sec: float) -> int:
        """Close the grants of tasks that ended (no longer queued or running, re-enqueued, or deleted), fold them
        into their owners' usage, and forget closed grants older than a few half-lives; how many were closed."""

    @abstractmethod
    def mean_run_sec(self, queue_id: str, limit: int = 100) -> float | None:
        """The mean run time of the queue's recently ended grants."""
