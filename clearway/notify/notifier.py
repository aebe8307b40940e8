"""The notifier: one background thread per server process, with its own event loop, that

1. sequences new outbox events and routes them to the subscriptions that want them (one transaction, so each
   event is routed once, by whichever replica claims it);
2. delivers the deliveries of each channel, leasing them so that one replica delivers each, and retries failures
   with exponential backoff until the retry period ends (then they are dead letters);
3. prunes old events and deliveries, and announces stalled queues.

It is woken by commits in this process and, on PostgreSQL, by LISTEN/NOTIFY from the others; it also polls, so a
missed wake-up only delays. Nothing is lost when a process dies: unsequenced events stay in the outbox, and a
delivery's lease runs out and it is taken again (SQLite has one process: its leases are dropped at start).
Requests never wait for it: it runs in its own thread and only touches the database.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from clearway.domain.event_routing import Router
from clearway.domain.queue_alerts import QueueAlerts
from clearway.notify.channels import Channel
from clearway.notify.pg_listener import PgListener
from clearway.notify.signals import Signal
from clearway.store.base import Stores
from clearway.store.notifications import Delivery
from clearway.store.sql.outbox import OUTBOX_CHANNEL, STREAM_CHANNEL
from clearway.timeutil import utcnow

log = logging.getLogger(__name__)
BATCH = 200  # events sequenced, or deliveries claimed, per round
POLL_SEC = 1.0  # the longest a due retry waits when nothing wakes the notifier
GATHER_SEC = 0.02  # after a wake-up, what comes meanwhile is routed (or recorded) together
MAX_IN_FLIGHT = 32  # deliveries in flight per channel in this process
MAINTENANCE_SEC = 30.0
MAX_RETRY_DELAY_SEC = 3600.0


class Notifier:
    def __init__(
        self,
        stores: Stores,
        router: Router,
        channels: list[Channel],
        *,
        retry_base_sec: float,
        lease_sec: float,
        retention: timedelta,
        queue_alerts: QueueAlerts,
        database_url: str | None,
        single_process: bool,
    ) -> None:
        self.sqlite = database_url is None  # (the PostgreSQL URL to LISTEN on; None on SQLite)
        self.stores = stores
        self.router = router
        self.channels = channels
        self.retry_base_sec = retry_base_sec
        self.lease_sec = lease_sec
        self.retention = retention
        self.queue_alerts = queue_alerts
        self.single_process = single_process  # no other process delivers: leases found at start are stale
        self.added = Signal()  # events were added to the outbox
        self.sequenced = Signal()  # events were sequenced: the live streams read on, deliveries may be due
        self.finished = Signal()  # a delivery finished: room for another
        stores.outbox.on_added.append(self.added.set)  # type: ignore[attr-defined]
        stores.outbox.on_sequenced.append(self.sequenced.set)  # type: ignore[attr-defined]
        self._listener = (
            PgListener(database_url, {OUTBOX_CHANNEL: self.added, STREAM_CHANNEL: self.sequenced})
            if database_url
            else None
        )
        self._route_lock = threading.Lock()
        self._outcomes: list[tuple[list[Delivery], str | None]] = []  # attempts made, not yet recorded
        self._has_outcomes = asyncio.Event()  # (made again on the notifier's loop when it starts)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="clearway-notifier", daemon=True)
        self._thread.start()
        ready.wait(10)
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(15)
        self._thread = None

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        ready.set()
        if self.single_process:
            await asyncio.to_thread(self.stores.subscriptions.release_leases)
        for channel in self.channels:
            await channel.start()
        self._has_outcomes = asyncio.Event()
        loops = [self._routing(), self._recording(), self._maintenance()]
        loops += [self._delivering(channel) for channel in self.channels]
        tasks = [asyncio.create_task(loop) for loop in loops]
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._outcomes:  # what was delivered is not delivered again after a restart
            await asyncio.to_thread(self._record, self._outcomes)
        for channel in self.channels:
            await channel.close()

    # 1. routing
    def route_once(self) -> int:
        """Sequence and route one batch of new events; how many there were."""
        if self.sqlite:
            # SQLite: one writer for the whole process. Route first, outside the write lock (only this process
            # sequences, and one batch at a time), then write briefly.
            with self._route_lock:
                events = self.stores.outbox.unsequenced(BATCH)
                if not events:
                    return 0
                rows = self.router.deliveries(events, utcnow())
                with self.stores.transaction():  # (another process of `--workers N` may have taken some meanwhile)
                    taken = {event.row for event in self.stores.outbox.sequence(BATCH, [e.row for e in events])}
                    self.stores.subscriptions.add_deliveries([row for row in rows if row["event"] in taken])
            return len(events)
        with self.stores.transaction():  # PostgreSQL: claimed (SKIP LOCKED) and routed in one transaction
            events = self.stores.outbox.sequence(BATCH)
            self.stores.subscriptions.add_deliveries(self.router.deliveries(events, utcnow()))
        return len(events)

    async def _routing(self) -> None:
        while True:
            seen = self.added.version
            try:
                count = await asyncio.to_thread(self.route_once)
            except Exception:  # noqa: BLE001 - the database may be away for a while: try again later
                log.exception("routing notifications failed")
                count = 0
            if count < BATCH and await self.added.wait(seen, POLL_SEC):
                await asyncio.sleep(GATHER_SEC)

    # 2. delivering
    async def _delivering(self, channel: Channel) -> None:
        in_flight: Counter[str] = Counter()
        attempts: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps only weak references)
        while True:
            seen = (self.sequenced.version, self.finished.version)
            room = MAX_IN_FLIGHT - sum(in_flight.values())
            claimed: list[Delivery] = []
            if room > 0:
                try:
                    claimed = await asyncio.to_thread(self._claim, channel, room, dict(in_flight))
                except Exception:  # noqa: BLE001
                    log.exception("claiming %s deliveries failed", channel.name)
            for group in _groups(claimed, channel.whole_targets):
                in_flight[group[0].target] += len(group)
                attempt = asyncio.create_task(self._attempt(channel, group, in_flight))
                attempts.add(attempt)
                attempt.add_done_callback(attempts.discard)
            if not claimed:
                await _first(self.sequenced.wait(seen[0], POLL_SEC), self.finished.wait(seen[1], POLL_SEC))

    def _claim(self, channel: Channel, room: int, busy: dict[str, int]) -> list[Delivery]:
        now = utcnow()
        return self.stores.subscriptions.claim(
            channel.name,
            now,
            now + timedelta(seconds=self.lease_sec),
            room,
            whole_targets=channel.whole_targets,
            per_target=channel.per_target,
            busy=busy,
        )

    async def _attempt(self, channel: Channel, group: list[Delivery], in_flight: Counter[str]) -> None:
        try:
            error = await asyncio.wait_for(channel.deliver(group), self.lease_sec)
        except TimeoutError:
            error = "timed out"
        except Exception as exc:  # noqa: BLE001 - a failed attempt is retried, never lost
            log.exception("%s delivery failed", channel.name)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            in_flight[group[0].target] -= len(group)
            if in_flight[group[0].target] <= 0:
                del in_flight[group[0].target]
            self.finished.set()
        self._outcomes.append((group, error))  # still leased until recorded: no one takes it meanwhile
        self._has_outcomes.set()

    async def _recording(self) -> None:
        """Write the outcomes of attempts, those that finish together in one transaction."""
        while True:
            await self._has_outcomes.wait()
            await asyncio.sleep(GATHER_SEC)
            self._has_outcomes.clear()
            outcomes, self._outcomes = self._outcomes, []
            try:
                await asyncio.to_thread(self._record, outcomes)
            except Exception:  # noqa: BLE001 - their leases run out and they are taken again
                log.exception("recording %d deliveries failed", len(outcomes))

    def _record(self, outcomes: list[tuple[list[Delivery], str | None]]) -> None:
        now = utcnow()
        with self.stores.transaction():
            delivered = [delivery.id for group, error in outcomes if error is None for delivery in group]
            if delivered:
                self.stores.subscriptions.delivered(delivered, now)
            for group, error in outcomes:
                if error is not None:
                    self._failed(group, error, now)

    def _failed(self, group: list[Delivery], error: str, now: datetime) -> None:
        ids = [delivery.id for delivery in group]
        attempts = max(delivery.attempts for delivery in group)
        give_up_at = min(delivery.give_up_at for delivery in group)
        delay = min(self.retry_base_sec * 2 ** (attempts - 1), MAX_RETRY_DELAY_SEC) * random.uniform(0.8, 1.2)
        next_attempt = None if now >= give_up_at else min(now + timedelta(seconds=delay), give_up_at)
        if next_attempt is None:
            log.warning("gave up delivering %s to %s: %s", ids, group[0].target, error)
        self.stores.subscriptions.failed(ids, error, next_attempt, now)

    # 3. maintenance
    async def _maintenance(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._maintain)
            except Exception:  # noqa: BLE001
                log.exception("notification maintenance failed")
            await asyncio.sleep(min(MAINTENANCE_SEC, self.queue_alerts.wait_sec / 4))

    def _maintain(self) -> None:
        self.queue_alerts.sweep()
        before = utcnow() - self.retention
        self.stores.subscriptions.prune(before)
        self.stores.outbox.prune(before)


def _groups(claimed: list[Delivery], by_target: bool) -> list[list[Delivery]]:
    if not by_target:
        return [[delivery] for delivery in claimed]
    groups: dict[str, list[Delivery]] = {}
    for delivery in claimed:
        groups.setdefault(delivery.target, []).append(delivery)
    return list(groups.values())


async def _first(*waits: Coroutine[Any, Any, bool]) -> None:
    tasks = [asyncio.create_task(wait) for wait in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
