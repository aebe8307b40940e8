"""Queues: the organisation's named lines of tasks waiting for agents, their order, and their metrics.

A queue document holds the queue's name and tags; its entries live in their own store (one row per waiting task)
and are added to the document when it is read. How tasks get in and out is in :mod:`clearway.domain.dispatch`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from clearway.domain.access import (
    may_see_queue,
    queue_access_errors,
    queue_read_scope,
    queue_write_scope,
    read_scope,
)
from clearway.domain.documents import project_fields
from clearway.domain.identity import Identity
from clearway.domain.ids import new_id
from clearway.domain.query import ListQuery, parse_tag_filter
from clearway.errors import InvalidQueueId, NoDefaultQueue, QueueExists, TaskNotQueued, ValidationFailed
from clearway.store.base import Doc, QueueEntry, Stores
from clearway.timeutil import iso, now_iso

DEFAULT_TAG = "default"  # the system tag that marks the default queue (queues.get_default)
EDITABLE = ("name", "tags", "system_tags", "access")
MAX_NAME = 255
MAX_POINTS = 10_000  # most buckets a metrics request may ask for
FRONT = 2**31  # a move offset past any queue's length
BACK = -FRONT


class Queues:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    # reads
    def get(self, identity: Identity, queue_id: Any, max_entries: int | None = None) -> Doc:
        return self._with_entries(identity, [self.find(identity, queue_id)], max_entries)[0]

    def find(self, identity: Identity, queue_id: Any, *, manage: bool = False) -> Doc:
        """The queue document without its entries; ``manage`` asks for the right to change it."""
        scope = queue_write_scope(identity) if manage else queue_read_scope(identity)
        doc = self.stores.queues.get(scope, queue_id) if isinstance(queue_id, str) else None
        if doc is None or not (manage or may_see_queue(identity, doc)):
            raise InvalidQueueId(id=queue_id)
        return doc

    def find_by_name(self, identity: Identity, name: str) -> Doc:
        found = self._visible(identity, self.stores.queues.query(queue_read_scope(identity), _exact_name(name)))
        if not found:
            raise InvalidQueueId(f"No queue named {name!r}", name=name)
        return found[0]

    def default(self, identity: Identity) -> Doc:
        query = ListQuery(system_tags=parse_tag_filter([DEFAULT_TAG]), order_by=["created"], search_hidden=True)
        found = self._visible(identity, self.stores.queues.query(queue_read_scope(identity), query))
        if not found:
            raise NoDefaultQueue(f"No queue has the {DEFAULT_TAG!r} system tag")
        return found[0]

    def list(
        self, identity: Identity, query: ListQuery, only_fields: list[str] | None, max_entries: int | None = None
    ) -> list[Doc]:
        docs = self._visible(identity, self.stores.queues.query(queue_read_scope(identity), query))
        if not only_fields or any(f == "entries" or f.startswith("entries.") for f in only_fields):
            docs = self._with_entries(identity, docs, max_entries)
        return [project_fields(doc, only_fields) for doc in docs]

    def count(self, identity: Identity, queue_id: str) -> int:
        self.find(identity, queue_id)
        return self.stores.queue_entries.counts([queue_id])[queue_id]

    # changes
    def create(self, identity: Identity, fields: dict[str, Any]) -> Doc:
        name = _clean_name(fields.get("name"))
        now = now_iso()
        doc = {
            "id": new_id(),
            "name": name,
            "user": identity.user_id,
            "company": identity.org_id,
            "created": now,
            "last_update": now,
            "tags": _tags(fields.get("tags")),
            "system_tags": _tags(fields.get("system_tags")),
            "metadata": {},
            **({"access": _access(fields["access"])} if fields.get("access") is not None else {}),
        }
        with self.stores.transaction():
            self._check_unique(identity, name)
            return self.stores.queues.insert(identity.org_id, identity.user_id, doc)

    def update(self, identity: Identity, queue_id: str, fields: dict[str, Any]) -> Doc:
        changes = {k: v for k, v in fields.items() if k in EDITABLE and v is not None}
        if "name" in changes:
            changes["name"] = _clean_name(changes["name"])
        for key in ("tags", "system_tags"):
            if key in changes:
                changes[key] = _tags(changes[key])
        if "access" in changes:
            changes["access"] = _access(changes["access"])
        with self.stores.transaction():
            self.find(identity, queue_id, manage=True)
            if "name" in changes:
                self._check_unique(identity, changes["name"], queue_id)
            doc = self.stores.queues.update(
                queue_write_scope(identity), queue_id, lambda doc: {**doc, **changes, "last_update": now_iso()}
            )
        if doc is None:
            raise InvalidQueueId(id=queue_id)
        return doc

    def move(self, identity: Identity, queue_id: str, task_id: str, offset: int) -> int:
        """Move a waiting task ``offset`` places towards the front (negative: towards the back; :data:`FRONT` and
        :data:`BACK` go all the way); its new index in the queue."""
        with self.stores.transaction():
            self.find(identity, queue_id, manage=True)
            order = [e.task for e in self.stores.queue_entries.entries([queue_id])[queue_id]]
            if task_id not in order:
                raise TaskNotQueued(f"Task {task_id} is not waiting in queue {queue_id}", task=task_id)
            index = order.index(task_id)
            target = min(max(index - offset, 0), len(order) - 1)
            order.insert(target, order.pop(index))
            self.stores.queue_entries.reorder(queue_id, order)
        return target

    # metrics
    def metrics(
        self, identity: Identity, queue_ids: list[str] | None, since: float, until: float, interval: int
    ) -> list[Doc]:
        """Per queue, for each ``interval``-second bucket with records: the longest mean waiting time seen in it,
        and the queue length recorded with it. Without ``queue_ids``, one ``all`` series averages every queue."""
        check_period(since, until, interval)
        if queue_ids:
            ids = [self.find(identity, queue_id)["id"] for queue_id in queue_ids]
        else:
            every = self.stores.queues.query(queue_read_scope(identity), ListQuery(search_hidden=True))
            ids = [q["id"] for q in self._visible(identity, every)]
        rows = self.stores.queue_entries.metrics(ids, _at(since), _at(until))
        if queue_ids:
            return [_series(queue_id, [r for r in rows if r["queue"] == queue_id], interval) for queue_id in ids]
        return [_averaged_series(rows, interval)]

    @staticmethod
    def _visible(identity: Identity, docs: list[Doc]) -> list[Doc]:
        """Queues with an access list that leaves the caller out are not shown (filtered after paging)."""
        return [doc for doc in docs if may_see_queue(identity, doc)]

    def _with_entries(self, identity: Identity, docs: list[Doc], max_entries: int | None) -> list[Doc]:
        """The documents with their entries: only the waiting tasks the caller may read (``get_num_entries``
        still counts them all, so a user learns how many tasks wait ahead, never whose)."""
        scope = read_scope(identity)
        everything = scope.owner_ids is None
        entries = self.stores.queue_entries.entries([doc["id"] for doc in docs], max_entries if everything else None)
        if not everything:
            waiting = [e.task for queue_entries in entries.values() for e in queue_entries]
            readable = {t["id"] for t in self.stores.tasks.query(scope, ListQuery(ids=waiting, search_hidden=True))}
            entries = {q: [e for e in found if e.task in readable][:max_entries] for q, found in entries.items()}
        return [{**doc, "entries": [_entry_doc(e) for e in entries[doc["id"]]]} for doc in docs]

    def _check_unique(self, identity: Identity, name: str, queue_id: str | None = None) -> None:
        found = self.stores.queues.query(queue_read_scope(identity), _exact_name(name))
        if any(doc["id"] != queue_id for doc in found):
            raise QueueExists(f"A queue named {name!r} already exists", name=name)


def _entry_doc(entry: QueueEntry) -> Doc:
    return {"task": entry.task, "added": iso(entry.added)}


def _exact_name(name: str) -> ListQuery:
    return ListQuery(name=f"^{re.escape(name)}$", search_hidden=True)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("queue name is required")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"queue name longer than {MAX_NAME} characters")
    return name


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationFailed("tags must be a list of strings")
    return list(value)


def _access(value: Any) -> Doc:
    errors = queue_access_errors(value)
    if errors:
        raise ValidationFailed("; ".join(errors))
    return dict(value)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


LATEST = 253402300799  # 9999-12-31T23:59:59Z: the last moment a date can name


def check_period(since: float, until: float, interval: int) -> None:
    """A chart's period: epoch seconds from 1970 to 9999, in order, in at most :data:`MAX_POINTS` buckets."""
    if interval < 1:
        raise ValidationFailed("interval must be at least 1 second")
    if not (0 <= since <= LATEST and 0 <= until <= LATEST):
        raise ValidationFailed("from_date and to_date are seconds since 1970, before the year 10000")
    if until < since:
        raise ValidationFailed("to_date is before from_date")
    if (until - since) / interval > MAX_POINTS:
        raise ValidationFailed(f"more than {MAX_POINTS} points asked for: use a longer interval")


