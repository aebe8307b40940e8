"""Who gets an event: the access rules of what it is about, and the subscriptions that ask for it.

Access is decided when the event is routed or streamed, not when it happened, so that a share granted or revoked
meanwhile counts, and with the same rules as every other read (:mod:`clearway.domain.access`): a user never learns
of a task she may not read.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from clearway.domain.access import (
    may_read_record,
    may_see_admin_event,
    may_see_organisation_event,
    may_see_queue,
    queue_read_scope,
    read_scope,
    system_scope,
)
from clearway.domain.identity import Identity
from clearway.domain.notifications import KINDS, Subject
from clearway.store.base import Doc, Stores
from clearway.store.notifications import OutboxEvent

SUBSCRIPTIONS_TTL_SEC = 1.0
IdentityOf = Callable[[str], Identity | None]  # a user's identity with its groups and shares, None once gone
_TOPIC_UNSAFE = re.compile(r"[/+#\x00]")


class EventAccess:
    """Whether an identity may see an event. Meant for one batch of events: it remembers what it looked up."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self._tasks: dict[tuple[str, str], bool] = {}
        self._queues: dict[str, Doc | None] = {}
        self._project_owners: dict[str, str | None] = {}

    def may_see(self, identity: Identity, event: OutboxEvent) -> bool:
        if identity.org_id != event.org_id:
            return False
        subject = Subject(event.subject_type)
        if subject is Subject.TASK and event.subject_id:
            decided = may_read_record(
                identity, event.org_id, event.owner_id, event.project_id, self._project_owner(event)
            )
            return decided if decided is not None else self._readable(identity, event.subject_id)
        if subject is Subject.QUEUE and event.subject_id:
            if event.subject_id not in self._queues:
                self._queues[event.subject_id] = self.stores.queues.get(queue_read_scope(identity), event.subject_id)
            queue = self._queues[event.subject_id]
            return queue is not None and may_see_queue(identity, queue)
        if subject is Subject.WORKER:
            return may_see_organisation_event(identity, event.org_id)
        return may_see_admin_event(identity, event.org_id)

    def _project_owner(self, event: OutboxEvent) -> str | None:
        project_id = event.project_id
        if project_id is None:
            return None
        if project_id not in self._project_owners:
            project = self.stores.projects.get(system_scope(event.org_id), project_id)
            self._project_owners[project_id] = project.get("user") if project else None
        return self._project_owners[project_id]

    def _readable(self, identity: Identity, task_id: str) -> bool:
        """The store's answer, for what only it can tell (an agent and the tasks that went through its queues)."""
        key = (identity.user_id, task_id)
        if key not in self._tasks:
            self._tasks[key] = self.stores.tasks.get(read_scope(identity), task_id) is not None
        return self._tasks[key]


def kind_matches(patterns: Collection[str], kind: str) -> bool:
    """``*`` is every kind, ``task.*`` every kind of the task category, anything else one kind."""
    return kind in patterns or "*" in patterns or f"{kind.split('.')[0]}.*" in patterns


def wants(subscription: Doc, event: OutboxEvent) -> bool:
    """Whether the subscription's filters ask for the event (access is checked separately)."""
    if not kind_matches(subscription["kinds"], event.kind):
        return False
    if KINDS[event.kind][0] is not Subject.TASK:
        return True
    if subscription.get("tasks"):
        return event.subject_id in subscription["tasks"]
    if subscription.get("projects"):
        return event.project_id in subscription["projects"]
    return subscription.get("scope") == "all" or event.owner_id == subscription["owner"]


def mqtt_topic(identity: Identity, event: OutboxEvent) -> str:
    """``clearway/<organisation>/<category>/<event>/<user>/<subject id>``, for the subscriber ``identity``: one
    level per part, so that brokers' wildcards (``clearway/acme/task/#``) and per-user ACL patterns
    (``clearway/+/+/+/%u/#``) apply. Characters MQTT reserves (``/ + #``) in names become ``_``."""
    category, _, name = event.kind.partition(".")
    return _topic(identity.org_name, category, name, identity.user_name, event.subject_id or "-")


def mqtt_topic_filter(identity: Identity) -> str:
    """The MQTT subscription that receives every event published for ``identity``."""
    return _topic(identity.org_name, "+", "+", identity.user_name, "#")


def _topic(org: str, category: str, name: str, user: str, subject: str) -> str:
    def safe(part: str) -> str:
        return _TOPIC_UNSAFE.sub("_", part) or "_"

    return "/".join(["clearway", safe(org), category, name, safe(user), subject if subject == "#" else safe(subject)])


class Router:
    """Turns events into deliveries: one per subscription that asks for the event and whose owner may see it."""

    def __init__(self, stores: Stores, identity_of: IdentityOf, *, give_up_after: timedelta, digest: timedelta):
        self.stores = stores
        self.identity_of = identity_of
        self.give_up_after = give_up_after
        self.digest = digest  # e-mails wait this long, so that a burst of events becomes one mail
        self._cache: dict[str, tuple[float, list[Doc]]] = {}  # organisation -> (when read, active subscriptions)
        self._seen_changes = -1
        self._lock = threading.Lock()

    def deliveries(self, events: list[OutboxEvent], now: datetime) -> list[Doc]:
        if not events:
            return []
        by_org = self._subscriptions({event.org_id for event in events})
        if not any(by_org.values()):
            return []
        access = EventAccess(self.stores)
        owners: dict[str, Identity | None] = {}
        rows = []
        for event in events:
            seen: dict[str, bool] = {}  # owner -> may see this event (several subscriptions, one answer)
            for subscription in by_org.get(event.org_id, ()):
                if not wants(subscription, event):
                    continue
                owner_id = subscription["owner"]
                if owner_id not in owners:
                    owners[owner_id] = self.identity_of(owner_id)
                owner = owners[owner_id]
                if owner_id not in seen:
                    seen[owner_id] = owner is not None and access.may_see(owner, event)
                if not seen[owner_id] or owner is None:
                    continue
                rows.append(self._row(event, subscription, owner, now))
        return rows

    def _subscriptions(self, org_ids: set[str]) -> dict[str, list[Doc]]:
        """The organisations' active subscriptions (kinds as sets: looked up for every event). Kept for a second:
        a change made in this process is seen at once, one made by another replica within that second."""
        with self._lock:
            now = time.monotonic()
            if self.stores.subscriptions.changes != self._seen_changes:
                self._seen_changes = self.stores.subscriptions.changes
                self._cache.clear()
            stale = {
                org for org in org_ids if org not in self._cache or now - self._cache[org][0] > SUBSCRIPTIONS_TTL_SEC
            }
            if stale:
                fresh: dict[str, list[Doc]] = {org: [] for org in stale}
                for subscription in self.stores.subscriptions.active(stale):
                    fresh[subscription["org_id"]].append({**subscription, "kinds": frozenset(subscription["kinds"])})
                self._cache.update({org: (now, subs) for org, subs in fresh.items()})
            return {org: self._cache[org][1] for org in org_ids}

    def _row(self, event: OutboxEvent, subscription: Doc, owner: Identity, now: datetime) -> Doc:
        channel = subscription["channel"]
        return {
            "event": event.row,
            "subscription_id": subscription["id"],
            "org_id": event.org_id,
            "owner_id": owner.user_id,
            "channel": channel,
            "target": mqtt_topic(owner, event) if channel == "mqtt" else subscription["target"],
            "created": now,
            "next_attempt": now + self.digest if channel == "email" else now,
            "give_up_at": now + self.give_up_after,
        }
