"""Endpoints are declared per service module and collected into one table by the app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from clearway.clearml_api.context import Call

Handler = Callable[["Call", Any], dict[str, Any] | None]


_INT64 = 2**63


class Request(BaseModel):
    """Base of every request model: unknown keys (and the SDK's stray ``method``) are ignored; whole numbers fit
    in 64 bits (pydantic turns numeric strings of any length into ints)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _numbers_fit(self) -> Request:
        for name, value in self:
            if isinstance(value, int) and not -_INT64 <= value < _INT64:
                raise ValueError(f"{name} must fit in 64 bits")
        return self


@dataclass(frozen=True)
class Endpoint:
    name: str
    handler: Handler
    model: type[Request]
    public: bool = False
    raw_body: bool = False  # the handler parses the body itself (json-lines)


@dataclass
class Service:
    name: str
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def endpoint(
        self, action: str, model: type[Request] = Request, *, public: bool = False, raw_body: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            name = f"{self.name}.{action}"
            self.endpoints[name] = Endpoint(name, handler, model, public=public, raw_body=raw_body)
            return handler

        return register


def collect(services: Iterable[Service]) -> dict[str, Endpoint]:
    table: dict[str, Endpoint] = {}
    for service in services:
        table.update(service.endpoints)
    return table
