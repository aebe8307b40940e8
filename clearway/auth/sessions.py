"""What a credential stands for right now: the identity with its groups and shares, and its address policy.

Looked up at most once per ``key_cache_sec`` per credential, so that a revoked key, a changed role, a new share or
a new allowlist takes effect within seconds on every replica, without several queries on every request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from clearway.domain.access import acting_identity
from clearway.domain.allowlists import AddressPolicy
from clearway.domain.identity import Identity, Role
from clearway.store.base import Stores


def _fingerprint(password_hash: str | None) -> str | None:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16] if password_hash else None


_PRUNE_AT = 10_000  # entries; expired ones are dropped when the cache grows past this


@dataclass(frozen=True)
class Session:
    identity: Identity  # without the client address, which is the request's
    policy: AddressPolicy
    # For a user without a key: a fingerprint of its password hash. Tokens made without a key carry it, so that
    # changing (or removing) the password ends them.
    password: str | None = None


class Sessions:
    def __init__(self, stores: Stores, ttl_sec: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stores = stores
        self.ttl_sec = ttl_sec
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Session | None]] = {}
        self._lock = threading.Lock()

    def for_key(self, access_key: str) -> Session | None:
        """The session of an API key; None when the key is unknown or revoked."""

        def load() -> Session | None:
            record = self.stores.identity.get_key(access_key)
            return None if record is None or record.revoked else self._complete(record.identity)

        return self._cached(("key", access_key), load)

    def for_user(self, user_id: str, *, fresh: bool = False) -> Session | None:
        """The session of a user logged in without a key (password, single sign-on); None if it is gone.
        ``fresh`` reads it again now (single sign-on just changed the user's role)."""

        def load() -> Session | None:
            identity = self.stores.identity.identity_of(user_id)
            if identity is None:
                return None
            return replace(self._complete(identity), password=_fingerprint(self.stores.identity.password_hash(user_id)))

        return self._cached(("user", user_id), load, fresh)

    def acting_for(self, caller: Session, owner_id: str) -> Session | None:
        """An agent acting for a task's owner (``--use-owner-token``): the owner's records, the agent's policy."""
        owner = self.for_user(owner_id)
        if owner is None or owner.identity.org_id != caller.identity.org_id:
            return None
        identity = acting_identity(caller.identity, owner.identity)
        shares = owner.identity
        return Session(
            replace(
                identity,
                group_ids=shares.group_ids,
                shared_read=shares.shared_read,
                shared_write=shares.shared_write,
            ),
            caller.policy,
        )

    def _complete(self, identity: Identity) -> Session:
        if identity.role is not Role.ADMIN:
            grants = self.stores.sharing.grants(identity.org_id, identity.user_id)
            identity = replace(identity, group_ids=grants.group_ids, shared_read=grants.read, shared_write=grants.write)
        rules = self.stores.allowlists.rules(identity.org_id, identity.role.value, identity.user_id)
        return Session(identity, AddressPolicy.from_rules(rules))

    def _cached(self, key: tuple[str, str], load: Callable[[], Session | None], fresh: bool = False) -> Session | None:
        now = self.clock()
        cached = self._cache.get(key)
        if cached and now - cached[0] < self.ttl_sec and not fresh:
            return cached[1]
        session = load()
        with self._lock:
            if len(self._cache) >= _PRUNE_AT:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self.ttl_sec}
            self._cache[key] = (now, session)
        return session
