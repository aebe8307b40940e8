"""The ways out: each channel delivers a group of deliveries and says what went wrong, if anything."""

from __future__ import annotations

from typing import Protocol

from clearway.store.notifications import Delivery


class Channel(Protocol):
    name: str
    whole_targets: bool  # claim every pending delivery to a target at once (a digest)
    per_target: int | None  # most deliveries in flight to one target from this process

    async def start(self) -> None: ...

    async def deliver(self, group: list[Delivery]) -> str | None:
        """Deliver the group (one delivery, or a target's whole digest): None on success, else why it failed."""

    async def close(self) -> None: ...
