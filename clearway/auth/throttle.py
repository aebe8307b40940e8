"""Failed logins counted per key (or user name) from one client address, and per client address, over a sliding
window.

A key is counted per address, so that a stranger's failures with someone's key lock out only the stranger's own
address, never the key's owner calling from hers; an address is counted whatever keys it tries. IPv6 addresses
count per /64, the block one machine usually holds. Past a limit, further attempts are refused with the same 401
as bad credentials plus "retry later" (never 429 or 503: the ClearML clients retry those forever), whether or not
the key exists. The counts live in the shared :class:`~clearway.store.base.SlidingCounters` (the database, or
Redis), so every replica sees the same ones.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable

from clearway.domain.allowlists import parse_address
from clearway.errors import LoginThrottled
from clearway.store.base import SlidingCounters

PREFIX = "login:"
IPV6_BLOCK = 64  # prefix length counted as one IPv6 client


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
        """Raise :class:`LoginThrottled` when the key from this address, or the address, is over its limit."""
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

    def succeeded(self, key: str, address: str | None) -> None:
        """A good login clears the key's count from that address (not the address's: others may be guessing)."""
        self.counters.clear(_key_subject(key, _client(address)))

    @staticmethod
    def _subjects(key: str | None, address: str | None) -> list[tuple[str, str]]:
        """``(kind, counter key)`` for each subject a login attempt is counted against."""
        client = _client(address)
        subjects = []
        if key:
            subjects.append(("key", _key_subject(key, client)))
        if client:
            subjects.append(("address", f"{PREFIX}address:{client}"))
        return subjects


def _key_subject(key: str, client: str) -> str:
    """The counter of a key from one client: an address has no space; a key that is long, or holds what a database
    cannot keep (NUL, lone surrogates), is counted by its digest."""
    if len(key) > 128 or not key.isprintable() or not key.isascii():
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{PREFIX}key:{client} {key}"


def _client(address: str | None) -> str:
    """What counts as one client: its address, or for IPv6 its /64."""
    parsed = parse_address(address)
    if parsed is None:
        return address or ""
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_BLOCK}", strict=False))
    return str(parsed)
