"""The store interfaces: one per aggregate. Every read and write takes the caller's :class:`Scope`.

Documents are plain dicts in the ClearML shape; a store keeps them whole and answers :class:`ListQuery`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearway.domain.access import Scope
from clearway.domain.identity import Identity
from clearway.domain.query import ListQuery

Doc = dict[str, Any]
Mutation = Callable[[Doc], Doc]


class DocumentStore(ABC):
    """Projects, tasks, models, queues: documents owned by a user in an organisation."""

    @abstractmethod
    def get(self, scope: Scope, doc_id: str, *, for_update: bool = False) -> Doc | None:
        """The document, or None when it does not exist or is outside the scope."""

    @abstractmethod
    def query(self, scope: Scope, query: ListQuery) -> list[Doc]:
        """Documents matching the query, ordered and paged."""

    @abstractmethod
    def count(self, scope: Scope, query: ListQuery) -> int:
        """How many documents match the query, ignoring paging."""

    @abstractmethod
    def insert(self, org_id: str, owner_id: str, doc: Doc) -> Doc:
        """Store a new document (its ``id`` is set by the caller)."""

    @abstractmethod
    def update(self, scope: Scope, doc_id: str, mutate: Mutation) -> Doc | None:
        """Apply ``mutate`` to the current document atomically and store the result; None if not found."""

    @abstractmethod
    def delete(self, scope: Scope, doc_id: str) -> bool:
        """Delete the document; False when it was not found."""


@dataclass(frozen=True)
class KeyRecord:
    access_key: str
    secret_hash: str
    revoked: bool
    identity: Identity


class IdentityStore(ABC):
    """Organisations, users and their API keys."""

    @abstractmethod
    def ensure_org(self, name: str) -> Doc:
        """The organisation of that name, created if missing."""

    @abstractmethod
    def create_user(self, org_id: str, name: str, role: str, password_hash: str | None = None) -> Doc: ...

    @abstractmethod
    def find_user(self, name: str, org_id: str | None = None) -> Doc | None:
        """A user by name (in one organisation, or in any when the name is unique)."""

    @abstractmethod
    def get_user(self, user_id: str) -> Doc | None: ...

    @abstractmethod
    def list_users(self, org_id: str | None = None) -> list[Doc]: ...

    @abstractmethod
    def add_key(self, user_id: str, access_key: str, secret_hash: str) -> None: ...

    @abstractmethod
    def list_keys(self, user_id: str) -> list[Doc]: ...

    @abstractmethod
    def revoke_key(self, access_key: str) -> bool: ...

    @abstractmethod
    def get_key(self, access_key: str) -> KeyRecord | None: ...

    @abstractmethod
    def identity_of(self, user_id: str) -> Identity | None: ...


@dataclass(frozen=True)
class ScalarPoint:
    metric: str
    variant: str
    iter: int
    value: float
    timestamp: int


class EventStore(ABC):
    """Events of tasks: scalars, console lines, plots, debug images. Callers check access to the task."""

    @abstractmethod
    def add(self, scalars: list[Doc], logs: list[Doc], others: list[Doc]) -> None:
        """Insert rows already shaped for each kind (see the SQL implementation for the keys)."""

    @abstractmethod
    def scalars(self, task_id: str) -> Iterator[ScalarPoint]:
        """All scalar points of a task, ordered by metric, variant, iteration."""

    @abstractmethod
    def scalar_page(self, task_id: str, after_id: int, limit: int, descending: bool) -> list[Doc]: ...

    @abstractmethod
    def count(self, task_id: str, kind: str, event_type: str | None = None) -> int: ...

    @abstractmethod
    def log_page(
        self,
        task_id: str,
        *,
        before: tuple[int, int] | None,
        after: tuple[int, int] | None,
        limit: int,
        descending: bool,
    ) -> list[Doc]:
        """Console lines ordered by (timestamp, id), strictly before or after a position."""

    @abstractmethod
    def other_page(
        self,
        task_id: str,
        event_types: Iterable[str],
        after_id: int,
        limit: int,
        descending: bool,
        metric: str | None = None,
    ) -> list[Doc]: ...

    @abstractmethod
    def last_iterations(self, task_id: str, event_type: str, iters: int) -> list[Doc]:
        """Events of the type in the last ``iters`` iterations of each metric/variant."""

    @abstractmethod
    def delete_task_events(self, task_id: str) -> None: ...


@dataclass(frozen=True)
class BlobRecord:
    """Who owns the stored file at ``path`` (a key from :func:`clearway.blobs.paths.resolve_blob_path`)."""

    path: str
    org_id: str
    owner_id: str
    size: int | None
    content_type: str | None


class Claim(StrEnum):
    CREATED = "created"  # the path was free and is now the caller's
    EXISTING = "existing"  # the path was already recorded, inside the caller's scope
    TAKEN = "taken"  # the path belongs to someone outside the caller's scope


class BlobRecordStore(ABC):
    """Ownership records of stored files; the file bytes live in a :class:`clearway.blobs.base.BlobStore`."""

    @abstractmethod
    def get(self, scope: Scope, path: str) -> BlobRecord | None:
        """The record, or None when there is none or it is outside the scope."""

    @abstractmethod
    def claim(self, scope: Scope, org_id: str, owner_id: str, path: str) -> Claim:
        """Record ``path`` as owned by ``owner_id`` unless it is recorded already; say which it was."""

    @abstractmethod
    def finish(self, scope: Scope, path: str, size: int, content_type: str | None) -> None:
        """Note the size and type of a completed upload."""

    @abstractmethod
    def delete(self, scope: Scope, path: str) -> bool: ...


class Stores(ABC):
    """Every store of one database, and the transaction that spans them."""

    identity: IdentityStore
    projects: DocumentStore
    tasks: DocumentStore
    events: EventStore
    models: DocumentStore
    blobs: BlobRecordStore

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A unit of work: every store call inside it commits or fails together."""
