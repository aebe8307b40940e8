"""Groups of users, and projects shared read-only or read-write with users and groups.

A share covers the project, its subprojects (a project's datasets live in ``P/.datasets/…``) and everything in
them: tasks, models, datasets, their events. The Authenticator reads the caller's shares into its Identity
(``shared_read``/``shared_write``) and :mod:`clearway.domain.access` turns them into scopes.
"""

from __future__ import annotations

from enum import StrEnum

from clearway.domain.access import may_administer, may_share_project, read_scope
from clearway.domain.audit import Action, Audit
from clearway.domain.identity import Identity
from clearway.errors import Forbidden, InvalidProjectId, InvalidUserId, NotFound, ValidationFailed
from clearway.store.base import Doc, Stores


class ShareMode(StrEnum):
    READ = "read"
    WRITE = "write"


class GranteeType(StrEnum):
    USER = "user"
    GROUP = "group"


class Sharing:
    def __init__(self, stores: Stores, audit: Audit) -> None:
        self.stores = stores
        self.audit = audit

    # groups (admins)
    def list_groups(self, identity: Identity) -> list[Doc]:
        self._admin(identity)
        return self.stores.sharing.list_groups(identity.org_id)

    def get_group(self, identity: Identity, group_id: str) -> Doc:
        self._admin(identity)
        return self._group(identity, group_id)

    def create_group(self, identity: Identity, name: str) -> Doc:
        self._admin(identity)
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise ValidationFailed("a group needs a name of 1 to 200 characters")
        with self.stores.transaction():
            group = self.stores.sharing.create_group(identity.org_id, name)
            self.audit.record(Action.GROUP_CREATE, actor=identity, target=group["id"], name=name)
        return group

    def delete_group(self, identity: Identity, group_id: str) -> None:
        self._admin(identity)
        with self.stores.transaction():
            group = self._group(identity, group_id)
            self.stores.sharing.delete_group(identity.org_id, group_id)
            self.audit.record(Action.GROUP_DELETE, actor=identity, target=group_id, name=group["name"])

    def set_member(self, identity: Identity, group_id: str, user_id: str, member: bool) -> Doc:
        self._admin(identity)
        with self.stores.transaction():
            self._group(identity, group_id)
            self._user(identity, user_id)
            if self.stores.sharing.set_member(identity.org_id, group_id, user_id, member):
                action = Action.GROUP_MEMBER_ADD if member else Action.GROUP_MEMBER_REMOVE
                self.audit.record(action, actor=identity, target=group_id, user=user_id)
            return self._group(identity, group_id)

    # shares (the project's owner, or an admin)
    def shares(self, identity: Identity, project_id: str) -> list[Doc]:
        self._shareable(identity, project_id)
        return self.stores.sharing.shares_of(identity.org_id, project_id)

    def share(
        self, identity: Identity, project_id: str, grantee_type: GranteeType, grantee_id: str, mode: ShareMode
    ) -> list[Doc]:
        with self.stores.transaction():
            project = self._shareable(identity, project_id)
            self._grantee(identity, grantee_type, grantee_id, project)
            self.stores.sharing.share(
                identity.org_id, project_id, grantee_type.value, grantee_id, mode.value, identity.user_id
            )
            self.audit.record(
                Action.SHARE_GRANT,
                actor=identity,
                target=project_id,
                grantee=f"{grantee_type.value}:{grantee_id}",
                mode=mode.value,
            )
        return self.stores.sharing.shares_of(identity.org_id, project_id)

    def unshare(self, identity: Identity, project_id: str, grantee_type: GranteeType, grantee_id: str) -> None:
        with self.stores.transaction():
            self._shareable(identity, project_id)
            if not self.stores.sharing.unshare(identity.org_id, project_id, grantee_type.value, grantee_id):
                raise NotFound(f"The project is not shared with that {grantee_type.value}")
            self.audit.record(
                Action.SHARE_REVOKE, actor=identity, target=project_id, grantee=f"{grantee_type.value}:{grantee_id}"
            )

    # checks
    def _shareable(self, identity: Identity, project_id: str) -> Doc:
        project = self.stores.projects.get(read_scope(identity), project_id)
        if project is None:
            raise InvalidProjectId(id=project_id)
        if not may_share_project(identity, project):
            raise Forbidden("Only the project's owner or an admin shares it")
        return project

    def _grantee(self, identity: Identity, grantee_type: GranteeType, grantee_id: str, project: Doc) -> None:
        if grantee_type is GranteeType.GROUP:
            self._group(identity, grantee_id)
            return
        self._user(identity, grantee_id)
        if grantee_id == project.get("user"):
            raise ValidationFailed("A project is not shared with its own owner")

    def _group(self, identity: Identity, group_id: str) -> Doc:
        group = self.stores.sharing.get_group(identity.org_id, group_id)
        if group is None:
            raise NotFound(f"No group {group_id} in this organisation")
        return group

    def _user(self, identity: Identity, user_id: str) -> None:
        user = self.stores.identity.get_user(user_id)
        if user is None or user["org_id"] != identity.org_id:
            raise InvalidUserId(id=user_id)

    @staticmethod
    def _admin(identity: Identity) -> None:
        if not may_administer(identity):
            raise Forbidden("Only admins manage groups")
