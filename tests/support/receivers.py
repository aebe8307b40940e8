"""Real receivers of notifications, on loopback: a webhook endpoint that checks Standard Webhooks signatures with
the ``standardwebhooks`` library, an SMTP server (aiosmtpd), an MQTT subscriber (paho) and an SSE client
(httpx-sse). Each collects what it got; tests poll them with :func:`wait_for`."""

from __future__ import annotations

import email
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as mqtt
from aiosmtpd.controller import Controller
from httpx_sse import connect_sse
from standardwebhooks import Webhook

from tests.support.server import free_port

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, timeout: float = 60) -> T:
    """Poll ``check`` until it answers something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Hook:
    """One request that reached the webhook receiver."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool


@dataclass
class WebhookReceiver:
    """An HTTP server for webhooks. ``secrets[path]`` verifies that path's requests; ``failures[path]`` answers
    that many 500s first; ``hold[path]`` makes requests to that path wait until the event is set."""

    secrets: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    hold: dict[str, threading.Event] = field(default_factory=dict)
    hooks: list[Hook] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # paths, as requests arrive (before any hold)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.arrived.append(self.path)
                if self.path in receiver.hold:
                    receiver.hold[self.path].wait(60)
                if receiver.failures.get(self.path, 0) > 0:
                    receiver.failures[self.path] -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secrets[self.path]).verify(body, headers)
                    verified = True
                except Exception:  # noqa: BLE001 - recorded as unverified
                    verified = False
                receiver.hooks.append(Hook(self.path, headers, json.loads(body), verified))
                self.send_response(200 if verified else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def events(self, path: str) -> list[dict[str, Any]]:
        return [hook.body for hook in list(self.hooks) if hook.path == path]

    def close(self) -> None:
        for event in self.hold.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()


class _Collect:
    def __init__(self, mails: list[email.message.Message]) -> None:
        self.mails = mails

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt-To"] = ",".join(envelope.rcpt_tos)
        self.mails.append(message)
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every mail."""

    def __init__(self) -> None:
        self.mails: list[email.message.Message] = []
        self.port = free_port()
        self.controller = Controller(_Collect(self.mails), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def events(self, address: str) -> list[dict[str, Any]]:
        """The events of every mail to ``address``, from the JSON each mail carries."""
        found = []
        for mail in list(self.mails):
            if address not in mail["X-Rcpt-To"]:
                continue
            for part in mail.walk():
                if part.get_content_type() == "application/json":
                    found.extend(json.loads(part.get_payload(decode=True)))
        return found

    def close(self) -> None:
        self.controller.stop()


class MqttWatcher:
    """Subscribes to a topic filter on a broker and keeps every message."""

    def __init__(self, topic: str, port: int = 1883) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), f"could not subscribe to {topic} on 127.0.0.1:{port}"

    def events(self, prefix: str = "") -> list[dict[str, Any]]:
        return [body for topic, body in list(self.messages) if topic.startswith(prefix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SseClient:
    """Reads ``/events/stream`` in a thread, keeping ``(id, event)`` pairs."""

    def __init__(self, base_url: str, token: str, last_event_id: str | None = None, query: str = "") -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=None))
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._thread = threading.Thread(target=self._read, args=(headers, query), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the live stream did not open"

    def _read(self, headers: dict[str, str], query: str) -> None:
        try:
            with connect_sse(self._client, "GET", f"/events/stream{query}", headers=headers) as source:
                source.response.raise_for_status()
                self.connected.set()
                for sse in source.iter_sse():
                    if sse.data:
                        self.received.append((sse.id, json.loads(sse.data)))
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test

    def events(self) -> list[dict[str, Any]]:
        return [event for _, event in list(self.received)]

    def close(self) -> None:
        self._client.close()


def ensure_mosquitto() -> None:
    """The machine's broker on 127.0.0.1:1883, started from its system configuration when it is not running."""
    import socket

    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", 1883)) == 0:
            return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    subprocess.run([binary, "-d", "-c", "/etc/mosquitto/mosquitto.conf"], check=True)

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", 1883)) == 0

    wait_for(listening, "mosquitto to listen on 127.0.0.1:1883", timeout=10)
