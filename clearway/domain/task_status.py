"""The task status machine: which status may follow which, and what a change writes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from clearway.errors import InvalidTaskStatus
from clearway.timeutil import now_iso


class Status(StrEnum):
    CREATED = "created"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    STOPPED = "stopped"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    CLOSED = "closed"
    FAILED = "failed"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


S = Status
# target -> the statuses it may be reached from without ``force``. Every status may stay what it is,
# except that nothing leaves ``published`` without force.
_ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    S.CREATED: frozenset({S.CREATED, S.QUEUED, S.IN_PROGRESS, S.STOPPED, S.FAILED, S.COMPLETED, S.CLOSED, S.UNKNOWN}),
    S.QUEUED: frozenset({S.CREATED, S.QUEUED, S.STOPPED, S.FAILED, S.COMPLETED, S.CLOSED}),
    S.IN_PROGRESS: frozenset(
        {S.CREATED, S.QUEUED, S.IN_PROGRESS, S.STOPPED, S.FAILED, S.COMPLETED, S.CLOSED, S.UNKNOWN}
    ),
    S.STOPPED: frozenset({S.IN_PROGRESS, S.QUEUED, S.STOPPED, S.CREATED, S.UNKNOWN}),
    S.COMPLETED: frozenset({S.IN_PROGRESS, S.COMPLETED, S.STOPPED, S.UNKNOWN}),
    S.FAILED: frozenset({S.CREATED, S.QUEUED, S.IN_PROGRESS, S.STOPPED, S.FAILED, S.COMPLETED, S.UNKNOWN}),
    S.PUBLISHING: frozenset({S.COMPLETED, S.STOPPED, S.FAILED, S.PUBLISHING}),
    S.PUBLISHED: frozenset({S.COMPLETED, S.STOPPED, S.FAILED, S.PUBLISHING}),
    S.CLOSED: frozenset({S.CREATED, S.IN_PROGRESS, S.STOPPED, S.COMPLETED, S.FAILED, S.CLOSED}),
    S.UNKNOWN: frozenset({S.UNKNOWN}),
}

LOCKED = frozenset({S.PUBLISHED, S.PUBLISHING})
_TIMESTAMP_ON_ENTER = {S.IN_PROGRESS: "started", S.COMPLETED: "completed", S.PUBLISHED: "published"}


def check_transition(current: str, target: Status, *, force: bool) -> None:
    if force:
        return
    try:
        source = Status(current)
    except ValueError:
        source = S.UNKNOWN
    if source not in _ALLOWED_FROM[target]:
        raise InvalidTaskStatus(
            f"Invalid status change from {current} to {target.value} (pass force to override)",
            current_status=current,
            new_status=target.value,
        )


def apply_status(
    doc: dict[str, Any], target: Status, *, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    """The document after moving to ``target``: status fields, timestamps and ``last_update``."""
    now = now_iso()
    doc = dict(doc)
    previous = doc.get("status")
    doc["status"] = target.value
    doc["status_reason"] = reason or ""
    doc["status_message"] = message or ""
    doc["last_update"] = now
    doc["last_change"] = now
    if previous != target.value:
        doc["status_changed"] = now
        stamp = _TIMESTAMP_ON_ENTER.get(target)
        if stamp:
            doc[stamp] = now
    return doc
