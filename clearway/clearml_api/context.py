"""What a ClearML handler receives besides its request model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request as HttpRequest

from clearway.domain.identity import Identity

if TYPE_CHECKING:
    from clearway.services import Services


@dataclass(frozen=True)
class Call:
    identity: Identity | None  # None only on public endpoints
    services: Services
    http: HttpRequest
    body: bytes

    @property
    def me(self) -> Identity:
        assert self.identity is not None, "public endpoints have no identity"
        return self.identity
