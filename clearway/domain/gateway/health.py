"""Serving machines' health, as the gateway's calls see it.

A machine that fails ``failures_before_down`` calls in a row (unreachable, or too slow) is marked down: calls to it
are answered 503 at once, without trying it, until ``probe_interval_sec`` has passed; then one call goes through as
a probe (the others still get 503 meanwhile). A success marks it up again. The failure counts are this process's;
the up/down state is kept in the database, where every replica reads it (with its records' cache), and each change
is announced once (``machine.down`` / ``machine.up``) by the process that made it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from clearway.domain import notifications
from clearway.errors import MachineUnavailable
from clearway.store.base import Doc, Stores
from clearway.timeutil import parse_iso, utcnow

UP = "up"
DOWN = "down"


@dataclass
class _State:
    failures: int = 0
    down_since: float | None = None  # time.time() when it was marked down, or last failed a probe
    up: bool = False  # this process saw it answer, and recorded it up
    last_success: float | None = None  # when this process last saw it answer


class MachineHealth:
    def __init__(
        self,
        stores: Stores,
        failures_before_down: int,
        probe_interval_sec: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stores = stores
        self.failures_before_down = failures_before_down
        self.probe_interval_sec = probe_interval_sec
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def admit(self, machine: Doc) -> None:
        """Let a call go to the machine, or refuse it at once (503) while the machine is down and not yet due
        for another try."""
        now = self.clock()
        with self._lock:
            state = self._states.setdefault(machine["id"], _State())
            down_since = state.down_since
            if down_since is None and machine.get("health") == DOWN:  # marked down by another process
                changed = parse_iso(machine.get("health_changed"))
                at = changed.timestamp() if changed else now
                if state.last_success is None or at > state.last_success:  # (not a record older than our answers)
                    down_since = state.down_since = at
            if down_since is None:
                return
            if now - down_since < self.probe_interval_sec:
                wait = int(self.probe_interval_sec - (now - down_since)) + 1
                raise MachineUnavailable(
                    f"Serving machine {machine['name']!r} is down; tried again in {wait} s", reason="down"
                )
            state.down_since = now  # this call is the probe; the others wait for it

    def succeeded(self, machine: Doc) -> bool | None:
        """Note a good answer. None: nothing to record; else call :meth:`mark_up` (off the event loop), with
        this answer: whether the machine was down (then its coming back is announced)."""
        now = self.clock()
        with self._lock:
            state = self._states.get(machine["id"])
            if state is not None and state.up and state.down_since is None:
                state.failures, state.last_success = 0, now
                return None
            was_down = machine.get("health") == DOWN or (state is not None and state.down_since is not None)
            self._states[machine["id"]] = _State(up=True, last_success=now)
        return was_down

    def failed(self, machine: Doc) -> bool:
        """Note a failed call; True when it makes the machine down (call :meth:`mark_down`, off the event loop)."""
        with self._lock:
            state = self._states.setdefault(machine["id"], _State())
            state.failures += 1
            if state.down_since is not None or state.failures < self.failures_before_down:
                return False
            state.down_since = self.clock()
            state.up = False
            return machine.get("health") != DOWN

    def mark_down(self, machine: Doc, reason: str) -> None:
        with self.stores.transaction():
            if self.stores.gateway.set_health(machine["org_id"], machine["id"], DOWN, reason, utcnow()):
                notifications.machine_down(self.stores, machine["org_id"], machine["id"], machine["name"], reason)

    def mark_up(self, machine: Doc, announce: bool) -> None:
        with self.stores.transaction():
            changed = self.stores.gateway.set_health(machine["org_id"], machine["id"], UP, None, utcnow())
            if changed and announce:
                notifications.machine_up(self.stores, machine["org_id"], machine["id"], machine["name"])
