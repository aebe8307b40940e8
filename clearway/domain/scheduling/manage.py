"""What admins set and read about scheduling: queue policies and defaults, quotas and weights, explanations."""

from __future__ import annotations

import math
from typing import Any

from clearway.domain.access import may_administer
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Identity
from clearway.domain.queues import Queues
from clearway.domain.scheduling.explain import MAX_EXPLAINED, explain
from clearway.domain.scheduling.needs import Needs, check_defaults
from clearway.domain.scheduling.scheduler import POLICIES, Policy, Scheduler
from clearway.domain.scheduling.shares import GROUP, USER
from clearway.errors import Forbidden, NotFound, ValidationFailed
from clearway.store.base import Doc, Stores

MAX_LIMIT = 1_000_000


class Scheduling:
    def __init__(self, stores: Stores, scheduler: Scheduler, queues: Queues, audit: Audit) -> None:
        self.stores = stores
        self.scheduler = scheduler
        self.queues = queues
        self.audit = audit

    def policy(self, identity: Identity, queue_id: str) -> Doc:
        queue = self.queues.find(_admin(identity), queue_id)
        return {"queue": queue["id"], "name": queue["name"], **self.scheduler.policy(queue["id"]).doc()}

    def set_policy(self, identity: Identity, queue_id: str, changes: dict[str, Any]) -> Doc:
        """Change the queue's policy, whether priorities count, and the default needs (only the fields given)."""
        queue = self.queues.find(_admin(identity), queue_id)
        with self.stores.transaction():
            doc = {**self.scheduler.policy(queue["id"]).doc(), **{k: v for k, v in changes.items() if v is not None}}
            if doc["policy"] not in POLICIES:
                raise ValidationFailed(f"policy is one of {', '.join(POLICIES)}", allowed=list(POLICIES))
            defaults = check_defaults(Needs(int(doc["gpus"]), float(doc["gpu_memory_gb"]), float(doc["memory_gb"])))
            policy = Policy(doc["policy"], bool(doc["allow_priority"]), defaults)
            self.stores.scheduler.set_policy(identity.org_id, queue["id"], policy.doc())
            self.audit.record(Action.QUEUE_POLICY, actor=identity, target=queue["id"], **policy.doc())
        return {"queue": queue["id"], "name": queue["name"], **policy.doc()}

    def quotas(self, identity: Identity) -> list[Doc]:
        org = _admin(identity).org_id
        found = self.stores.scheduler.quotas(org)
        return [{**q, "subject_name": self._name(org, q["subject_type"], q["subject_id"])} for q in found]

    def set_quota(
        self,
        identity: Identity,
        subject_type: str,
        subject_id: str,
        *,
        max_running: int | None,
        max_gpus: int | None,
        weight: float = 1.0,
    ) -> Doc:
        """Set a user's or group's quotas (None: unlimited) and fair-share weight, replacing any earlier ones."""
        org = _admin(identity).org_id
        name = self._name(org, subject_type, subject_id)
        for label, value in (("max_running", max_running), ("max_gpus", max_gpus)):
            if value is not None and not 0 <= value <= MAX_LIMIT:
                raise ValidationFailed(f"{label} is from 0 to {MAX_LIMIT}")
        if not (math.isfinite(weight) and 0 < weight <= 1_000_000):
            raise ValidationFailed("weight is a number above 0, at most 1000000")
        doc = {"max_running": max_running, "max_gpus": max_gpus, "weight": float(weight)}
        with self.stores.transaction():
            self.stores.scheduler.set_quota(org, subject_type, subject_id, doc)
            self.audit.record(Action.QUOTA_SET, actor=identity, target=f"{subject_type}:{subject_id}", **doc)
        return {"subject_type": subject_type, "subject_id": subject_id, "subject_name": name, **doc}

    def remove_quota(self, identity: Identity, subject_type: str, subject_id: str) -> None:
        org = _admin(identity).org_id
        self._name(org, subject_type, subject_id)
        with self.stores.transaction():
            self.stores.scheduler.set_quota(org, subject_type, subject_id, None)
            self.audit.record(Action.QUOTA_REMOVE, actor=identity, target=f"{subject_type}:{subject_id}")

    def explain(self, identity: Identity, queue_id: str, limit: int = MAX_EXPLAINED) -> Doc:
        queue = self.queues.find(_admin(identity), queue_id)
        return explain(self.scheduler, identity.org_id, queue, limit)

    def _name(self, org_id: str, subject_type: str, subject_id: str) -> str:
        """The user's or group's name; refuses one that is not of the organisation."""
        if subject_type == USER:
            user = self.stores.identity.get_user(subject_id)
            if user is not None and user.get("org_id") == org_id:
                return str(user["name"])
        elif subject_type == GROUP:
            group = self.stores.sharing.get_group(org_id, subject_id)
            if group is not None:
                return str(group["name"])
        else:
            raise ValidationFailed("a quota is of a user or a group", allowed=[USER, GROUP])
        raise NotFound(f"No {subject_type} {subject_id!r} in this organisation")


def _admin(identity: Identity) -> Identity:
    if not may_administer(identity):
        raise Forbidden("Scheduling policies and quotas are for admins")
    return identity
