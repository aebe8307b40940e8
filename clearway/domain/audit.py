"""The audit log: who did what, when, from where. Authentication and every administrative change write to it;
admins read their organisation's part of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clearway.domain.access import may_administer
from clearway.domain.identity import Identity
from clearway.domain.query import check_offset
from clearway.errors import Forbidden, ValidationFailed
from clearway.store.base import AuditFilter, AuditStore, Doc
from clearway.timeutil import utcnow

MAX_PAGE_SIZE = 1000
_MAX_TEXT = 200  # attacker-supplied names (a failed login's key) are cut to this
_MAX_ADDRESS = 64  # a client address as forwarded (it may be no address at all)


class Action(StrEnum):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_THROTTLED = "auth.login_throttled"
    ADDRESS_DENIED = "auth.address_denied"
    USER_CREATE = "user.create"
    USER_ROLE = "user.role"
    USER_PASSWORD = "user.password"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    GROUP_CREATE = "group.create"
    GROUP_DELETE = "group.delete"
    GROUP_MEMBER_ADD = "group.member_add"
    GROUP_MEMBER_REMOVE = "group.member_remove"
    SHARE_GRANT = "share.grant"
    SHARE_REVOKE = "share.revoke"
    ALLOWLIST_SET = "allowlist.set"
    QUEUE_POLICY = "queue.policy"
    QUOTA_SET = "quota.set"
    QUOTA_REMOVE = "quota.remove"


class Audit:
    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self.listeners: list[Callable[[Doc], None]] = []  # see every entry recorded (security notifications)

    def record(
        self,
        action: Action,
        *,
        actor: Identity | None = None,
        actor_name: str | None = None,
        org_id: str | None = None,
        client_ip: str | None = None,
        outcome: str = "ok",
        target: str | None = None,
        **detail: Any,
    ) -> None:
        """Append one entry. Inside a transaction it commits (or not) with the change it describes."""
        if actor is not None:
            detail.setdefault("role", actor.role.value)
            if actor.impersonator:
                detail.setdefault("impersonator", actor.impersonator)
        self.store.add(
            entry := {
                "at": utcnow(),
                "org_id": org_id or (actor.org_id if actor else None),
                "actor_id": actor.user_id if actor else None,
                "actor_name": _cut(actor.user_name if actor else actor_name),
                "client_ip": _cut(client_ip or (actor.client_ip if actor else None), _MAX_ADDRESS),
                "action": action.value,
                "outcome": outcome,
                "target": _cut(target),
                "detail": detail,
            }
        )
        for listener in self.listeners:
            listener(entry)

    def entries(
        self,
        identity: Identity,
        *,
        action: str | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 0,
        page_size: int = 100,
    ) -> list[Doc]:
        """One page of the caller's organisation's entries, newest first (admins only)."""
        if not may_administer(identity):
            raise Forbidden("Only admins read the audit log")
        if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailed(f"page must be >= 0 and page_size between 1 and {MAX_PAGE_SIZE}")
        check_offset(page, page_size)
        where = AuditFilter(
            org_id=identity.org_id,
            action=action,
            actor_id=user_id,
            since=_utc(since),
            until=_utc(until),
            page=page,
            page_size=page_size,
        )
        return self.store.query(where)

    def unattributed(self, *, action: str | None = None, page_size: int = 100) -> list[Doc]:
        """Entries of no organisation (logins with keys or names that do not exist), newest first. They may concern
        any organisation, so only the operator's command line reads them, never an organisation's admin."""
        return self.store.query(AuditFilter(org_id=None, action=action, page_size=min(page_size, MAX_PAGE_SIZE)))


def _cut(text: str | None, limit: int = _MAX_TEXT) -> str | None:
    """Attacker-supplied text, made fit for every store: cut to ``limit``, NUL characters replaced."""
    return text[:limit].replace("\x00", "\ufffd") if text else text


def _utc(moment: datetime | None) -> datetime | None:
    """Naive times are UTC; every time is compared in UTC (SQLite keeps them without a zone)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
