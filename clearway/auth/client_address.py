"""The client's address: the peer's, or behind trusted reverse proxies the one they forwarded.

``X-Forwarded-For`` is read only when the peer is a trusted proxy, and from the right: each trusted proxy appends
the address it saw, so the right-most address that is not a trusted proxy is the client. Anything to its left
was written by the client and proves nothing.

There is always an answer: when the client's hop is empty or the peer is unknown it is :data:`UNKNOWN`, which is
no address, so that every allowlist refuses it (an address we cannot read never skips a check).
"""

from __future__ import annotations

from collections.abc import Iterable

from clearway.domain.allowlists import Network, parse_address, parse_networks

UNKNOWN = "unknown"


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted: tuple[Network, ...] = tuple(parse_networks(list(trusted_proxies)))

    def resolve(self, peer: str | None, forwarded_for: list[str]) -> str:
        """The client address; ``forwarded_for`` are the X-Forwarded-For header values in order."""
        if not self._is_trusted(peer):
            return peer or UNKNOWN
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop or UNKNOWN
        # Every hop is a trusted proxy: the left-most one is as close to the client as we can tell.
        return hops[0] if hops else peer or UNKNOWN

    def _is_trusted(self, address: str | None) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed in net for net in self.trusted)
