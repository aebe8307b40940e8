"""The OpenID Connect issuer's signing keys, fetched in the background and kept.

No request ever fetches them itself. The discovery document and the JWKS are fetched by one background thread at
a time: first when a token needs a key, again when the keys are older than ``REFRESH_SEC`` (the old ones serve
meanwhile) or a token names a key we do not have (at most once per ``MIN_REFETCH_SEC``, so that junk tokens cannot
make us hammer the issuer). A failed fetch is remembered for ``retry_sec``: until then no fetch is tried and
nobody waits. A request whose key is unknown waits for a fetch already under way for at most ``WAIT_SEC``, and only
``MAX_WAITERS`` requests wait at once; the others are refused at once ("retry later"). So an issuer that is slow or
down costs an OIDC request a few seconds at worst, and costs requests with other credentials nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt

from clearway.errors import InvalidToken

FETCH_TIMEOUT_SEC = 5.0
REFRESH_SEC = 300.0
MIN_REFETCH_SEC = 10.0
WAIT_SEC = 3.0
MAX_WAITERS = 4

Fetch = Callable[[str], Any]  # GET a URL, the parsed JSON body (raises on any failure)


class OidcKeys:
    def __init__(
        self,
        issuer: str,
        retry_sec: float,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.retry_sec = retry_sec
        self.fetch = fetch or _get_json
        self.clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._loaded_at: float | None = None
        self._tried_at: float | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._fetching = False
        self._changed = threading.Condition()
        self._waiters = threading.BoundedSemaphore(MAX_WAITERS)

    def key(self, kid: str) -> jwt.PyJWK:
        """The signing key named ``kid``; InvalidToken when the issuer does not publish it (or cannot be reached)."""
        with self._changed:
            key = self._keys.get(kid)
            self._start_fetch(urgent=key is None)
            if key is not None:
                return key
            fetching = self._fetching
        if fetching and self._waiters.acquire(blocking=False):
            try:
                with self._changed:
                    self._changed.wait_for(lambda: not self._fetching, timeout=WAIT_SEC)
                    key = self._keys.get(kid)
            finally:
                self._waiters.release()
        if key is not None:
            return key
        if self._failed_at is not None and (self._loaded_at is None or self._failed_at > self._loaded_at):
            raise InvalidToken(f"The identity provider cannot be reached ({self._failure}); retry later")
        raise InvalidToken("The token is signed with a key the identity provider does not publish")

    def _start_fetch(self, *, urgent: bool) -> None:
        """Start a background fetch if one is due (call with ``_changed`` held)."""
        now = self.clock()
        if self._fetching or (self._failed_at is not None and now - self._failed_at < self.retry_sec):
            return
        stale = self._loaded_at is None or now - self._loaded_at > REFRESH_SEC
        recently = self._tried_at is not None and now - self._tried_at < MIN_REFETCH_SEC
        if not (stale or (urgent and not recently)):
            return
        self._fetching = True
        self._tried_at = now
        threading.Thread(target=self._fetch_keys, name="oidc-keys", daemon=True).start()

    def _fetch_keys(self) -> None:
        keys: dict[str, jwt.PyJWK] | None = None
        failure = ""
        try:
            keys = self._download()
        except Exception as exc:  # noqa: BLE001 - any failure is the issuer's; it is remembered and reported
            failure = str(exc) or type(exc).__name__
            self._jwks_uri = None  # discover again next time
        with self._changed:
            if keys is not None:
                self._keys, self._loaded_at, self._failed_at = keys, self.clock(), None
            else:
                self._failed_at, self._failure = self.clock(), failure[:200]
            self._fetching = False
            self._changed.notify_all()

    def _download(self) -> dict[str, jwt.PyJWK]:
        if self._jwks_uri is None:
            discovery = self.fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer:
                raise ValueError("the discovery document does not match the issuer")
            if not isinstance(discovery.get("jwks_uri"), str):
                raise ValueError("the discovery document names no jwks_uri")
            self._jwks_uri = discovery["jwks_uri"]
        jwks = jwt.PyJWKSet.from_dict(self.fetch(self._jwks_uri))
        return {key.key_id: key for key in jwks.keys if key.key_id}


def _get_json(url: str) -> Any:
    import httpx  # here, not at the top: httpx imports its CLI (click, rich, pygments), 0.1 s of server start

    response = httpx.get(url, timeout=FETCH_TIMEOUT_SEC)
    response.raise_for_status()
    return response.json()
