"""Users, their roles, passwords and API keys, as an admin (or the operator's CLI) manages them.

Passwords and key secrets are kept only as argon2 hashes; a new key's secret is returned once, here, and never
again. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from clearway.auth.keys import KeyPair, generate_key_pair, hash_secret
from clearway.domain.access import may_administer
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Identity, Role
from clearway.errors import Conflict, Forbidden, NotFound, ValidationFailed
from clearway.store.base import Doc, Stores

MIN_PASSWORD_LENGTH = 8


def operator(org_id: str) -> Identity:
    """Who the command line acts as: the operator, with an admin's reach in one organisation."""
    return Identity(user_id="operator", user_name="operator (cli)", org_id=org_id, org_name="", role=Role.ADMIN)


class Accounts:
    def __init__(self, stores: Stores, audit: Audit) -> None:
        self.stores = stores
        self.audit = audit

    def users(self, identity: Identity) -> list[Doc]:
        self._admin(identity)
        return self.stores.identity.list_users(identity.org_id)

    def user(self, identity: Identity, user_id: str) -> Doc:
        self._admin(identity)
        user = self.stores.identity.get_user(user_id)
        if user is None or user["org_id"] != identity.org_id:
            raise NotFound(f"No user {user_id} in this organisation")
        return user

    def create_user(self, identity: Identity, name: str, role: Role, password: str | None = None) -> Doc:
        self._admin(identity)
        name = _clean_name(name)
        password_hash = hash_secret(_check_password(password)) if password is not None else None
        with self.stores.transaction():
            # Names are unique across the server: the same answer whichever organisation has the name.
            if self.stores.identity.find_user(name) is not None:
                raise Conflict(f"A user named {name!r} already exists (names are unique across the server)")
            user = self.stores.identity.create_user(identity.org_id, name, role.value, password_hash)
            self.audit.record(Action.USER_CREATE, actor=identity, target=user["id"], name=name, new_role=role.value)
        return user

    def set_role(self, identity: Identity, user_id: str, role: Role) -> Doc:
        with self.stores.transaction():
            user = self.user(identity, user_id)
            if user["role"] == role.value:
                return user
            if user["role"] == Role.ADMIN and self._admins(identity.org_id) <= 1:
                raise Conflict("An organisation keeps at least one admin")
            self.stores.identity.set_role(user_id, role.value)
            self.audit.record(Action.USER_ROLE, actor=identity, target=user_id, old=user["role"], new=role.value)
        return self.user(identity, user_id)

    def set_password(self, identity: Identity, user_id: str, password: str | None) -> None:
        """Set (or with None, remove) the user's password."""
        password_hash = hash_secret(_check_password(password)) if password is not None else None
        with self.stores.transaction():
            self.user(identity, user_id)
            self.stores.identity.set_password(user_id, password_hash)
            self.audit.record(Action.USER_PASSWORD, actor=identity, target=user_id, removed=password is None)

    def keys(self, identity: Identity, user_id: str) -> list[Doc]:
        self.user(identity, user_id)
        return self.stores.identity.list_keys(user_id)

    def create_key(self, identity: Identity, user_id: str) -> KeyPair:
        pair = generate_key_pair()
        with self.stores.transaction():
            self.user(identity, user_id)
            self.stores.identity.add_key(user_id, pair.access_key, hash_secret(pair.secret_key))
            self.audit.record(Action.KEY_CREATE, actor=identity, target=pair.access_key, user=user_id)
        return pair

    def revoke_key(self, identity: Identity, access_key: str) -> None:
        self._admin(identity)
        with self.stores.transaction():
            record = self.stores.identity.get_key(access_key)
            if record is None or record.identity.org_id != identity.org_id or record.revoked:
                raise NotFound(f"No active key {access_key}")
            self.stores.identity.revoke_key(access_key)
            self.audit.record(Action.KEY_REVOKE, actor=identity, target=access_key, user=record.identity.user_id)

    def names(self, identity: Identity, user_ids: set[str]) -> dict[str, str]:
        """The names of the given users of the caller's organisation (the owners of records the caller sees)."""
        out = {}
        for user_id in user_ids:
            user = self.stores.identity.get_user(user_id) if user_id else None
            if user is not None and user["org_id"] == identity.org_id:
                out[user_id] = user["name"]
        return out

    # A user's own keys (the web UI's settings page): anyone but an agent acting for a user manages their own.
    def own_keys(self, identity: Identity) -> list[Doc]:
        return self.stores.identity.list_keys(identity.user_id)

    def create_own_key(self, identity: Identity) -> KeyPair:
        self._not_acting(identity)
        pair = generate_key_pair()
        with self.stores.transaction():
            self.stores.identity.add_key(identity.user_id, pair.access_key, hash_secret(pair.secret_key))
            self.audit.record(Action.KEY_CREATE, actor=identity, target=pair.access_key, user=identity.user_id)
        return pair

    def revoke_own_key(self, identity: Identity, access_key: str) -> None:
        self._not_acting(identity)
        with self.stores.transaction():
            record = self.stores.identity.get_key(access_key)
            if record is None or record.identity.user_id != identity.user_id or record.revoked:
                raise NotFound(f"No active key {access_key} of yours")
            self.stores.identity.revoke_key(access_key)
            self.audit.record(Action.KEY_REVOKE, actor=identity, target=access_key, user=identity.user_id)

    @staticmethod
    def _not_acting(identity: Identity) -> None:
        if identity.impersonator is not None:
            raise Forbidden("An agent acting for a user cannot manage the user's keys")

    def _admins(self, org_id: str) -> int:
        return sum(1 for user in self.stores.identity.list_users(org_id) if user["role"] == Role.ADMIN)

    @staticmethod
    def _admin(identity: Identity) -> None:
        if not may_administer(identity):
            raise Forbidden("Only admins manage users and keys")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200 or ":" in name:
        raise ValidationFailed("a user name has 1 to 200 characters and no ':'")
    return name


def _check_password(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password
