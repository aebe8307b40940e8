"""Taking the next task for a worker: the first waiting task, in the queue's policy order, that fits what the
worker reports free and that its owner's quotas allow.

Atomicity: the entry is found and locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the single writer on SQLite),
the owner's quota rows are locked and the quota checked again under the lock, and the entry is deleted and the
grant written in the same transaction. So no entry is handed out twice and two agents never both pass one quota.
Lock order: entry, then quota rows (sorted), then task; grants are closed (:meth:`SchedulerStore.settle`) in a
transaction of their own before (in the take's own where a single writer serialises takes: SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from clearway.domain import notifications
from clearway.domain.access import Scope, system_scope
from clearway.domain.identity import Identity
from clearway.domain.scheduling.needs import (
    UNSCHEDULABLE,
    Capacity,
    Needs,
    check_defaults,
    worker_capacity,
    worker_total,
)
from clearway.domain.scheduling.shares import Ledger, fair_key
from clearway.domain.task_status import Status
from clearway.store.base import Doc, Pick, QueueEntry, Stores
from clearway.timeutil import now_iso, utcnow

FIFO = "fifo"
FAIR = "fair"
POLICIES = (FIFO, FAIR)
_MAX_TRIES = 100  # entries looked at by one take before giving up (stale entries, owners found over quota)
_MAX_ANNOUNCED = 20  # unschedulable tasks flagged by one take


@dataclass(frozen=True)
class Policy:
    policy: str = FAIR
    allow_priority: bool = False
    defaults: Needs = Needs()

    def doc(self) -> Doc:
        return {
            "policy": self.policy,
            "allow_priority": self.allow_priority,
            "gpus": self.defaults.gpus,
            "gpu_memory_gb": self.defaults.gpu_memory_gb,
            "memory_gb": self.defaults.memory_gb,
        }


@dataclass(frozen=True)
class Tuning:
    """The scheduler's settings (see clearway/settings.py)."""

    report_stale_sec: float = 60.0
    usage_half_life_sec: float = 3600.0
    gpu_busy_percent: float = 50.0


