"""Sliding-window counters in this process's memory: no database write or network trip per event, so they suit a
count made on every call (a gateway token's calls per minute). Each process counts alone: with several workers or
replicas a limit holds per process, unless ``CLEARWAY_REDIS_URL`` gives them shared counters.

The window is estimated from two fixed windows, the current one and the one before, weighted by how much of it
still lies in the sliding window (as rate limiters commonly do): constant memory per key whatever the limit,
exact while the previous window was empty."""

from __future__ import annotations

import math
import threading

from clearway.store.base import SlidingCounters

MAX_KEYS = 100_000  # past it, keys idle for two windows are dropped


class ProcessSlidingCounters(SlidingCounters):
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int, int]] = {}  # key -> (window number, previous count, current count)
        self._lock = threading.Lock()

    def add(self, key: str, now: float, window_sec: float) -> int:
        number = int(now // window_sec)
        with self._lock:
            previous, current = self._counts(key, number)
            current += 1
            if len(self._windows) >= MAX_KEYS and key not in self._windows:
                self._drop_idle(number)
            self._windows[key] = (number, previous, current)
        return self._estimate(previous, current, now, window_sec, number)

    def count(self, key: str, now: float, window_sec: float) -> int:
        number = int(now // window_sec)
        with self._lock:
            previous, current = self._counts(key, number)
        return self._estimate(previous, current, now, window_sec, number)

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def _counts(self, key: str, number: int) -> tuple[int, int]:
        """(previous, current) counts of ``key`` as seen from window ``number``."""
        at, previous, current = self._windows.get(key, (number, 0, 0))
        if at == number:
            return previous, current
        return (current if at == number - 1 else 0), 0

    @staticmethod
    def _estimate(previous: int, current: int, now: float, window_sec: float, number: int) -> int:
        left = 1.0 - (now - number * window_sec) / window_sec  # share of the previous window still in the slide
        return current + math.floor(previous * left)

    def _drop_idle(self, number: int) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[0] >= number - 1}
