"""Why a queue's tasks wait: its waiting tasks in the order they would be dispatched, each with the reason it waits
and an estimated start.

The order is simulated from what is known now: fair share hands the next task to the owner ranked first and counts
it as running for the next pick; quotas count the tasks already handed out in the simulation. The estimated start
assumes each live worker that fits a task frees up after the queue's mean run time (none when unknown).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from clearway.domain.access import system_scope
from clearway.domain.scheduling.needs import Capacity, Needs, worker_capacity, worker_total
from clearway.domain.scheduling.shares import Ledger, fair_key
from clearway.store.base import Doc, QueueEntry
from clearway.timeutil import iso

if TYPE_CHECKING:
    from clearway.domain.scheduling.scheduler import Scheduler

MAX_EXPLAINED = 1000  # the most waiting tasks one explanation lists


def explain(scheduler: Scheduler, org_id: str, queue: Doc, limit: int = MAX_EXPLAINED) -> Doc:
    stores, tuning, now = scheduler.stores, scheduler.tuning, scheduler.clock()
    queue_id = queue["id"]
    policy = scheduler.policy(queue_id)
    stores.scheduler.settle(org_id, now, tuning.usage_half_life_sec)
    entries = stores.queue_entries.waiting(queue_id, min(limit, MAX_EXPLAINED))
    live = [w for w in stores.workers.list(system_scope(org_id), alive_at=now) if queue_id in (w.get("queues") or [])]
    free = [worker_capacity(w, now, tuning.report_stale_sec, tuning.gpu_busy_percent) for w in live]
    totals = [worker_total(w) for w in live]
    held = stores.scheduler.held(org_id)
    owners = {e.owner for e in entries if e.owner}
    quotas = stores.scheduler.quotas(org_id)
    groups = stores.scheduler.groups_of(org_id, owners | set(held))

    def ledger() -> Ledger:
        return Ledger(quotas, groups, held)

    usage = stores.scheduler.usage(org_id, now, tuning.usage_half_life_sec)
    mean_run = stores.scheduler.mean_run_sec(queue_id)

    if policy.policy == "fair":
        ordered = _fair_order(entries, ledger, usage, policy.allow_priority)
    else:
        ordered = sorted(entries, key=lambda e: -e.needs.priority) if policy.allow_priority else entries
    sim = ledger()
    ahead = 0
    rows = []
    for position, entry in enumerate(ordered, start=1):
        owner = entry.owner or ""
        reason, start = _why(entry.needs, totals, free, sim.blocked(owner, entry.needs.gpus), ahead, policy.policy)
        if start:
            slot = ahead // max(1, sum(1 for c in totals if c.fits(entry.needs)))
            eta = now if slot == 0 else (now + timedelta(seconds=slot * mean_run) if mean_run is not None else None)
            sim.add(owner, 1, entry.needs.gpus)
            ahead += 1
        rows.append(_row(position, entry, reason, eta if start else None))
    return {
        "queue": {"id": queue_id, "name": queue.get("name")},
        **policy.doc(),
        "live_workers": len(live),
        "mean_run_sec": mean_run,
        "tasks": rows,
    }


def _fair_order(
    entries: list[QueueEntry], start: Callable[[], Ledger], usage: dict[str, float], by_priority: bool
) -> list[QueueEntry]:
    per_owner: dict[str, deque[tuple[int, QueueEntry]]] = defaultdict(deque)
    indexed = list(enumerate(entries))
    if by_priority:
        indexed.sort(key=lambda item: (-item[1].needs.priority, item[0]))
    for index, entry in indexed:
        per_owner[entry.owner or ""].append((index, entry))
    sim = start()
    out = []
    while per_owner:
        owner = min(per_owner, key=lambda o: fair_key(sim, usage, o, per_owner[o][0][0]))
        _, entry = per_owner[owner].popleft()
        if not per_owner[owner]:
            del per_owner[owner]
        sim.add(owner, 1, entry.needs.gpus)
        out.append(entry)
    return out


def _why(
    needs: Needs, totals: list[Capacity], free: list[Capacity], quota: str | None, ahead: int, policy: str
) -> tuple[str, bool]:
    """The reason the task waits, and whether it is in line to start (quota and fit allowing)."""
    if needs.declared and not any(c.fits(needs) for c in totals):
        return f"cannot be scheduled: no live worker serving this queue has {needs.describe()}", False
    if quota is not None:
        return quota, False
    if not totals:
        return "no live worker serves this queue", False
    if not any(c.fits(needs) for c in free):
        return f"no fitting worker free now (needs {needs.describe()})", True
    if ahead == 0:
        return "next", True
    order = "fair-share order" if policy == "fair" else "first in, first out"
    return f"{order}: {ahead} task{'s' if ahead > 1 else ''} ahead", True


def _row(position: int, entry: QueueEntry, reason: str, eta: datetime | None) -> dict[str, Any]:
    return {
        "position": position,
        "task": entry.task,
        "owner": entry.owner,
        "added": iso(entry.added),
        "gpus": entry.needs.gpus,
        "gpu_memory_gb": entry.needs.gpu_memory_gb,
        "memory_gb": entry.needs.memory_gb,
        "priority": entry.needs.priority,
        "reason": reason,
        "estimated_start": iso(eta) if eta is not None else None,
    }
