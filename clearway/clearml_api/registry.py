"""Endpoints are declared per service module and collected into one table by the app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from clearway.clearml_api.context import Call

Handler = Callable[["Call", Any], dict[str, Any] | None]


class Request(BaseModel):
    """Base of every request model: unknown keys (and the SDK's stray ``method``) are ignored."""

    model_config = ConfigDict(extra="ignore")


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