class Scheduler:
    def __init__(self, stores: Stores, tuning: Tuning, clock: Callable[[], datetime] = utcnow) -> None:
        self.stores = stores
        self.tuning = tuning
        self.clock = clock

    def policy(self, queue_id: str) -> Policy:
        doc = self.stores.scheduler.policy(queue_id)
        if doc is None:
            return Policy()
        defaults = check_defaults(Needs(doc["gpus"], doc["gpu_memory_gb"], doc["memory_gb"]))
        return Policy(doc["policy"], bool(doc["allow_priority"]), defaults)

    def capacity(self, identity: Identity, worker_id: str | None) -> Capacity:
        """What the calling agent's worker reported free; unknown for a worker it does not own."""
        worker = self.stores.workers.get(system_scope(identity.org_id), worker_id) if worker_id else None
        if worker is not None and worker.get("user") != identity.user_id:
            worker = None
        tuning = self.tuning
        return worker_capacity(worker, self.clock(), tuning.report_stale_sec, tuning.gpu_busy_percent)

    def take(self, identity: Identity, queue_id: str, worker_id: str | None) -> tuple[QueueEntry, Doc] | None:
        """The next task for the worker, taken atomically; None when nothing waiting fits it. Callers check that
        the identity may take tasks from the queue."""
        now = self.clock()
        org = identity.org_id
        scheduler = self.stores.scheduler
        capacity = self.capacity(identity, worker_id)
        policy = self.policy(queue_id)
        quotas = scheduler.quotas(org)
        if not scheduler.settles_with_take:
            scheduler.settle(org, now, self.tuning.usage_half_life_sec)
        for attempt in range(_MAX_TRIES):
            with self.stores.transaction():
                if attempt == 0 and scheduler.settles_with_take:
                    scheduler.settle(org, now, self.tuning.usage_half_life_sec)
                outcome = self._try(identity, queue_id, policy, capacity, quotas, now)
            if outcome is not _STALE:
                break
        if outcome is None or outcome is _STALE:
            self.announce_unschedulable(identity, queue_id)
            return None
        return outcome  # type: ignore[return-value]

    def _try(
        self, identity: Identity, queue_id: str, policy: Policy, capacity: Capacity, quotas: list[Doc], now: datetime
    ) -> tuple[QueueEntry, Doc] | None | object:
        """One attempt inside a transaction: the taken entry and task, None when nothing fits, or ``_STALE`` when
        the entry found belonged to a task no longer queued (removed; try again)."""
        org = identity.org_id
        held = self.stores.scheduler.held(org)
        owners = self.stores.queue_entries.waiting_owners(queue_id) if policy.policy == FAIR else []
        groups = self.stores.scheduler.groups_of(org, {*held, *(o for o, _ in owners)}) if quotas else {}
        ledger = Ledger(quotas, groups, held)
        if policy.policy == FAIR:
            usage = self.stores.scheduler.usage(org, now, self.tuning.usage_half_life_sec)
            for owner, _first in sorted(owners, key=lambda item: fair_key(ledger, usage, item[0], item[1])):
                reason = ledger.blocked(owner)
                if reason is not None:
                    self._note(org, queue_id, owner, reason)
                    continue
                left = ledger.gpus_left(owner)
                limits = {} if left is None else {owner: left}
                pick = Pick(capacity, owner, max_gpus=limits, by_priority=policy.allow_priority)
                outcome = self._claim(identity, queue_id, pick, ledger, now)
                if not isinstance(outcome, str):
                    return outcome
            return None
        excluded: set[str] = set()
        for owner in held:
            if (reason := ledger.blocked(owner)) is not None:
                self._note(org, queue_id, owner, reason)
                excluded.add(owner)
        limits = {owner: left for owner in held if (left := ledger.gpus_left(owner)) is not None}
        for _ in range(_MAX_TRIES):
            pick = Pick(capacity, excluded=frozenset(excluded), max_gpus=limits, by_priority=policy.allow_priority)
            outcome = self._claim(identity, queue_id, pick, ledger, now)
            if not isinstance(outcome, str):
                return outcome
            excluded.add(outcome)
        return None

    def _claim(
        self, identity: Identity, queue_id: str, pick: Pick, ledger: Ledger, now: datetime
    ) -> tuple[QueueEntry, Doc] | None | object | str:
        """Take the entry ``pick`` finds, if its owner's quotas (checked again under lock) allow it; else the
        owner's id (noted on their tasks as waiting for quota)."""
        entry = self.stores.queue_entries.candidate(queue_id, pick)
        if entry is None:
            return None
        assert entry.owner is not None
        reason = self._recheck(identity, ledger, entry)
        if reason is not None:
            self._note(identity.org_id, queue_id, entry.owner, reason)
            return entry.owner
        return self._take_entry(identity, entry, now)

    def _recheck(self, identity: Identity, ledger: Ledger, entry: QueueEntry) -> str | None:
        """The owner's quotas, checked again with their rows locked (what others took meanwhile counts)."""
        assert entry.owner is not None
        if not ledger.quotas:
            return None
        scheduler = self.stores.scheduler
        groups = {**ledger.groups, **scheduler.groups_of(identity.org_id, [entry.owner])}
        keys = [q.key for q in ledger.refreshed(groups, {}).limiting(entry.owner)]
        if not keys:
            return None
        scheduler.lock_quotas(identity.org_id, keys)
        held = scheduler.held(identity.org_id)
        groups.update(scheduler.groups_of(identity.org_id, [o for o in held if o not in groups]))
        return ledger.refreshed(groups, held).blocked(entry.owner, entry.needs.gpus)

    def _take_entry(self, identity: Identity, entry: QueueEntry, now: datetime) -> tuple[QueueEntry, Doc] | object:
        self.stores.queue_entries.remove(entry.task)
        scope = system_scope(identity.org_id)  # whoever enqueued it, a task in the queue is the agent's to take
        task = self.stores.tasks.update(scope, entry.task, _touch_if_queued)
        self.stores.queue_entries.record_metrics(entry.queue, now)
        if task is None or task["status"] != Status.QUEUED:
            return _STALE
        self.stores.tasks.hold(entry.task, identity.user_id, now)
        owner = entry.owner or task.get("user") or ""
        self.stores.scheduler.grant(identity.org_id, entry.task, owner, entry.queue, entry.needs.gpus, now)
        return entry, task

    def _note(self, org_id: str, queue_id: str, owner: str, reason: str) -> None:
        """Say on the owner's waiting tasks (their status message) why they wait, once per change of reason."""
        for task_id in self.stores.queue_entries.set_reason(queue_id, reason, owner=owner):
            self._set_message(system_scope(org_id), task_id, reason)

    def announce_unschedulable(self, identity: Identity, queue_id: str) -> None:
        """Flag and announce (once) the waiting tasks that no live worker serving the queue could ever run."""
        org = identity.org_id
        live = self.stores.workers.list(system_scope(org), alive_at=self.clock())
        totals = [worker_total(w) for w in live if queue_id in (w.get("queues") or [])]
        with self.stores.transaction():
            for entry in self.stores.queue_entries.never_fitting(queue_id, totals, _MAX_ANNOUNCED):
                reason = unschedulable_reason(entry.needs, totals)
                if not self.stores.queue_entries.set_reason(queue_id, reason, tasks=[entry.task]):
                    continue
                task = self._set_message(system_scope(org), entry.task, reason)
                if task is not None:
                    notifications.task_unschedulable(self.stores, task, reason)

    def _set_message(self, scope: Scope, task_id: str, message: str) -> Doc | None:
        def mutate(doc: Doc) -> Doc:
            if doc.get("status") != Status.QUEUED or doc.get("status_message") == message:
                return doc
            return {**doc, "status_message": message, "last_update": now_iso()}

        return self.stores.tasks.update(scope, task_id, mutate)


_STALE = object()


def unschedulable_reason(needs: Needs, totals: list[Capacity]) -> str:
    if not totals:
        return f"{UNSCHEDULABLE}: needs {needs.describe()}; no live worker serves this queue"
    most = max(len(c.gpu_memory_gb) for c in totals)
    return f"{UNSCHEDULABLE}: needs {needs.describe()}; no live worker serving this queue has that (most GPUs: {most})"


def _touch_if_queued(doc: Doc) -> Doc:
    return {**doc, "last_update": now_iso()} if doc.get("status") == Status.QUEUED else doc
