"""Workers: the agents' processes, which queues they serve, what they run, and their machines' statistics.

A worker is known by the id its agent chose (unique in an organisation). It stays registered while it reports;
one that has been silent for its timeout is expired, and the watchdog removes it (see watchdog.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from clearway.domain import notifications
from clearway.domain.access import (
    may_see_queue,
    may_take_tasks,
    queue_read_scope,
    read_scope,
    worker_read_scope,
    worker_write_scope,
    write_scope,
)
from clearway.domain.identity import Identity, Role
from clearway.domain.ids import looks_like_id
from clearway.domain.queues import bucket, check_period
from clearway.errors import Forbidden, InvalidQueueId, InvalidWorkerId, ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.timeutil import iso, parse_iso, utcnow

MAX_WORKER_ID = 255
# Machine statistics reported per device (one value per CPU core or GPU); the rest are single numbers.
DEVICE_METRICS = frozenset({"cpu_usage", "cpu_temperature", "gpu_usage", "gpu_temperature", "gpu_memory_used",
                            "gpu_memory_free", "gpu_fraction"})  # fmt: skip
AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "avg": lambda values: sum(values) / len(values),
    "min": min,
    "max": max,
}


class Workers:
    def __init__(self, stores: Stores, timeout_sec: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.stores = stores
        self.timeout_sec = timeout_sec
        self.clock = clock

    # registration and reports
    def register(
        self,
        identity: Identity,
        worker_id: str,
        *,
        queues: list[str] | None = None,
        tags: list[str] | None = None,
        system_tags: list[str] | None = None,
        timeout: int | None = None,
    ) -> Doc:
        """Register (or re-register) a worker serving ``queues``; ``timeout`` overrides the server's expiry."""
        now = self.clock()
        with self.stores.transaction():
            current = self._claim(identity, worker_id, now)
            doc = {
                **(current or {}),
                **_new_worker(identity, worker_id, now, current),
                "queues": self._queue_ids(identity, queues or []),
                "tags": list(tags or []),
                "system_tags": list(system_tags or []),
                "timeout": timeout if timeout and timeout > 0 else self.timeout_sec,
            }
            self._put(identity, doc, now)
            self._announce(identity, current, doc, now)
        return doc

    def unregister(self, identity: Identity, worker_id: str) -> None:
        with self.stores.transaction():
            doc = self.stores.workers.get(worker_write_scope(identity), worker_id)
            if doc is None or not self.stores.workers.delete(worker_write_scope(identity), worker_id):
                raise InvalidWorkerId(f"No worker {worker_id!r} is registered", worker=worker_id)
            notifications.worker_offline(self.stores, identity.org_id, doc, "unregistered")

    def status_report(self, identity: Identity, worker_id: str, report: dict[str, Any]) -> Doc:
        """A worker's periodic report: what it runs now (``task``/``queue``; absent means nothing), the queues it
        serves (kept when absent), its tags, and its machine statistics. An unknown worker is registered."""
        now = self.clock()
        with self.stores.transaction():
            current = self._claim(identity, worker_id, now)
            doc = {**(current or {}), **_new_worker(identity, worker_id, now, current)}
            if report.get("queues") is not None:
                # A report is never refused for a queue deleted meanwhile: that would expire a healthy worker.
                doc["queues"] = self._queue_ids(identity, report["queues"], strict=False)
            for key in ("tags", "system_tags"):
                if report.get(key) is not None:
                    doc[key] = list(report[key])
            task_id = report.get("task") or None
            if task_id and task_id != doc.get("task"):
                # Only a task the worker may see is recorded as what it runs (and then noted on the task).
                task_id = task_id if self._note_worker_on_task(identity, task_id, worker_id) else None
            doc["task"] = task_id
            doc["queue"] = report.get("queue") or None
            doc["last_report_time"] = iso(now)
            stats = report.get("machine_stats")
            if stats:
                doc["machine_stats"] = stats
                self.stores.workers.add_stats(identity.org_id, _stats_row(worker_id, now, task_id, stats))
            self._put(identity, doc, now)
            self._announce(identity, current, doc, now)
        return doc

    def set_runtime_properties(self, identity: Identity, worker_id: str, properties: list[Doc]) -> None:
        with self.stores.transaction():
            doc = self.stores.workers.get(worker_write_scope(identity), worker_id)
            if doc is None:
                raise InvalidWorkerId(f"No worker {worker_id!r} is registered", worker=worker_id)
            merged = {p["key"]: p for p in doc.get("runtime_properties") or []}
            merged.update({p["key"]: p for p in properties})
            self._put(identity, {**doc, "runtime_properties": list(merged.values())}, self.clock(), touch=False)

    # reads
    def get(self, identity: Identity, worker_id: str) -> Doc:
        doc = self.stores.workers.get(worker_read_scope(identity), worker_id)
        if doc is None:
            raise InvalidWorkerId(f"No worker {worker_id!r} is registered", worker=worker_id)
        return doc

    def list(self, identity: Identity, last_seen_sec: int | None = None) -> list[Doc]:
        """Live workers, in ClearML's shape; ``last_seen_sec`` also drops those silent longer than that."""
        now = self.clock()
        docs = self.stores.workers.list(worker_read_scope(identity), alive_at=now)
        if last_seen_sec:
            cutoff = now - timedelta(seconds=last_seen_sec)
            docs = [d for d in docs if (parse_iso(d.get("last_activity_time")) or now) >= cutoff]
        return self._rendered(identity, docs)

    def is_watched(self, identity: Identity, queue_id: str) -> bool:
        """Whether a live worker of the organisation serves the queue."""
        docs = self.stores.workers.list(worker_read_scope(identity), alive_at=self.clock())
        return any(queue_id in (doc.get("queues") or []) for doc in docs)

    def activity_report(self, identity: Identity, since: float, until: float, interval: int) -> Doc:
        """How many workers reported (``total``) and how many of them ran a task (``active``), per bucket."""
        rows = self._stats_rows(identity, None, since, until, interval)
        total: dict[int, set[str]] = defaultdict(set)
        active: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            key = bucket(row["timestamp"], interval)
            total[key].add(row["worker"])
            if row["task"]:
                active[key].add(row["worker"])
        dates = sorted(total)
        return {
            "total": {"dates": dates, "counts": [len(total[d]) for d in dates]},
            "active": {"dates": dates, "counts": [len(active.get(d, ())) for d in dates]},
        }

    def stats(
        self,
        identity: Identity,
        worker_ids: list[str] | None,
        items: list[Doc],
        since: float,
        until: float,
        interval: int,
        split_by_variant: bool = False,
    ) -> list[Doc]:
        """Aggregated machine statistics per worker, metric (and device, with ``split_by_variant``) and bucket."""
        for item in items:
            if item.get("category", "avg") not in AGGREGATIONS:
                raise ValidationFailed(f"invalid category {item.get('category')!r}", allowed=sorted(AGGREGATIONS))
        rows = self._stats_rows(identity, worker_ids, since, until, interval)
        per_worker: dict[str, list[Doc]] = defaultdict(list)
        for row in rows:
            per_worker[row["worker"]].append(row)
        return [
            {"worker": worker, "metrics": _metrics(worker_rows, items, interval, split_by_variant)}
            for worker, worker_rows in sorted(per_worker.items())
        ]

    # helpers
    def _claim(self, identity: Identity, worker_id: str, now: datetime) -> Doc | None:
        """The caller's current record of the worker; refuses an id another user's live worker holds."""
        if not may_take_tasks(identity):
            raise Forbidden("Only agent credentials register workers")
        if not isinstance(worker_id, str) or not worker_id.strip() or len(worker_id) > MAX_WORKER_ID:
            raise InvalidWorkerId(f"worker id must be 1 to {MAX_WORKER_ID} characters", worker=worker_id)
        current = self.stores.workers.get(worker_read_scope(identity), worker_id)
        if current is None:
            return None
        alive = (parse_iso(current.get("expires")) or now) > now
        if current.get("user") != identity.user_id and alive and identity.role is not Role.ADMIN:
            raise InvalidWorkerId(f"Worker id {worker_id!r} is in use by another user's agent", worker=worker_id)
        return current

    def _put(self, identity: Identity, doc: Doc, now: datetime, *, touch: bool = True) -> None:
        if touch:
            doc["last_activity_time"] = iso(now)
            doc["expires"] = iso(now + timedelta(seconds=int(doc.get("timeout") or self.timeout_sec)))
        expires = parse_iso(doc["expires"])
        assert expires is not None
        last_seen = parse_iso(doc["last_activity_time"]) or now
        self.stores.workers.put(identity.org_id, doc["user"], doc, last_seen=last_seen, expires=expires)

    def _announce(self, identity: Identity, before: Doc | None, after: Doc, now: datetime) -> None:
        """Announce a worker that comes (back) online, and GPUs that became free or busy since its last report."""
        if before is None or (parse_iso(before.get("expires")) or now) <= now:
            notifications.worker_online(self.stores, identity.org_id, after)
        elif before.get("machine_stats") is not after.get("machine_stats"):
            notifications.gpus_changed(
                self.stores, identity.org_id, after, before.get("machine_stats"), after.get("machine_stats")
            )

    def _queue_ids(self, identity: Identity, queues: Iterable[Any], *, strict: bool = True) -> list[str]:
        """The queue ids that exist; an unknown one is refused when ``strict``, else left out."""
        ids = []
        for queue_id in queues:
            if isinstance(queue_id, str) and self.stores.queues.get(queue_read_scope(identity), queue_id) is not None:
                ids.append(queue_id)
            elif strict:
                raise InvalidQueueId(id=queue_id)
        return ids

    def _note_worker_on_task(self, identity: Identity, task_id: str, worker_id: str) -> bool:
        """Record on the task which worker runs it, when the worker may change it (an agent: the tasks it holds);
        whether the worker may at least see it."""
        if not looks_like_id(task_id) or self.stores.tasks.get(read_scope(identity), task_id) is None:
            return False
        now = iso(self.clock())
        self.stores.tasks.update(
            write_scope(identity), task_id, lambda d: {**d, "last_worker": worker_id, "last_worker_report": now}
        )
        self.stores.tasks.held_on(task_id, identity.user_id, worker_id)
        return True

    def _rendered(self, identity: Identity, docs: list[Doc]) -> list[Doc]:
        queue_ids = {q for d in docs for q in d.get("queues") or []} | {d["queue"] for d in docs if d.get("queue")}
        found = {q: self.stores.queues.get(queue_read_scope(identity), q) for q in queue_ids}
        queues = {q: doc for q, doc in found.items() if doc is not None and may_see_queue(identity, doc)}
        counts = self.stores.queue_entries.counts([q for q, doc in queues.items() if doc is not None])
        users = {d["user"]: self.stores.identity.get_user(d["user"]) for d in docs}

        def queue_entry(queue_id: str) -> Doc:
            doc = queues.get(queue_id)
            return {"id": queue_id, "name": doc["name"] if doc else None, "num_tasks": counts.get(queue_id, 0)}

        out = []
        for doc in docs:
            user = users.get(doc["user"]) or {}
            # The task a worker runs is shown only to those who may read it.
            visible = self.stores.tasks.get(read_scope(identity), doc["task"]) if doc.get("task") else None
            task = None
            if visible is not None:
                task = {
                    "id": visible["id"],
                    "name": visible.get("name"),
                    "last_iteration": visible.get("last_iteration"),
                }
            out.append(
                {
                    **{k: v for k, v in doc.items() if k not in ("expires", "machine_stats", "timeout")},
                    "user": {"id": doc["user"], "name": user.get("name")},
                    "company": {"id": identity.org_id, "name": identity.org_name},
                    "queues": [queue_entry(q) for q in doc.get("queues") or []],
                    "queue": queue_entry(doc["queue"]) if doc.get("queue") else None,
                    "task": task,
                }
            )
        return out

    def _stats_rows(
        self, identity: Identity, worker_ids: list[str] | None, since: float, until: float, interval: int
    ) -> list[Doc]:
        check_period(since, until, interval)
        start, end = (datetime.fromtimestamp(t, self.clock().tzinfo) for t in (since, until))
        return self.stores.workers.stats(identity.org_id, worker_ids, start, end)


