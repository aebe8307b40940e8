"""Failed logins counted per key (or user name) and per client address, over a sliding window.

Past the limit, further attempts are refused with the same 401 as bad credentials plus "retry later" (never 429 or
503: the ClearML clients retry those forever), whether or not the key exists. The counts live in this process:
with N replicas behind a load balancer an attacker gets up to N times the limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from clearway.errors import LoginThrottled

MAX_TRACKED = 100_000  # subjects remembered at once; the oldest are forgotten first


class LoginThrottle:
    def __init__(
        self,
        per_key: int,
        per_address: int,
        window_sec: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"key": per_key, "address": per_address}
        self.window_sec = window_sec
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str | None, address: str | None) -> None:
        """Raise :class:`LoginThrottled` when the key or the address is over its limit."""
        with self._lock:
            for subject in self._subjects(key, address):
                if len(self._recent(subject)) >= self.limits[subject[0]]:
                    raise LoginThrottled()

    def failed(self, key: str | None, address: str | None) -> list[str]:
        """Count a failure; the subjects (``"key"``, ``"address"``) that it took to their limit."""
        now = self.clock()
        tripped = []
        with self._lock:
            for subject in self._subjects(key, address):
                times = self._recent(subject)
                times.append(now)
                limit = self.limits[subject[0]]
                while len(times) > limit:
                    times.popleft()
                self._failures[subject] = times
                if len(times) == limit:
                    tripped.append(subject[0])
            while len(self._failures) > MAX_TRACKED:
                del self._failures[next(iter(self._failures))]
        return tripped

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(("key", key), None)

    def _recent(self, subject: tuple[str, str]) -> deque[float]:
        times = self._failures.get(subject, deque())
        horizon = self.clock() - self.window_sec
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            self._failures.pop(subject, None)
        return times

    @staticmethod
    def _subjects(key: str | None, address: str | None) -> list[tuple[str, str]]:
        subjects = []
        if key:
            subjects.append(("key", key))
        if address:
            subjects.append(("address", address))
        return subjects
