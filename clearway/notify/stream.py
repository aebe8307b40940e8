"""The live stream: server-sent events at ``/events/stream``, every event the caller may see, as it happens.

Each message is ``id: <position>`` and ``data: <the event's JSON>``. A client that reconnects with
``Last-Event-ID`` (or ``?last_event_id=``) gets what it missed since that position, as long as it is kept
(``CLEARWAY_NOTIFY_RETENTION_DAYS``); without one it starts with the next event. ``kind`` (repeated or comma
separated, ``task.*`` for a category), ``project`` and ``task`` narrow it. The caller's credentials are checked
again as the stream goes on: a revoked key ends it, a new share shows up in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from clearway.auth.middleware import request_client_ip, request_identity
from clearway.auth.web_sessions import COOKIE as SESSION_COOKIE
from clearway.domain.event_routing import EventAccess, kind_matches
from clearway.domain.identity import Identity
from clearway.domain.notifications import KINDS, is_known_pattern
from clearway.errors import ClearwayError, ValidationFailed
from clearway.notify import messages
from clearway.services import Services
from clearway.store.notifications import OutboxEvent

BATCH = 200
KEEPALIVE_SEC = 15.0
RETRY_MS = 2000  # how long browsers wait before reconnecting


@dataclass(frozen=True)
class StreamFilter:
    kinds: tuple[str, ...]
    project: str | None
    task: str | None

    def wants(self, event: OutboxEvent) -> bool:
        if self.kinds and not kind_matches(self.kinds, event.kind):
            return False
        if self.project is not None and event.project_id != self.project:
            return False
        return self.task is None or event.subject_id == self.task


def stream_response(services: Services, request: Request) -> StreamingResponse:
    request_identity(request)  # authenticated by the middleware; checked again as the stream goes on
    start = _position(request.headers.get("last-event-id") or request.query_params.get("last_event_id"))
    wanted = StreamFilter(_kinds(request), request.query_params.get("project"), request.query_params.get("task"))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(services, request, start, wanted), media_type="text/event-stream", headers=headers)


async def _events(
    services: Services, request: Request, start: int | None, wanted: StreamFilter
) -> AsyncIterator[bytes]:
    outbox = services.stores.outbox
    signal = services.notifier.sequenced
    last = await run_in_threadpool(outbox.last_position)
    cursor = last if start is None else min(start, last)  # an id from the future (another database) means now
    yield f"retry: {RETRY_MS}\n\n".encode()
    while True:
        seen = signal.version
        try:
            identity = await run_in_threadpool(_still_allowed, services, request)
        except ClearwayError as exc:
            yield f"event: error\ndata: {orjson.dumps({'error': exc.message}).decode()}\n\n".encode()
            return
        events = await run_in_threadpool(outbox.after, cursor, BATCH)
        shown = await run_in_threadpool(_visible, services, identity, events, wanted)
        for event in shown:
            yield b"id: %d\ndata: %s\n\n" % (event.position or 0, messages.body(event))
        if events:
            cursor = events[-1].position or cursor
            if len(events) == BATCH:
                continue
        if not await signal.wait(seen, KEEPALIVE_SEC):
            yield b": keepalive\n\n"


def _still_allowed(services: Services, request: Request) -> Identity:
    """The caller as its credentials stand now (cached for seconds), or the error that ends the stream. A browser's
    EventSource sends no header: the web UI's session cookie stands for it (until logout)."""
    authorization = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not authorization and cookie:
        return services.web_sessions.identify(cookie, request_client_ip(request)).identity
    return services.auth.identify(request.headers.get("authorization"), request_client_ip(request))


def _visible(
    services: Services, identity: Identity, events: list[OutboxEvent], wanted: StreamFilter
) -> list[OutboxEvent]:
    access = EventAccess(services.stores)
    return [event for event in events if wanted.wants(event) and access.may_see(identity, event)]


def _position(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationFailed(f"Last-Event-ID must be a position (a whole number), not {value[:40]!r}")
    return int(value)


def _kinds(request: Request) -> tuple[str, ...]:
    kinds = tuple(k.strip() for value in request.query_params.getlist("kind") for k in value.split(",") if k.strip())
    unknown = [kind for kind in kinds if not is_known_pattern(kind)]
    if unknown:
        raise ValidationFailed(f"unknown event kinds {unknown}", allowed=sorted(KINDS))
    return kinds
