"""The store interfaces: one per aggregate. Every read and write takes the caller's :class:`Scope`.

Documents are plain dicts in the ClearML shape; a store keeps them whole and answers :class:`ListQuery`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from clearway.domain.access import Scope
from clearway.domain.identity import Identity
from clearway.domain.query import ListQuery
from clearway.domain.scheduling.needs import Capacity, Needs

if TYPE_CHECKING:
    from clearway.store.gateway import GatewayStore
    from clearway.store.notifications import OutboxStore, SubscriptionStore
    from clearway.store.scheduling import SchedulerStore
    from clearway.store.web_sessions import WebSessionStore

Doc = dict[str, Any]
Mutation = Callable[[Doc], Doc]


class DocumentStore(ABC):
    """Projects, tasks, models, queues: documents owned by a user in an organisation."""

    @abstractmethod
    def get(self, scope: Scope, doc_id: str, *, for_update: bool = False) -> Doc | None:
        """The document, or None when it does not exist or is outside the scope."""

    @abstractmethod
    def get_many(self, scope: Scope, doc_ids: Iterable[str]) -> dict[str, Doc]:
        """The documents of these ids that exist in the scope, by id, in a few statements whatever their number."""

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


class TaskStore(DocumentStore):
    """Tasks, and which agent holds each: the agent that took it from a queue, while the task is queued or in
    progress and the agent's worker running it is alive."""

    @abstractmethod
    def hold(self, task_id: str, agent_id: str | None, at: datetime | None = None) -> None:
        """Record that ``agent_id`` took the task at ``at``; None: nobody holds it (it went back to a queue)."""

    @abstractmethod
    def held_on(self, task_id: str, agent_id: str, worker_id: str) -> None:
        """The agent's worker ``worker_id`` reports running the task it holds: from now on the hold lasts only
        while that worker is alive."""

    @abstractmethod
    def held(self, org_id: str, agent_id: str, owner_id: str, task_id: str | None = None) -> Doc | None:
        """The owner's task ``task_id`` if the agent holds it now; without an id, the one it took last."""


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
    def create_user(self, org_id: str, name: str, role: str, password_hash: str | None = None) -> Doc:
        """A new user; Conflict when the name is taken (names are unique across the server)."""

    @abstractmethod
    def find_user(self, name: str) -> Doc | None:
        """The user of that name, whatever its organisation (names are unique across the server)."""

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

    @abstractmethod
    def set_role(self, user_id: str, role: str) -> bool: ...

    @abstractmethod
    def set_password(self, user_id: str, password_hash: str | None) -> bool: ...

    @abstractmethod
    def password_hash(self, user_id: str) -> str | None: ...


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
    def add(self, scalars: list[tuple[Any, ...]], logs: list[tuple[Any, ...]], others: list[Doc]) -> None:
        """Insert rows already shaped for each kind: scalars as (task, metric, variant, iter, value, timestamp),
        console lines as (task, timestamp, level, worker, msg), others as dicts of their table's columns."""

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
    ) -> list[tuple[int, int, str, str, str]]:
        """Console lines as (id, timestamp, level, worker, msg), ordered by (timestamp, id), strictly before or after
        a position."""

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
    def delete_task_events(self, task_id: str) -> int:
        """Delete every event of the task; how many there were."""


@dataclass(frozen=True)
class BlobRecord:
    """A stored file: the ``path`` clients use (from :func:`clearway.blobs.paths.resolve_blob_path`) among the
    files of one user of one organisation (``namespace``), and the ``key`` its bytes have in the file store."""

    key: str
    org_id: str
    namespace: str
    path: str
    owner_id: str  # who uploaded it (last)
    size: int | None = None
    content_type: str | None = None
    task: str | None = None  # the task whose folder it is in


class Claim(StrEnum):
    CREATED = "created"  # the path was free and is now recorded
    EXISTING = "existing"  # the path was already recorded


class BlobRecordStore(ABC):
    """Records of stored files; the file bytes live in a :class:`clearway.blobs.base.BlobStore`. Who may touch
    which record is decided by the domain (:mod:`clearway.domain.blobs`), which picks the namespace."""

    @abstractmethod
    def get(self, org_id: str, namespace: str, path: str) -> BlobRecord | None: ...

    @abstractmethod
    def first(self, org_id: str, path: str) -> BlobRecord | None:
        """The organisation's first stored file at ``path``, whoever's it is (for its admins: a later upload of
        the same path by someone else never takes its place)."""

    @abstractmethod
    def claim(self, record: BlobRecord) -> Claim:
        """Record the file unless its path is recorded already in its namespace; say which it was."""

    @abstractmethod
    def finish(self, key: str, owner_id: str, size: int, content_type: str | None) -> None:
        """Note the uploader, size and type of a completed upload."""

    @abstractmethod
    def delete(self, key: str) -> bool: ...


@dataclass(frozen=True)
class QueueEntry:
    queue: str
    task: str
    added: datetime
    owner: str | None = None
    needs: Needs = Needs()
    reason: str | None = None  # why the scheduler last said it waits


