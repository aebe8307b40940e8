"""What every channel sends for an event: one JSON document, with the event's id for dropping duplicates.

``{"id", "type", "timestamp", "organization", "data"}`` (the Standard Webhooks payload shape); the live stream
adds its position as the SSE ``id`` line.
"""

from __future__ import annotations

from typing import Any

import orjson

from clearway.store.notifications import OutboxEvent
from clearway.timeutil import iso


def message(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "type": event.kind,
        "timestamp": iso(event.at),
        "organization": event.org_id,
        "data": event.data,
    }


def body(event: OutboxEvent) -> bytes:
    return orjson.dumps(message(event))


def summary(event: OutboxEvent) -> str:
    """One line for people (an e-mail), naming what the event is about."""
    data = event.data
    thing = data.get("task") or data.get("worker") or data.get("queue") or data.get("machine") or {}
    name = thing.get("name") or thing.get("id") or data.get("user") or data.get("address") or ""
    extra = data.get("reason") or (data.get("task") or {}).get("status_reason") or ""
    return f"{iso(event.at)}  {event.kind}  {name}" + (f"  ({extra})" if extra else "")
