"""Subscriptions: a user's rules for which events go to which channel, and what became of their deliveries.

A subscription names event kinds (``task.completed``, ``task.*``, ``*``), for task events which tasks (hers by
default, ``scope: all`` for every task she may read, or listed ``projects`` or ``tasks``), and one channel: a
webhook URL, an e-mail address, or MQTT. Users manage their own; admins also see and remove any of their
organisation's, and only admins may subscribe to security and gateway machine events.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import timedelta
from typing import Any

from clearway.domain.access import may_administer, read_scope
from clearway.domain.event_routing import mqtt_topic_filter
from clearway.domain.identity import Identity, Role
from clearway.domain.ids import new_id
from clearway.domain.notifications import KINDS, Subject, is_known_pattern
from clearway.domain.webhook_targets import check_url
from clearway.errors import Forbidden, InvalidProjectId, InvalidTaskId, NotFound, ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.store.notifications import Delivery
from clearway.timeutil import iso, utcnow

CHANNELS = ("webhook", "email", "mqtt")
SCOPES = ("mine", "all")
MAX_ITEMS = 100  # kinds, projects or tasks in one subscription
MAX_PER_USER = 100
MAX_DESCRIPTION = 500
MAX_PAGE = 1000
DELIVERY_STATES = ("pending", "delivered", "dead")
_ADMIN_SUBJECTS = frozenset({Subject.SECURITY, Subject.MACHINE})
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+$")
_EDITABLE = ("kinds", "projects", "tasks", "scope", "description", "enabled", "url", "email")


def kinds_catalog() -> list[Doc]:
    return [
        {"kind": kind, "about": subject.value, "description": text, "admins_only": subject in _ADMIN_SUBJECTS}
        for kind, (subject, text) in KINDS.items()
    ]


class Subscriptions:
    def __init__(
        self, stores: Stores, *, allow_private: bool, configured: frozenset[str], retry_period: timedelta
    ) -> None:
        self.stores = stores
        self.allow_private = allow_private  # webhooks to private and loopback addresses
        self.configured = configured  # the channels this server can deliver to (e-mail and MQTT need settings)
        self.retry_period = retry_period

    # the caller's own
    def create(self, identity: Identity, fields: dict[str, Any]) -> Doc:
        """A new subscription of the caller; a webhook's answer carries its signing secret, shown only here."""
        if identity.role is Role.AGENT:
            raise Forbidden("Agent credentials cannot subscribe to notifications")
        channel = fields.get("channel")
        if channel not in CHANNELS:
            raise ValidationFailed(f"invalid channel {channel!r}", allowed=list(CHANNELS))
        if channel not in self.configured:
            raise ValidationFailed(f"this server has no {channel} channel configured (see the README's settings)")
        doc = self._checked(identity, {"channel": channel, "created": iso(utcnow())}, fields, creating=True)
        doc["id"] = new_id()
        secret = _new_secret() if channel == "webhook" else None
        with self.stores.transaction():
            if len(self.stores.subscriptions.list(identity.org_id, identity.user_id)) >= MAX_PER_USER:
                raise ValidationFailed(f"a user may have at most {MAX_PER_USER} subscriptions")
            self.stores.subscriptions.add(identity.org_id, identity.user_id, doc, secret)
        shown = self._shown(identity, {**doc, "owner": identity.user_id, "org_id": identity.org_id})
        return {**shown, "secret": secret} if secret else shown

    def list(self, identity: Identity) -> list[Doc]:
        return [self._shown(identity, doc) for doc in self.stores.subscriptions.list(identity.org_id, identity.user_id)]

    def get(self, identity: Identity, subscription_id: str) -> Doc:
        return self._shown(identity, self._own(identity, subscription_id))

    def update(self, identity: Identity, subscription_id: str, fields: dict[str, Any]) -> Doc:
        unknown = sorted(set(fields) - set(_EDITABLE) - {"rotate_secret"})
        if unknown:
            raise ValidationFailed(f"these fields cannot be changed: {unknown}", allowed=list(_EDITABLE))
        with self.stores.transaction():
            current = self._own(identity, subscription_id)
            doc = {**current, **self._checked(identity, current, fields, creating=False)}
            if not self.stores.subscriptions.replace(identity.org_id, identity.user_id, doc):
                raise NotFound(f"No subscription {subscription_id}")
            secret = None
            if fields.get("rotate_secret") and doc["channel"] == "webhook":
                secret = _new_secret()
                self.stores.subscriptions.set_secret(identity.org_id, subscription_id, secret)
        shown = self._shown(identity, doc)
        return {**shown, "secret": secret} if secret else shown

    def delete(self, identity: Identity, subscription_id: str) -> None:
        if not self.stores.subscriptions.delete(identity.org_id, identity.user_id, subscription_id):
            raise NotFound(f"No subscription {subscription_id}")

    def deliveries(self, identity: Identity, state: str | None = None, limit: int = 100) -> list[Doc]:
        """The caller's deliveries, newest first (``dead``: given up after the retry period)."""
        return [_delivery(d) for d in self._deliveries(identity, identity.user_id, state, limit)]

    def retry(self, identity: Identity, delivery_id: int) -> None:
        """Send a dead (or waiting) delivery again now, with a new retry period."""
        self._retry(identity, identity.user_id, delivery_id)

    # an admin's view of the organisation
    def list_all(self, identity: Identity) -> list[Doc]:
        _admin(identity)
        return [self._shown(identity, doc) for doc in self.stores.subscriptions.list(identity.org_id, None)]

    def delete_any(self, identity: Identity, subscription_id: str) -> None:
        _admin(identity)
        if not self.stores.subscriptions.delete(identity.org_id, None, subscription_id):
            raise NotFound(f"No subscription {subscription_id}")

    def deliveries_of_all(self, identity: Identity, state: str | None = None, limit: int = 100) -> list[Doc]:
        _admin(identity)
        return [_delivery(d) for d in self._deliveries(identity, None, state, limit)]

    def retry_any(self, identity: Identity, delivery_id: int) -> None:
        _admin(identity)
        self._retry(identity, None, delivery_id)

    # helpers
    def _own(self, identity: Identity, subscription_id: Any) -> Doc:
        doc = None
        if isinstance(subscription_id, str):
            doc = self.stores.subscriptions.get(identity.org_id, identity.user_id, subscription_id)
        if doc is None:
            raise NotFound(f"No subscription {subscription_id}")
        return doc

    def _deliveries(self, identity: Identity, owner_id: str | None, state: str | None, limit: int) -> list[Delivery]:
        if state is not None and state not in DELIVERY_STATES:
            raise ValidationFailed(f"invalid state {state!r}", allowed=list(DELIVERY_STATES))
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}")
        return self.stores.subscriptions.deliveries(identity.org_id, owner_id, state, limit)

    def _retry(self, identity: Identity, owner_id: str | None, delivery_id: int) -> None:
        now = utcnow()
        if not self.stores.subscriptions.retry(identity.org_id, owner_id, delivery_id, now, now + self.retry_period):
            raise NotFound(f"No undelivered delivery {delivery_id}")

    def _checked(self, identity: Identity, base: Doc, fields: dict[str, Any], *, creating: bool) -> Doc:
        """The subscription's stored fields after applying ``fields``, each checked."""
        doc: Doc = {}
        if creating or "kinds" in fields:
            doc["kinds"] = self._kinds(identity, fields.get("kinds"))
        if creating or "projects" in fields:
            doc["projects"] = self._readable(identity, "projects", fields.get("projects") or [])
        if creating or "tasks" in fields:
            doc["tasks"] = self._readable(identity, "tasks", fields.get("tasks") or [])
        if creating or "scope" in fields:
            scope = fields.get("scope") or "mine"
            if scope not in SCOPES:
                raise ValidationFailed(f"invalid scope {scope!r}", allowed=list(SCOPES))
            doc["scope"] = scope
        if creating or "description" in fields:
            doc["description"] = _text(fields.get("description"))
        if creating or "enabled" in fields:
            doc["enabled"] = _flag(fields.get("enabled", True))
        doc["target"] = self._target(base["channel"], fields, base.get("target"), creating)
        return {**{k: v for k, v in base.items() if k in ("channel", "created")}, **doc}

    def _kinds(self, identity: Identity, kinds: Any) -> list[str]:
        items = _strings("kinds", kinds)
        if not items:
            raise ValidationFailed("name at least one event kind", allowed=sorted(KINDS))
        unknown = [kind for kind in items if not is_known_pattern(kind)]
        if unknown:
            raise ValidationFailed(f"unknown event kinds {unknown}", allowed=sorted(KINDS))
        admins_only = [k for k in items if k != "*" and _subjects_of(k) <= _ADMIN_SUBJECTS]
        if admins_only and not may_administer(identity):
            raise Forbidden(f"only admins may subscribe to {admins_only}")
        return items

    def _readable(self, identity: Identity, field: str, ids: Any) -> list[str]:
        """The ``projects`` or ``tasks`` of a subscription: each one the caller may read (hers, or shared)."""
        store, error = (
            (self.stores.projects, InvalidProjectId) if field == "projects" else (self.stores.tasks, InvalidTaskId)
        )
        items = _strings(field, ids)
        for record_id in items:
            if store.get(read_scope(identity), record_id) is None:
                raise error(f"Invalid {field[:-1]} id {record_id}: not one of yours, nor shared with you", id=record_id)
        return items

    def _target(self, channel: str, fields: dict[str, Any], current: str | None, creating: bool) -> str:
        if channel == "webhook" and (creating or "url" in fields):
            return check_url(fields.get("url"), allow_private=self.allow_private)
        if channel == "email" and (creating or "email" in fields):
            address = fields.get("email")
            if not isinstance(address, str) or len(address) > 254 or not _EMAIL.match(address):
                raise ValidationFailed(f"invalid e-mail address {address!r}")
            return address
        misplaced = {"webhook": "email", "email": "url", "mqtt": "url"}.get(channel)
        if misplaced in fields or (channel == "mqtt" and "email" in fields):
            raise ValidationFailed(f"a {channel} subscription takes no {misplaced if misplaced in fields else 'email'}")
        return current or ""

    def _shown(self, identity: Identity, doc: Doc) -> Doc:
        shown = {k: v for k, v in doc.items() if k != "org_id"}
        if doc["channel"] == "mqtt":
            owner = identity if doc["owner"] == identity.user_id else self.stores.identity.identity_of(doc["owner"])
            if owner is not None:
                shown["topics"] = mqtt_topic_filter(owner)
        return shown


def _admin(identity: Identity) -> None:
    if not may_administer(identity):
        raise Forbidden("This needs the admin role")


def _subjects_of(pattern: str) -> set[Subject]:
    category = pattern.removesuffix(".*")
    return {subject for kind, (subject, _) in KINDS.items() if kind == pattern or kind.split(".")[0] == category}


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationFailed(f"{name} must be a list of strings")
    if len(value) > MAX_ITEMS:
        raise ValidationFailed(f"{name}: at most {MAX_ITEMS}")
    return list(dict.fromkeys(value))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationFailed(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed("enabled must be true or false")
    return value


def _new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _delivery(delivery: Delivery) -> Doc:
    event = delivery.event
    return {
        "id": delivery.id,
        "subscription": delivery.subscription_id,
        "channel": delivery.channel,
        "target": delivery.target,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "created": iso(delivery.created),
        "give_up_at": iso(delivery.give_up_at),
        "event": {"id": event.event_id, "kind": event.kind, "at": iso(event.at), "data": event.data},
    }
