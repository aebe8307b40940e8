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

from clearway.domain.allowlists import AddressPolicy
from clearway.domain.identity import Identity, Role
from clearway.domain.ids import looks_like_id
from clearway.domain.impersonation import Impersonation
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
    def __init__(
        self,
        stores: Stores,
        ttl_sec: float,
        impersonation: Impersonation | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores = stores
        self.impersonation = impersonation
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

    def acting_for(
        self, agent: Session, owner_id: str, task_id: str | None = None, *, fresh: bool = False
    ) -> Session | None:
        """An agent acting for the owner of a task it holds (``--use-owner-token``), with the agent's address
        policy; None when it holds no such task. With ``task_id`` (the task a token was issued for) the answer is
        cached like a key's, unless ``fresh`` (a login: checked now); without (a first login naming only the
        owner) the task it took last is looked up now."""
        if self.impersonation is None:
            return None
        impersonation = self.impersonation

        def load() -> Session | None:
            owner = self.for_user(owner_id) if looks_like_id(owner_id) else None
            task = impersonation.held_task(agent.identity, owner.identity if owner else None, task_id)
            if owner is None or task is None:
                return None
            return Session(impersonation.act_for(agent.identity, owner.identity, task), agent.policy)

        if task_id is None:
            return load()
        who = agent.identity.access_key or agent.identity.user_id
        return self._cached(("acting", f"{who}\x00{owner_id}\x00{task_id}"), load, fresh)

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
