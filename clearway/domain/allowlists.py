"""Client address allowlists: CIDR ranges at the organisation, role and user level.

Each level with a non-empty list restricts: a caller's address must fall in every restricted level's list (the
organisation's, its role's and its own). An empty list places no restriction at that level.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearway.domain.access import may_administer
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Identity, Role
from clearway.errors import Forbidden, InvalidUserId, ValidationFailed
from clearway.store.base import Stores

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_RANGES = 1000  # per level and subject


class Level(StrEnum):
    ORG = "org"
    ROLE = "role"
    USER = "user"


def parse_address(text: str | None) -> Address | None:
    """An IP address, IPv4-mapped IPv6 addresses as IPv4; None when it is not an address."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(cidrs: list[str]) -> list[Network]:
    """CIDR ranges (a bare address is a range of one); host bits must be zero, as in ``10.0.0.0/8``."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(str(cidr).strip(), strict=True))
        except ValueError as exc:
            raise ValidationFailed(f"not a CIDR range: {cidr!r} ({exc})") from exc
    return networks


@dataclass(frozen=True)
class AddressPolicy:
    """The restricted levels that apply to one caller, each a tuple of networks."""

    levels: tuple[tuple[Network, ...], ...] = ()

    @classmethod
    def from_rules(cls, rules: list[tuple[str, str]]) -> AddressPolicy:
        by_level: dict[str, list[Network]] = {}
        for level, cidr in rules:
            by_level.setdefault(level, []).extend(parse_networks([cidr]))
        return cls(tuple(tuple(nets) for nets in by_level.values()))

    def allows(self, client_ip: str | None) -> bool:
        if not self.levels:
            return True
        address = parse_address(client_ip)
        if address is None:
            return False
        return all(any(address in net for net in nets) for nets in self.levels)


class Allowlists:
    """Reading and replacing an organisation's allowlists (admins only; every change is audited)."""

    def __init__(self, stores: Stores, audit: Audit) -> None:
        self.stores = stores
        self.audit = audit

    def show(self, identity: Identity) -> dict[str, Any]:
        """``{"org": [cidr...], "roles": {role: [...]}, "users": {user_id: [...]}}``."""
        self._check(identity)
        out: dict[str, Any] = {"org": [], "roles": {}, "users": {}}
        for rule in self.stores.allowlists.list(identity.org_id):
            if rule["level"] == Level.ORG:
                out["org"].append(rule["cidr"])
            else:
                out[f"{rule['level']}s"].setdefault(rule["subject"], []).append(rule["cidr"])
        return out

    def replace(self, identity: Identity, level: Level, subject: str | None, cidrs: list[str]) -> list[str]:
        """Make ``cidrs`` the whole list of that level (for a role: its name; for a user: its id)."""
        self._check(identity)
        if len(cidrs) > MAX_RANGES:
            raise ValidationFailed(f"at most {MAX_RANGES} ranges per list")
        normalised = list(dict.fromkeys(str(net) for net in parse_networks(cidrs)))
        subject = self._subject(identity, level, subject)
        with self.stores.transaction():
            self.stores.allowlists.replace(identity.org_id, level.value, subject, normalised)
            self.audit.record(
                Action.ALLOWLIST_SET,
                actor=identity,
                target=f"{level.value}:{subject}" if subject else "org",
                cidrs=normalised,
            )
        return normalised

    def _subject(self, identity: Identity, level: Level, subject: str | None) -> str:
        if level is Level.ORG:
            return ""
        if level is Level.ROLE:
            if subject not in {r.value for r in Role}:
                raise ValidationFailed(f"unknown role {subject!r}: use admin, user or agent")
            return str(subject)
        user = self.stores.identity.get_user(subject or "")
        if user is None or user["org_id"] != identity.org_id:
            raise InvalidUserId(id=subject)
        return user["id"]

    @staticmethod
    def _check(identity: Identity) -> None:
        if not may_administer(identity):
            raise Forbidden("Only admins manage address allowlists")
