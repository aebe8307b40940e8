"""Who may read or change what: every access rule lives here.

Stores never decide access; they take the :class:`Scope` computed here and apply it to every query.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearway.domain.identity import Identity, Role


@dataclass(frozen=True)
class Scope:
    """The records a caller may touch: one organisation, and within it either every owner or only some."""

    org_id: str
    owner_ids: frozenset[str] | None = None  # None: every owner in the organisation

    def allows_owner(self, owner_id: str) -> bool:
        return self.owner_ids is None or owner_id in self.owner_ids


def read_scope(identity: Identity) -> Scope:
    """What the caller may see. Admins and agents see their organisation; users see their own work."""
    if identity.role in (Role.ADMIN, Role.AGENT):
        return Scope(org_id=identity.org_id)
    return Scope(org_id=identity.org_id, owner_ids=frozenset({identity.user_id}))


def write_scope(identity: Identity) -> Scope:
    """What the caller may change; the same as what it may see until sharing exists."""
    return read_scope(identity)
