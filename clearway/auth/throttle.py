"""Failed logins counted per key (or user name) and per client address, over a sliding window.

Past the limit, further attempts are refused with the same 401 as bad credentials plus "retry later" (never 429 or
503: the ClearML clients retry those forever), whether or not the key exists. The counts live in the shared
:class:`~clearway.store.base.SlidingCounters` (the database, or Redis), so every replica sees the same ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from clearway.errors import LoginThrottled
from clearway.store.base import SlidingCounters

PREFIX = "login:"


class LoginThrottle:
    def __init__(
        self,
        counters: SlidingCounters,
        per_key: int,
        per_address: int,
        window_sec: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.limits = {"key": per_key, "address": per_address}
        self.window_sec = window_sec
        self.clock = clock

    def check(self, key: str | None, address: str | None) -> None:
        """Raise :class:`LoginThrottled` when the key or the address is over its limit."""
        now = self.clock()
        for kind, subject in self._subjects(key, address):
            if self.counters.count(subject, now, self.window_sec) >= self.limits[kind]:
                raise LoginThrottled()

    def failed(self, key: str | None, address: str | None) -> list[str]:
        """Count a failure; the subjects (``"key"``, ``"address"``) that it took to their limit."""
        now = self.clock()
        return [
            kind
            for kind, subject in self._subjects(key, address)
            if self.counters.add(subject, now, self.window_sec) == self.limits[kind]
        ]

    def succeeded(self, key: str) -> None:
        self.counters.clear(f"{PREFIX}key:{key}")

    @staticmethod
    def _subjects(key: str | None, address: str | None) -> list[tuple[str, str]]:
        """``(kind, counter key)`` for each subject a login attempt is counted against."""
        subjects = []
        if key:
            subjects.append(("key", f"{PREFIX}key:{key}"))
        if address:
            subjects.append(("address", f"{PREFIX}address:{address}"))
        return subjects
