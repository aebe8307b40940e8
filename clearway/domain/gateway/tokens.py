"""Gateway tokens: what applications call the gateway with. Each acts as its user on the gateway's routes only,
within a rate limit (calls per minute, counted in each server process's memory, or on the replicas' shared
counters in Redis when one is configured) and a daily quota of enqueued runs (counted in the database). Only a
SHA-256 digest of a token is kept: a token is 256 random bits, so a slow hash would add nothing but latency to every
call."""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from clearway.domain.access import may_administer
from clearway.domain.identity import Identity
from clearway.errors import Forbidden, InvalidToken, NotFound, TooManyRequests, ValidationFailed
from clearway.store.base import Doc, SlidingCounters, Stores
from clearway.timeutil import iso, parse_iso, utcnow

PREFIX = "cwg_"  # tells a gateway token from a JWT or an OIDC token at a glance
RATE_WINDOW_SEC = 60.0
MAX_NAME = 200
MAX_LIMIT = 1_000_000


def is_gateway_token(token: str) -> bool:
    return token.startswith(PREFIX)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class GatewayTokens:
    def __init__(
        self,
        stores: Stores,
        counters: SlidingCounters,
        *,
        rate_per_minute: int,
        daily_runs: int,
        cache_sec: float,
        counted_in_process: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stores = stores
        self.counters = counters
        self.counted_in_process = counted_in_process  # counting a call never leaves the event loop
        self.rate_per_minute = rate_per_minute
        self.daily_runs = daily_runs
        self.cache_sec = cache_sec
        self.clock = clock
        self._cache: dict[str, tuple[float, Doc | None]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        identity: Identity,
        user_id: str,
        *,
        name: str = "",
        expires_days: float | None = None,
        rate_per_minute: int | None = None,
        daily_runs: int | None = None,
    ) -> tuple[Doc, str]:
        """A new token for the user (the caller itself, or anyone in its organisation for an admin); the token
        text is returned once, never stored."""
        if user_id != identity.user_id and not may_administer(identity):
            raise Forbidden("Only admins create gateway tokens for other users")
        user = self.stores.identity.get_user(user_id)
        if user is None or user["org_id"] != identity.org_id:
            raise NotFound(f"No such user: {user_id}")
        if len(name) > MAX_NAME:
            raise ValidationFailed(f"a token name is at most {MAX_NAME} characters")
        if expires_days is not None and not (0 < expires_days <= 3650):
            raise ValidationFailed("expires must be between 0 and 3650 days")
        for limit in (rate_per_minute, daily_runs):
            if limit is not None and not 0 <= limit <= MAX_LIMIT:
                raise ValidationFailed(f"limits are between 0 and {MAX_LIMIT}")
        token = PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        row = {
            "id": secrets.token_urlsafe(12),
            "digest": digest(token),
            "org_id": identity.org_id,
            "user_id": user_id,
            "name": name or f"token of {user['name']}",
            "rate_per_minute": rate_per_minute or self.rate_per_minute,
            "daily_runs": self.daily_runs if daily_runs is None else daily_runs,
            "created": now,
            "expires": now + timedelta(days=expires_days) if expires_days is not None else None,
        }
        self.stores.gateway.add_token(row)
        shown = {k: iso(v) if isinstance(v, datetime) else v for k, v in row.items() if k != "digest"}
        return {**shown, "revoked": None}, token

    def list(self, identity: Identity) -> list[Doc]:
        """The caller's tokens; an admin's: the organisation's."""
        return self.stores.gateway.tokens(identity.org_id, None if may_administer(identity) else identity.user_id)

    def revoke(self, identity: Identity, token_id: str) -> None:
        """Revoke a token, named by its id or by the token itself."""
        if is_gateway_token(token_id):
            found = self.stores.gateway.token_by_digest(digest(token_id))
            token_id = found["id"] if found else token_id
        owner = None if may_administer(identity) else identity.user_id
        if not self.stores.gateway.revoke_token(identity.org_id, token_id, owner, utcnow()):
            raise NotFound(f"No such gateway token: {token_id}")
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if not v[1] or v[1]["id"] != token_id}

    def verify(self, token: str, *, cached_only: bool = False) -> Doc | None:
        """The live token's record; a revoked one stops working within ``cache_sec`` on other replicas, at once on
        this one. ``cached_only``: None when the record was not read in the last ``cache_sec`` (no query made)."""
        key = digest(token)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is None or now - cached[0] >= self.cache_sec:
            if cached_only:
                return None
            cached = (now, self.stores.gateway.token_by_digest(key))
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = cached
        record = cached[1]
        if record is None or record["revoked"]:
            raise InvalidToken("Unknown or revoked gateway token")
        expires = record["expires"]
        if expires is not None and parse_iso(expires) <= utcnow():
            raise InvalidToken("Gateway token expired")
        return record

    def count_call(self, record: Doc) -> None:
        """Count a call against the token's rate limit; over it, 429 with when to try again."""
        now = self.clock()
        calls = self.counters.add(f"gateway:{record['id']}", now, RATE_WINDOW_SEC)
        if calls > record["rate_per_minute"]:
            raise TooManyRequests(
                f"Over this token's limit of {record['rate_per_minute']} calls per minute",
                retry_after=int(RATE_WINDOW_SEC),
            )

    def check_quota(self, record: Doc) -> None:
        """Refuse another run when the token's runs today (UTC) reached its daily quota."""
        now = utcnow()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.stores.gateway.runs_since(record["id"], midnight) >= record["daily_runs"]:
            retry = math.ceil((midnight + timedelta(days=1) - now).total_seconds())
            raise TooManyRequests(
                f"This token's {record['daily_runs']} runs for today are used up", retry_after=max(retry, 1)
            )
