"""Security events for an organisation's admins, from the denials the audit log records.

Repeated failed logins (the login throttle tripping for a key, a user name or an address) and calls refused by an
address allowlist become ``security.*`` events. A refused address may call in a loop, so each (kind, user,
address) is announced at most once per cooldown in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from clearway.domain import notifications
from clearway.domain.audit import Action
from clearway.store.base import Doc, Stores
from clearway.timeutil import iso

_KINDS = {
    Action.LOGIN_THROTTLED.value: "security.login_failures",
    Action.ADDRESS_DENIED.value: "security.address_denied",
}
_MAX_REMEMBERED = 10_000


class SecurityAlerts:
    def __init__(self, stores: Stores, cooldown_sec: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.stores = stores
        self.cooldown_sec = cooldown_sec
        self.clock = clock
        self._last: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def __call__(self, entry: Doc) -> None:
        """An audit listener (see :attr:`clearway.domain.audit.Audit.listeners`)."""
        kind = _KINDS.get(entry["action"])
        if kind is None:
            return
        name, address = entry.get("actor_name"), entry.get("client_ip")
        org_id = entry.get("org_id") or self._org_of(name)
        if org_id is None or not self._first_in_a_while((kind, org_id, name or "", address or "")):
            return
        detail = {
            "user": name,
            "user_id": entry.get("actor_id"),
            "address": address,
            "subject": (entry.get("detail") or {}).get("subject"),
            "at": iso(entry["at"]),
        }
        notifications.security_denial(self.stores, kind, org_id, detail)

    def _org_of(self, name: str | None) -> str | None:
        """The organisation of a user name that failed to log in with a password (when the name is unique)."""
        user = self.stores.identity.find_user(name) if name else None
        return user["org_id"] if user else None

    def _first_in_a_while(self, key: tuple[str, ...]) -> bool:
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.cooldown_sec:
                return False
            if len(self._last) >= _MAX_REMEMBERED:
                self._last = {k: t for k, t in self._last.items() if now - t < self.cooldown_sec}
            self._last[key] = now
            return True
