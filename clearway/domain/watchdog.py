"""The watchdog: dead workers and tasks nobody runs any more are detected and marked, never left "running".

:meth:`Watchdog.sweep` does one pass (tests call it directly, with their own clock); :meth:`Watchdog.start` runs it
on an interval in a background thread of the server, in one process at a time: every process (replica or worker)
runs the thread, but only the one holding the shared ``watchdog`` lock sweeps, and another takes the lock within one
interval when that process dies. Every change also re-checks its condition inside the transaction that makes it, so
even two sweeps at once would do no harm.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from clearway.domain import notifications
from clearway.domain.access import system_scope
from clearway.domain.task_status import Status, apply_status
from clearway.store.base import Doc, Stores
from clearway.timeutil import parse_iso, utcnow

log = logging.getLogger(__name__)
BATCH = 500  # most records of each kind handled by one sweep
MESSAGE = "Changed by the Clearway watchdog"


@dataclass
class SweepReport:
    expired_workers: list[str] = field(default_factory=list)
    failed_tasks: dict[str, str] = field(default_factory=dict)  # task id -> reason


class SingleRunner(Protocol):
    """A lock held by one process among all that share the database (``store.sql.locks.HeldLock``)."""

    def hold(self) -> bool:
        """Whether this process holds it now (taking it if it is free)."""

    def release(self) -> None: ...


class Watchdog:
    def __init__(
        self,
        stores: Stores,
        *,
        worker_timeout_sec: int,
        task_timeout_sec: int,
        retention_days: int,
        clock: Callable[[], datetime] = utcnow,
        lock: SingleRunner | None = None,
    ) -> None:
        self.stores = stores
        self.lock = lock
        self.worker_timeout_sec = worker_timeout_sec
        self.task_timeout_sec = task_timeout_sec
        self.retention_days = retention_days
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> SweepReport:
        """One pass: expired workers go (their running task fails), running tasks silent for the task timeout
        fail, tasks an agent took but never started fail, and old statistics and counters are pruned."""
        now = self.clock()
        report = SweepReport()
        self._expire_workers(now, report)
        silent_since = now - timedelta(seconds=self.task_timeout_sec)
        for org_id, task_id in self.stores.sweep.stale_tasks(Status.IN_PROGRESS, silent_since, BATCH):
            reason = f"no ping or update for {self.task_timeout_sec} s: the process running it is gone"
            self._fail(org_id, task_id, reason, Status.IN_PROGRESS, silent_since, report)
        for org_id, task_id in self.stores.sweep.taken_tasks(silent_since, BATCH):
            reason = f"taken from its queue by an agent that did not start it within {self.task_timeout_sec} s"
            self._fail(org_id, task_id, reason, Status.QUEUED, silent_since, report)
        kept_since = now - timedelta(days=self.retention_days)
        self.stores.workers.prune_stats(kept_since)
        self.stores.queue_entries.prune_metrics(kept_since)
        self.stores.sliding_counters.prune(now.timestamp())
        return report

    def start(self, interval_sec: float) -> None:
        """Sweep every ``interval_sec`` in a daemon thread until :meth:`stop`."""
        if self._thread is not None or interval_sec <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval_sec,), name="clearway-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.lock is not None:
            self.lock.release()

    def _run(self, interval_sec: float) -> None:
        leading = False
        while not self._stop.wait(interval_sec):
            try:
                if self.lock is not None and leading != (leading := self.lock.hold()):
                    log.info("this process %s the watchdog", "now runs" if leading else "no longer runs")
                if self.lock is not None and not leading:
                    continue  # another process sweeps
                report = self.sweep()
            except Exception:  # noqa: BLE001 - a failed pass must not end the watchdog
                log.exception("watchdog sweep failed")
                continue
            for task_id, reason in report.failed_tasks.items():
                log.warning("task %s marked failed: %s", task_id, reason)

    def _expire_workers(self, now: datetime, report: SweepReport) -> None:
        for org_id, doc in self.stores.workers.expired(now, BATCH):
            scope = system_scope(org_id)
            with self.stores.transaction():
                current = self.stores.workers.get(scope, doc["id"])
                if current is None or (parse_iso(current.get("expires")) or now) > now:
                    continue  # it reported again meanwhile
                self.stores.workers.delete(scope, doc["id"])
                silent = int(current.get("timeout") or self.worker_timeout_sec)
                notifications.worker_offline(self.stores, org_id, current, f"stopped reporting for {silent} s")
                task_id = current.get("task")
                if task_id:
                    silence = int(current.get("timeout") or self.worker_timeout_sec)
                    reason = f"worker {doc['id']} stopped reporting for {silence} s while running it"
                    self._fail(org_id, task_id, reason, Status.IN_PROGRESS, None, report, worker=doc["id"])
            report.expired_workers.append(doc["id"])

    def _fail(
        self,
        org_id: str,
        task_id: str,
        reason: str,
        expected: Status,
        silent_since: datetime | None,
        report: SweepReport,
        worker: str | None = None,
    ) -> None:
        def mutate(doc: Doc) -> Doc:
            if not _still(doc, expected, silent_since, worker):
                return doc
            report.failed_tasks[task_id] = reason
            return apply_status(doc, Status.FAILED, reason=reason, message=MESSAGE)

        # Neither a running task nor a taken one waits in a queue: there is no entry to remove.
        with self.stores.transaction():
            failed = self.stores.tasks.update(system_scope(org_id), task_id, mutate)
            if failed is not None and task_id in report.failed_tasks:
                notifications.task_status_changed(self.stores, expected, failed)


def _still(doc: Doc, expected: Status, silent_since: datetime | None, worker: str | None) -> bool:
    """Whether the task is still in the state that condemned it when it was found."""
    if doc.get("status") != expected:
        return False
    if silent_since is not None and (parse_iso(doc.get("last_update")) or silent_since) > silent_since:
        return False
    return worker is None or doc.get("last_worker") in (None, worker)
