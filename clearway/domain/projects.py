"""Projects: creation with implicit parents, lookup, update and deletion."""

from __future__ import annotations

import re
from typing import Any

from clearway.domain.access import manage_scope, may_create_project, read_scope, write_scope
from clearway.domain.documents import MAX_NAME, check_lengths, project_fields
from clearway.domain.identity import Identity
from clearway.domain.ids import new_id
from clearway.domain.query import ListQuery
from clearway.errors import ClearwayError, Forbidden, InvalidProjectId, ProjectExists, ProjectNotEmpty, ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.timeutil import now_iso

EDITABLE = ("name", "description", "tags", "system_tags", "default_output_destination")


class Projects:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def create(self, identity: Identity, fields: dict[str, Any]) -> Doc:
        name = _clean_name(fields.get("name"))
        if not may_create_project(identity, name, self._acting_project_name(identity)):
            raise Forbidden("Acting for a task's owner, projects are created only below that task's project")
        with self.stores.transaction():
            if self._find_by_name(identity, name) is not None:
                raise ProjectExists(f"Project named {name!r} already exists")
            self._ensure_parents(identity, name)
            return self._insert(identity, name, fields)

    def get(self, identity: Identity, project_id: str) -> Doc:
        doc = self.stores.projects.get(read_scope(identity), project_id)
        if doc is None:
            raise InvalidProjectId(id=project_id)
        return doc

    def list(self, identity: Identity, query: ListQuery, only_fields: list[str] | None) -> list[Doc]:
        docs = self.stores.projects.query(read_scope(identity), query)
        return [project_fields(doc, only_fields) for doc in docs]

    def update(self, identity: Identity, project_id: str, fields: dict[str, Any]) -> Doc:
        changes = {k: v for k, v in fields.items() if k in EDITABLE and v is not None}
        if "name" in changes:
            changes["name"] = _clean_name(changes["name"])
            changes["basename"] = changes["name"].rsplit("/", 1)[-1]

        def mutate(doc: Doc) -> Doc:
            return {**doc, **changes, "last_update": now_iso()}

        if identity.acting_task is not None and project_id == identity.acting_project:
            # Running a task never needs to change its project (its output destination above all).
            raise Forbidden("Acting for a task's owner, the task's own project cannot be changed")
        with self.stores.transaction():
            if "name" in changes:
                existing = self._find_by_name(identity, changes["name"])
                if existing is not None and existing["id"] != project_id:
                    raise ProjectExists(f"Project named {changes['name']!r} already exists")
            # Renaming, like deleting, is the owner's; a read-write share changes the rest.
            scope = manage_scope(identity) if "name" in changes else write_scope(identity)
            doc = self.stores.projects.update(scope, project_id, mutate)
        if doc is None:
            raise self._not_changeable(identity, project_id)
        return doc

    def delete(self, identity: Identity, project_id: str, *, force: bool, delete_contents: bool) -> dict[str, int]:
        scope = manage_scope(identity)
        with self.stores.transaction():
            if self.stores.projects.get(scope, project_id) is None:
                raise self._not_changeable(identity, project_id)
            tasks = self.stores.tasks.query(scope, ListQuery(equals={"project": [project_id]}, search_hidden=True))
            if tasks and not force:
                raise ProjectNotEmpty(f"Project has {len(tasks)} tasks")
            deleted_tasks = 0
            for task in tasks:
                if delete_contents:
                    self.stores.events.delete_task_events(task["id"])
                    deleted_tasks += int(self.stores.tasks.delete(scope, task["id"]))
                else:
                    self.stores.tasks.update(scope, task["id"], lambda doc: {**doc, "project": None})
            self.stores.projects.delete(scope, project_id)
        return {"deleted": 1, "deleted_tasks": deleted_tasks, "disassociated_tasks": len(tasks) - deleted_tasks}

    def _acting_project_name(self, identity: Identity) -> str | None:
        if identity.acting_project is None:
            return None
        project = self.stores.projects.get(read_scope(identity), identity.acting_project)
        return project["name"] if project else None

    def _not_changeable(self, identity: Identity, project_id: str) -> ClearwayError:
        if self.stores.projects.get(read_scope(identity), project_id) is not None:
            return Forbidden("The project is shared with you; only its owner may do this")
        return InvalidProjectId(id=project_id)

    def _find_by_name(self, identity: Identity, name: str) -> Doc | None:
        # Names are unique per owner: look in the caller's own projects.
        own = ListQuery(name=f"^{re.escape(name)}$", search_hidden=True, equals={"owner_id": [identity.user_id]})
        found = self.stores.projects.query(read_scope(identity), own)
        return found[0] if found else None

    def _ensure_parents(self, identity: Identity, name: str) -> None:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if self._find_by_name(identity, parent) is None:
                self._insert(identity, parent, {})

    def _insert(self, identity: Identity, name: str, fields: dict[str, Any]) -> Doc:
        now = now_iso()
        doc = {
            "id": new_id(),
            "name": name,
            "basename": name.rsplit("/", 1)[-1],
            "description": fields.get("description") or "",
            "user": identity.user_id,
            "company": identity.org_id,
            "created": now,
            "last_update": now,
            "tags": list(fields.get("tags") or []),
            "system_tags": list(fields.get("system_tags") or []),
            "default_output_destination": fields.get("default_output_destination"),
        }
        return self.stores.projects.insert(identity.org_id, identity.user_id, doc)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("project name is required")
    parts = [part.strip() for part in name.split("/")]
    if any(not part for part in parts):
        raise ValidationFailed(f"invalid project name {name!r}")
    cleaned = "/".join(parts)
    check_lengths({"name": cleaned}, {"name": MAX_NAME}, "project")
    return cleaned