def _new_worker(identity: Identity, worker_id: str, now: datetime, current: Doc | None) -> Doc:
    """The fields a (re-)registration sets; a worker re-registered by someone else starts afresh."""
    same_owner = current is not None and current.get("user") == identity.user_id
    return {
        "id": worker_id,
        "user": identity.user_id,
        "company": identity.org_id,
        "ip": identity.client_ip,
        "register_time": current["register_time"] if same_owner and current else iso(now),
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _numbers(value: Any) -> list[float]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _stats_row(worker_id: str, now: datetime, task_id: str | None, stats: dict[str, Any]) -> Doc:
    gpu_used, gpu_free = _numbers(stats.get("gpu_memory_used")), _numbers(stats.get("gpu_memory_free"))
    return {
        "worker": worker_id,
        "timestamp": now,
        "task": task_id,
        "cpu_usage": _mean(_numbers(stats.get("cpu_usage"))),
        "memory_used": _mean(_numbers(stats.get("memory_used"))),
        "memory_free": _mean(_numbers(stats.get("memory_free"))),
        "gpu_usage": _mean(_numbers(stats.get("gpu_usage"))),
        "gpu_memory_used": sum(gpu_used) if gpu_used else None,
        "gpu_memory_free": sum(gpu_free) if gpu_free else None,
        "devices": {key: value for key, value in stats.items() if value is not None},
    }


def _metrics(rows: list[Doc], items: list[Doc], interval: int, split: bool) -> list[Doc]:
    out = []
    for key in dict.fromkeys(item["key"] for item in items):
        categories = [item.get("category", "avg") for item in items if item["key"] == key]
        # (variant, bucket) -> values; the variant is the device index when split, else one series.
        series: dict[str | None, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            values = _numbers(row["devices"].get(key))
            moment = bucket(row["timestamp"], interval)
            if split and key in DEVICE_METRICS:
                for index, value in enumerate(values):
                    series[str(index)][moment].append(value)
            else:
                series[None][moment].extend(values)
        for variant, buckets in sorted(series.items(), key=lambda kv: kv[0] or ""):
            dates = sorted(d for d, values in buckets.items() if values)
            metric: Doc = {
                "metric": key,
                "dates": dates,
                "stats": [
                    {"aggregation": c, "values": [AGGREGATIONS[c](buckets[d]) for d in dates]} for c in categories
                ],
            }
            if variant is not None:
                metric["variant"] = variant
            out.append(metric)
    return out
