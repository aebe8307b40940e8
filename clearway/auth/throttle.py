"""Failed logins counted per key (or user name) from one client address, and per client address, over a sliding
window.

A key is counted per address, so that a stranger's failures with someone's key lock out only the stranger's own
address, never the key's owner calling from hers; an address is counted whatever keys it tries. IPv6 addresses
count per /64, the block one machine usually holds. Past a limit, further attempts are refused with the same 401
as bad credentials plus "retry later" (never 429 or 503: the ClearML clients retry those forever), whether or not
the key exists. The counts live in this process: with N replicas behind a load balancer an attacker gets up to N
times the limit.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable

from clearway.domain.allowlists import parse_address
from clearway.errors import LoginThrottled

MAX_TRACKED = 100_000  # subjects remembered at once; the oldest are forgotten first
IPV6_BLOCK = 64  # prefix length counted as one IPv6 client

Subject = tuple[str, str]  # (kind, what): ("key", "<key> from <address>") or ("address", "<address>")


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
        self._failures: dict[Subject, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str | None, address: str | None) -> None:
        """Raise :class:`LoginThrottled` when the key from this address, or the address, is over its limit."""
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

    def succeeded(self, key: str, address: str | None) -> None:
        """A good login clears the key's count from that address (not the address's: others may be guessing)."""
        with self._lock:
            self._failures.pop(_key_subject(key, _client(address)), None)

    def _recent(self, subject: Subject) -> deque[float]:
        times = self._failures.get(subject, deque())
        horizon = self.clock() - self.window_sec
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            self._failures.pop(subject, None)
        return times

    @staticmethod
    def _subjects(key: str | None, address: str | None) -> list[Subject]:
        client = _client(address)
        subjects = []
        if key:
            subjects.append(_key_subject(key, client))
        if client:
            subjects.append(("address", client))
        return subjects


def _key_subject(key: str, client: str) -> Subject:
    return ("key", f"{key}\x00{client}")


def _client(address: str | None) -> str:
    """What counts as one client: its address, or for IPv6 its /64."""
    parsed = parse_address(address)
    if parsed is None:
        return address or ""
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_BLOCK}", strict=False))
    return str(parsed)
