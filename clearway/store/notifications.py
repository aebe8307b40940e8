"""The notification stores' interfaces: the outbox of domain events, subscriptions and their deliveries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from clearway.store.base import Doc


@dataclass(frozen=True)
class NewEvent:
    """A domain event on its way into the outbox (see clearway/domain/notifications.py)."""

    event_id: str
    org_id: str
    kind: str
    subject_type: str
    subject_id: str | None
    owner_id: str | None
    project_id: str | None
    at: datetime
    data: Doc


@dataclass(frozen=True)
class OutboxEvent(NewEvent):
    row: int = 0  # the outbox row id
    position: int | None = None  # its place in the live stream, once sequenced


class OutboxStore(ABC):
    """Domain events, written with the change they describe, and read back in commit order."""

    @abstractmethod
    def add(self, event: NewEvent) -> None:
        """Append the event in the current transaction; listeners are woken once it commits."""

    @abstractmethod
    def unsequenced(self, limit: int) -> list[OutboxEvent]:
        """Up to ``limit`` events not yet sequenced, oldest first (without claiming them)."""

    @abstractmethod
    def sequence(self, limit: int, rows: list[int] | None = None) -> list[OutboxEvent]:
        """Inside a transaction: claim up to ``limit`` events not yet sequenced (rows another process is
        sequencing are skipped), or only those of ``rows``, and give them the next positions, in commit order
        across processes."""

    @abstractmethod
    def after(self, position: int, limit: int) -> list[OutboxEvent]:
        """Sequenced events after ``position``, in order."""

    @abstractmethod
    def last_position(self) -> int: ...

    @abstractmethod
    def prune(self, before: datetime) -> int:
        """Delete events older than ``before`` that no delivery refers to any more."""

    @abstractmethod
    def begin_condition(self, org_id: str, key: str, since: datetime) -> bool:
        """Record that a condition holds; False when it was recorded already (announce it only on True)."""

    @abstractmethod
    def end_condition(self, org_id: str, key: str) -> bool:
        """Forget a condition; False when it was not recorded."""

    @abstractmethod
    def conditions(self, prefix: str) -> list[tuple[str, str]]:
        """``(org_id, key)`` of the recorded conditions whose key starts with ``prefix``."""


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one subscription's channel and target."""

    id: int
    event: OutboxEvent
    subscription_id: str
    owner_id: str
    channel: str
    target: str
    secret: str | None
    state: str
    attempts: int
    created: datetime
    give_up_at: datetime
    last_error: str | None


class SubscriptionStore(ABC):
    """Subscriptions (kept whole in ``doc``) and their deliveries. Callers check access; every call names the
    organisation, and ``owner_id`` None means any owner in it."""

    changes: int = 0  # bumped when a change of a subscription made in this process commits

    @abstractmethod
    def add(self, org_id: str, owner_id: str, doc: Doc, secret: str | None) -> None:
        """Store a new subscription (``doc["id"]`` set by the caller)."""

    @abstractmethod
    def get(self, org_id: str, owner_id: str | None, subscription_id: str) -> Doc | None: ...

    @abstractmethod
    def list(self, org_id: str, owner_id: str | None) -> list[Doc]: ...

    @abstractmethod
    def replace(self, org_id: str, owner_id: str | None, doc: Doc) -> bool: ...

    @abstractmethod
    def set_secret(self, org_id: str, subscription_id: str, secret: str) -> None: ...

    @abstractmethod
    def delete(self, org_id: str, owner_id: str | None, subscription_id: str) -> bool: ...

    @abstractmethod
    def active(self, org_ids: Iterable[str]) -> list[Doc]:
        """The enabled subscriptions of those organisations, each with its ``owner`` (user id)."""

    @abstractmethod
    def add_deliveries(self, rows: list[Doc]) -> None:
        """``{event, subscription_id, org_id, owner_id, channel, target, created, next_attempt, give_up_at}``."""

    @abstractmethod
    def claim(
        self,
        channel: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        whole_targets: bool = False,
        per_target: int | None = None,
        busy: dict[str, int] | None = None,
    ) -> list[Delivery]:
        """Lease up to ``limit`` pending deliveries of the channel that are due and not leased by anyone; with
        ``whole_targets`` also every other pending one to the same targets (an e-mail digest). ``per_target``
        caps the deliveries leased per target, counting the ``busy`` ones the caller has in flight."""

    @abstractmethod
    def delivered(self, ids: list[int], at: datetime) -> None: ...

    @abstractmethod
    def failed(self, ids: list[int], error: str, next_attempt: datetime | None, at: datetime) -> None:
        """Note a failed attempt: try again at ``next_attempt``, or, when None, give up (a dead letter)."""

    @abstractmethod
    def release_leases(self) -> int:
        """Forget every lease (at start-up with a database only this process uses)."""

    @abstractmethod
    def deliveries(self, org_id: str, owner_id: str | None, state: str | None, limit: int) -> list[Delivery]:
        """Newest first."""

    @abstractmethod
    def retry(self, org_id: str, owner_id: str | None, delivery_id: int, now: datetime, give_up_at: datetime) -> bool:
        """Make a dead (or pending) delivery due now again; False when there is no such delivery."""

    @abstractmethod
    def prune(self, before: datetime) -> int:
        """Delete finished deliveries older than ``before``."""
