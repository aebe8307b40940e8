"""MQTT: each event published at QoS 1 to ``clearway/<organisation>/<category>/<event>/<user>/<subject id>``.

``CLEARWAY_MQTT_URL``: ``mqtt://[user:password@]host[:port]`` (1883) or ``mqtts://`` (TLS, 8883). The client
(paho-mqtt) keeps reconnecting in its own thread; while the broker is away deliveries fail fast and wait for their
next attempt, so nothing else waits for the broker.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from clearway.notify import messages
from clearway.store.notifications import Delivery

_PORTS = {"mqtt": 1883, "mqtts": 8883}


class MqttChannel:
    name = "mqtt"
    whole_targets = False
    per_target = None

    def __init__(self, url: str, timeout_sec: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise ValueError(f"CLEARWAY_MQTT_URL must be mqtt:// or mqtts://host[:port], not {url!r}")
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        self.port = parts.port or _PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_sec = timeout_sec
        self._client: Any = None

    async def start(self) -> None:
        import paho.mqtt.client as mqtt  # only when MQTT is configured

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"clearway-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        if self.user:
            client.username_pw_set(self.user, self.password)
        if self.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.max_queued_messages_set(1000)
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client

    async def deliver(self, group: list[Delivery]) -> str | None:
        delivery = group[0]
        client = self._client
        if client is None or not client.is_connected():
            return f"the MQTT broker at {self.host}:{self.port} is not connected"
        info = client.publish(delivery.target, messages.body(delivery.event), qos=1)
        try:
            await asyncio.to_thread(info.wait_for_publish, self.timeout_sec)
        except (ValueError, RuntimeError) as exc:
            return f"not published: {exc}"
        return None if info.is_published() else "the broker did not acknowledge the message in time"

    async def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
