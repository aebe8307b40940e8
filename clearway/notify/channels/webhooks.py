"""Webhooks: a signed JSON POST, following the Standard Webhooks convention.

Headers ``webhook-id`` (the event's id: the same on every retry, for dropping duplicates), ``webhook-timestamp``
(Unix seconds of this attempt) and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of
``"{id}.{timestamp}.{body}"`` keyed with the subscription's secret, the base64 after ``whsec_``). Redirects are not
followed, and the target's address is checked again before every attempt (see domain/webhook_targets.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from urllib.parse import urlsplit

import httpx

from clearway.domain.webhook_targets import needs_lookup, refused_address
from clearway.notify import messages
from clearway.store.notifications import Delivery

USER_AGENT = "Clearway-Webhooks/1"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookChannel:
    name = "webhook"
    whole_targets = False

    def __init__(self, *, timeout_sec: float, allow_private: bool, per_url: int) -> None:
        self.timeout_sec = timeout_sec
        self.allow_private = allow_private
        self.per_target = per_url
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_sec, follow_redirects=False, trust_env=False)

    async def deliver(self, group: list[Delivery]) -> str | None:
        assert self._client is not None and len(group) == 1
        delivery = group[0]
        parts = urlsplit(delivery.target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        if needs_lookup(host):  # a name: resolved again now, off the loop
            refusal = await asyncio.to_thread(refused_address, host, port, self.allow_private)
        else:
            refusal = refused_address(host, port, self.allow_private)
        if refusal:
            return f"refused: {refusal}"
        body = messages.body(delivery.event)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(delivery.secret or "", delivery.event.event_id, timestamp, body),
        }
        try:
            response = await self._client.post(delivery.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code} {response.reason_phrase}".strip()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
