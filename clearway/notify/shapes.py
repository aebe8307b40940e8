"""The JSON shapes of subscriptions and deliveries, for every HTTP surface that shows them (one source of truth)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[str] = Field(description="Event kinds: task.completed, task.* (a category), or * (all).")
    channel: Literal["webhook", "email", "mqtt"]
    url: str | None = Field(default=None, description="webhook: the http(s) URL to POST each event to.")
    email: str | None = Field(default=None, description="email: the address digests are sent to.")
    scope: Literal["mine", "all"] = Field(
        default="mine", description="Task events: mine (tasks I own) or all (every task I may read)."
    )
    projects: list[str] = Field(default=[], description="Task events: only tasks in these projects (ids).")
    tasks: list[str] = Field(default=[], description="Task events: only these tasks (ids).")
    description: str = ""
    enabled: bool = True


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = None
    url: str | None = None
    email: str | None = None
    scope: Literal["mine", "all"] | None = None
    projects: list[str] | None = None
    tasks: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None
    rotate_secret: bool = Field(default=False, description="webhook: a new signing secret (shown in the answer).")


class Subscription(BaseModel):
    id: str
    owner: str = Field(description="The user id of its owner.")
    kinds: list[str]
    channel: str
    target: str = Field(description="The webhook URL or e-mail address (empty for MQTT).")
    topics: str | None = Field(default=None, description="MQTT: the topic filter that receives its events.")
    scope: str
    projects: list[str]
    tasks: list[str]
    description: str
    enabled: bool
    created: str
    secret: str | None = Field(
        default=None, description="webhook: the signing secret (whsec_...), only when created or rotated."
    )


class DeliveryEvent(BaseModel):
    id: str
    kind: str
    at: str
    data: dict[str, Any]


class Delivery(BaseModel):
    id: int
    subscription: str
    channel: str
    target: str
    state: str = Field(description="pending, delivered, or dead (given up after the retry period).")
    attempts: int
    last_error: str | None
    created: str
    give_up_at: str
    event: DeliveryEvent


class Kind(BaseModel):
    kind: str
    about: str
    description: str
    admins_only: bool