@dataclass(frozen=True)
class Pick:
    """Which entry :meth:`QueueEntryStore.candidate` looks for: the first, in queue order (by priority first when
    ``by_priority``), that fits ``capacity``, of ``owner`` when given, of no owner in ``excluded``, and needing
    no more GPUs than ``max_gpus`` gives its owner."""

    capacity: Capacity
    owner: str | None = None
    excluded: frozenset[str] = frozenset()
    max_gpus: dict[str, int] = field(default_factory=dict)
    by_priority: bool = False


class QueueEntryStore(ABC):
    """The tasks waiting in queues, in the order agents take them; a task waits in at most one queue.

    Callers check access to the queue and the task before calling.
    """

    @abstractmethod
    def push(
        self, queue_id: str, task_id: str, at: datetime, owner_id: str, needs: Needs
    ) -> tuple[QueueEntry, str | None]:
        """Append the task to the queue, taking it out of any queue it was waiting in (whose id is returned)."""

    @abstractmethod
    def candidate(self, queue_id: str, pick: Pick) -> QueueEntry | None:
        """The first entry ``pick`` describes, locked for the current transaction: concurrent callers never get
        the same entry (on PostgreSQL, entries locked by another transaction are skipped). The caller removes it
        to take it."""

    @abstractmethod
    def waiting_owners(self, queue_id: str) -> list[tuple[str, int]]:
        """The owners with entries in the queue, each with the position of their first entry (without reading
        every entry)."""

    @abstractmethod
    def waiting(self, queue_id: str, limit: int) -> list[QueueEntry]:
        """The queue's first ``limit`` entries in queue order, with their owners, needs and reasons."""

    @abstractmethod
    def set_reason(
        self,
        queue_id: str,
        reason: str | None,
        *,
        owner: str | None = None,
        tasks: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[str]:
        """Note why entries of the queue wait (of ``owner``, or the ``tasks``); only entries whose reason changes,
        at most ``limit`` of them; their task ids."""

    @abstractmethod
    def never_fitting(self, queue_id: str, capacities: list[Capacity], limit: int) -> list[QueueEntry]:
        """Entries that declare needs, fit none of ``capacities`` and are not yet noted as unschedulable."""

    @abstractmethod
    def remove(self, task_id: str) -> QueueEntry | None:
        """Take the task out of its queue: its entry, or None when it was waiting in none."""

    @abstractmethod
    def find(self, task_id: str) -> QueueEntry | None: ...

    @abstractmethod
    def entries(self, queue_ids: Iterable[str], limit: int | None = None) -> dict[str, list[QueueEntry]]:
        """Each queue's entries in order (at most ``limit`` of each); every asked queue is a key."""

    @abstractmethod
    def counts(self, queue_ids: Iterable[str]) -> dict[str, int]: ...

    @abstractmethod
    def any_waiting(self, queue_id: str) -> bool:
        """Whether the queue has an entry (one index probe, where counting reads them all)."""

    @abstractmethod
    def reorder(self, queue_id: str, task_ids: list[str]) -> None:
        """Put the queue's entries in the order of ``task_ids``, which lists every one of them."""

    @abstractmethod
    def record_metrics(self, queue_id: str, at: datetime) -> None:
        """Note the queue's length and its entries' mean waiting time at ``at``."""

    @abstractmethod
    def metrics(self, queue_ids: Iterable[str], since: datetime, until: datetime) -> list[Doc]:
        """Recorded ``{queue, timestamp, length, avg_wait_sec}`` rows, oldest first."""

    @abstractmethod
    def prune_metrics(self, before: datetime) -> int: ...


class WorkerStore(ABC):
    """Workers (agent processes) by organisation and worker id, and the history of their machine statistics."""

    @abstractmethod
    def get(self, scope: Scope, worker_id: str) -> Doc | None: ...

    @abstractmethod
    def put(self, org_id: str, owner_id: str, doc: Doc, *, last_seen: datetime, expires: datetime) -> None:
        """Insert or replace the worker ``doc["id"]``; ``doc["task"]`` is the task it runs, if any."""

    @abstractmethod
    def list(self, scope: Scope, alive_at: datetime | None = None) -> list[Doc]:
        """The workers in scope, ordered by id; only those not yet expired at ``alive_at`` when given."""

    @abstractmethod
    def delete(self, scope: Scope, worker_id: str) -> bool: ...

    @abstractmethod
    def expired(self, now: datetime, limit: int) -> list[tuple[str, Doc]]:
        """``(org_id, doc)`` of workers in every organisation whose expiry has passed (for the watchdog)."""

    @abstractmethod
    def add_stats(self, org_id: str, row: Doc) -> None:
        """Store one report: ``worker``, ``timestamp``, ``task``, the summary numbers and ``devices``."""

    @abstractmethod
    def stats(self, org_id: str, worker_ids: list[str] | None, since: datetime, until: datetime) -> list[Doc]:
        """Reports in the period (of the given workers, or all), oldest first."""

    @abstractmethod
    def prune_stats(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class QueueBacklog:
    org: str  # organisation name
    queue: str  # queue name
    length: int
    oldest_wait_sec: float  # 0 when empty


class SweepStore(ABC):
    """Reads across every organisation, for the server's own maintenance (the watchdog) and its metrics; never for a
    request."""

    @abstractmethod
    def queue_backlog(self) -> list[QueueBacklog]:
        """Every queue's waiting tasks."""

    @abstractmethod
    def live_workers(self) -> int:
        """Workers that have not expired."""

    @abstractmethod
    def stale_tasks(self, status: str, before: datetime, limit: int) -> list[tuple[str, str]]:
        """``(org_id, task_id)`` of tasks in ``status`` not updated since ``before``."""

    @abstractmethod
    def taken_tasks(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        """``(org_id, task_id)`` of queued tasks waiting in no queue (taken by an agent that never started them),
        not updated since ``before``."""

    @abstractmethod
    def waiting_queues(self, before: datetime, limit: int) -> list[tuple[str, str, int, datetime]]:
        """``(org_id, queue_id, waiting, oldest)`` of queues whose oldest entry was added before ``before``."""


class SlidingCounters(ABC):
    """Events counted per key over a sliding window (failed logins, rate-limited calls), shared by every process
    and replica: in the database, or in Redis when one is configured. Times are seconds since the epoch."""

    @abstractmethod
    def add(self, key: str, now: float, window_sec: float) -> int:
        """Count one event of ``key`` at ``now``; the number of its events in the window ending now, this one
        included."""

    @abstractmethod
    def count(self, key: str, now: float, window_sec: float) -> int:
        """The number of events of ``key`` in the window ending at ``now``."""

    @abstractmethod
    def clear(self, key: str) -> None:
        """Forget every event of ``key``."""

    def prune(self, now: float) -> int:
        """Drop events whose window has passed (for stores that do not expire them themselves)."""
        return 0


@dataclass(frozen=True)
class Grants:
    """What is shared with one user: its groups, and the projects (subprojects included) it may read or write."""

    group_ids: frozenset[str] = frozenset()
    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()


class SharingStore(ABC):
    """Groups of users, and projects shared with users and groups. Every call names the organisation."""

    @abstractmethod
    def create_group(self, org_id: str, name: str) -> Doc: ...

    @abstractmethod
    def get_group(self, org_id: str, group_id: str) -> Doc | None:
        """The group with its ``members`` (user ids), or None outside the organisation."""

    @abstractmethod
    def list_groups(self, org_id: str) -> list[Doc]: ...

    @abstractmethod
    def delete_group(self, org_id: str, group_id: str) -> bool:
        """Delete the group, its memberships and the shares made to it."""

    @abstractmethod
    def set_member(self, org_id: str, group_id: str, user_id: str, member: bool) -> bool:
        """Add or remove a member; False when nothing changed."""

    @abstractmethod
    def share(self, org_id: str, project_id: str, grantee_type: str, grantee_id: str, mode: str, by: str) -> None:
        """Share the project (or change the mode of an existing share)."""

    @abstractmethod
    def unshare(self, org_id: str, project_id: str, grantee_type: str, grantee_id: str) -> bool: ...

    @abstractmethod
    def shares_of(self, org_id: str, project_id: str) -> list[Doc]: ...

    @abstractmethod
    def grants(self, org_id: str, user_id: str) -> Grants:
        """The user's groups and the projects shared with it or its groups, each with its subprojects."""


class AllowlistStore(ABC):
    """CIDR allowlists of client addresses at three levels: organisation, role, user."""

    @abstractmethod
    def rules(self, org_id: str, role: str, user_id: str) -> list[tuple[str, str]]:
        """``(level, cidr)`` pairs that apply to that user: the organisation's, its role's and its own."""

    @abstractmethod
    def list(self, org_id: str) -> list[Doc]:
        """Every rule of the organisation: ``{level, subject, cidr}``."""

    @abstractmethod
    def replace(self, org_id: str, level: str, subject: str, cidrs: list[str]) -> None:
        """Make ``cidrs`` the whole list at that level (an empty list removes the restriction)."""


@dataclass(frozen=True)
class AuditFilter:
    org_id: str | None
    action: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 0
    page_size: int = 100


class AuditStore(ABC):
    """The append-only audit log."""

    @abstractmethod
    def add(self, entry: Doc) -> None:
        """Append an entry: ``at, org_id, actor_id, actor_name, client_ip, action, outcome, target, detail``."""

    @abstractmethod
    def query(self, where: AuditFilter) -> list[Doc]:
        """Entries newest first, one page."""


class Stores(ABC):
    """Every store of one database, and the transaction that spans them."""

    identity: IdentityStore
    projects: DocumentStore
    tasks: TaskStore
    events: EventStore
    queues: DocumentStore
    queue_entries: QueueEntryStore
    scheduler: SchedulerStore
    workers: WorkerStore
    sweep: SweepStore
    sliding_counters: SlidingCounters
    models: DocumentStore
    blobs: BlobRecordStore
    sharing: SharingStore
    allowlists: AllowlistStore
    audit: AuditStore
    outbox: OutboxStore
    subscriptions: SubscriptionStore
    web_sessions: WebSessionStore
    gateway: GatewayStore

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A unit of work: every store call inside it commits or fails together."""
