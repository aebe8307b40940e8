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
from typing import Any

from clearway.domain.access import Scope
from clearway.domain.identity import Identity
from clearway.domain.query import ListQuery
from clearway.domain.scheduling.needs import Capacity, Needs

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
