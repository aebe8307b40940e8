"""E-mail over SMTP: one mail per recipient for all the events waiting for it (a digest).

``CLEARWAY_SMTP_URL``: ``smtp://[user:password@]host[:port]`` (plain, port 25), ``smtp+starttls://`` (STARTTLS,
port 587) or ``smtps://`` (TLS, port 465). The mail has a line per event and the events' JSON attached.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import orjson

from clearway.notify import messages
from clearway.store.notifications import Delivery

_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class EmailChannel:
    name = "email"
    whole_targets = True
    per_target = None  # a digest takes all that waits for its address

    def __init__(self, url: str, sender: str, timeout_sec: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise ValueError(f"CLEARWAY_SMTP_URL must be smtp://, smtp+starttls:// or smtps://host, not {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or _PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout_sec = timeout_sec

    async def start(self) -> None:
        pass

    async def deliver(self, group: list[Delivery]) -> str | None:
        try:
            await asyncio.to_thread(self._send, group)
        except (OSError, smtplib.SMTPException) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def close(self) -> None:
        pass

    def _send(self, group: list[Delivery]) -> None:
        events = list({d.event.event_id: d.event for d in group}.values())  # once each, in order
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = group[0].target
        first = events[0]
        mail["Subject"] = (
            f"Clearway: {messages.summary(first).split('  ', 1)[1]}"
            if len(events) == 1
            else f"Clearway: {len(events)} events"
        )
        lines = [messages.summary(event) for event in events]
        ids = "\n".join(f"  {event.event_id}" for event in events)
        mail.set_content("\n".join(lines) + f"\n\nEvent ids:\n{ids}\n")
        payload = orjson.dumps([messages.message(event) for event in events], option=orjson.OPT_INDENT_2)
        mail.add_attachment(payload, maintype="application", subtype="json", filename="events.json")
        smtp_class = smtplib.SMTP_SSL if self.scheme == "smtps" else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout_sec) as smtp:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail)
