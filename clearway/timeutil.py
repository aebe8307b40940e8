"""UTC timestamps as the ClearML API writes them (ISO-8601) and as the database stores them.

Every timestamp the server writes has one fixed-width shape, ``2024-05-01T10:00:00.123456+00:00``: the one the
``clearml`` SDK writes and parses (``datetime.isoformat()`` of an aware UTC time). The SDK's own parser
(``clearml.backend_interface.util.datetime_from_isoformat``) raises on a trailing ``Z``, and a fixed width makes
text order time order.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive one is taken as UTC already (SQLite gives back the UTC time without its zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(utcnow())


def parse_iso(value: str | None) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text with ``Z``, an offset, or no zone (taken as UTC)."""
    if not value:
        return None
    return as_utc(datetime.fromisoformat(value))

