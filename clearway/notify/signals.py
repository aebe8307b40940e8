"""A wake-up that any thread may give and any asyncio task, on any event loop, may wait for.

The outbox store gives it after a commit (in a request's thread); the notifier's loop and the live streams on the
server's loop wait for it. Waiters compare versions, so a wake-up given between two waits is never missed.
"""

from __future__ import annotations

import asyncio
import threading


class Signal:
    def __init__(self) -> None:
        self._version = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def version(self) -> int:
        return self._version

    def set(self) -> None:
        with self._lock:
            self._version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                pass

    async def wait(self, seen: int, timeout: float) -> bool:
        """Until the version is past ``seen`` (True) or ``timeout`` seconds passed (False)."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._version != seen:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return self._version != seen
        finally:
            with self._lock:
                self._waiters.discard(waiter)