def bucket(moment: datetime, interval: int) -> int:
    """The start (epoch seconds) of the ``interval``-second bucket that holds ``moment``."""
    seconds = int(moment.timestamp())
    return seconds - seconds % interval


def _series(queue_id: str, rows: Iterable[Doc], interval: int) -> Doc:
    worst: dict[int, Doc] = {}
    for row in rows:
        key = bucket(row["timestamp"], interval)
        if key not in worst or row["avg_wait_sec"] >= worst[key]["avg_wait_sec"]:
            worst[key] = row
    dates = sorted(worst)
    return {
        "queue": queue_id,
        "dates": dates,
        "avg_waiting_times": [worst[d]["avg_wait_sec"] for d in dates],
        "queue_lengths": [worst[d]["length"] for d in dates],
    }


def _averaged_series(rows: list[Doc], interval: int) -> Doc:
    per_queue = defaultdict(list)
    for row in rows:
        per_queue[row["queue"]].append(row)
    waits: dict[int, list[float]] = defaultdict(list)
    lengths: dict[int, list[int]] = defaultdict(list)
    for queue_id, queue_rows in per_queue.items():
        series = _series(queue_id, queue_rows, interval)
        for date, wait, length in zip(
            series["dates"], series["avg_waiting_times"], series["queue_lengths"], strict=True
        ):
            waits[date].append(wait)
            lengths[date].append(length)
    dates = sorted(waits)
    return {
        "queue": "all",
        "dates": dates,
        "avg_waiting_times": [sum(waits[d]) / len(waits[d]) for d in dates],
        "queue_lengths": [round(sum(lengths[d]) / len(lengths[d])) for d in dates],
    }
