"""Models: registration, edits, publishing (alone or with their task), archiving, deletion and lineage.

A model is ``ready`` once published. Its fields stay editable, its weights (``uri``) included, as on ClearML's
server: the SDK's default background upload sets the real ``uri`` after an ``OutputModel.publish()`` that came at
once. Publishing a task publishes its output models in the same transaction (a hook on
:class:`~clearway.domain.tasks.Tasks`), as ClearML does.
Lineage: the model's ``task`` is the task that made it; the task lists it in ``models.output``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from clearway.domain import task_fields
from clearway.domain.access import read_scope, write_scope
from clearway.domain.documents import project_fields
from clearway.domain.identity import Identity
from clearway.domain.ids import new_id
from clearway.domain.query import ListQuery
from clearway.domain.task_status import Status
from clearway.domain.tasks import Tasks
from clearway.errors import InvalidModelId, InvalidProjectId, InvalidTaskId, ModelIsReady, ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.timeutil import now_iso

ARCHIVED = "archived"
SETTABLE = frozenset(
    {
        "name",
        "uri",
        "comment",
        "framework",
        "design",
        "labels",
        "ready",
        "task",
        "project",
        "parent",
        "tags",
        "system_tags",
        "iteration",
        "metadata",
    }
)


class Models:
    def __init__(self, stores: Stores, tasks: Tasks) -> None:
        self.stores = stores
        self.tasks = tasks
        tasks.on_publish.append(self._publish_outputs)

    # reads
    def get(self, identity: Identity, model_id: str) -> Doc:
        doc = self.stores.models.get(read_scope(identity), model_id) if isinstance(model_id, str) else None
        if doc is None:
            raise InvalidModelId(id=model_id)
        return doc

    def list(self, identity: Identity, query: ListQuery, only_fields: list[str] | None) -> list[Doc]:
        return [project_fields(doc, only_fields) for doc in self.stores.models.query(read_scope(identity), query)]

    def output_of(self, identity: Identity, task_id: str) -> Doc | None:
        """The task's latest output model."""
        outputs = (self.tasks.get(identity, task_id).get("models") or {}).get("output") or []
        for entry in reversed(outputs):
            doc = self.stores.models.get(read_scope(identity), entry.get("model"))
            if doc is not None:
                return doc
        return None

    # changes
    def create(self, identity: Identity, fields: dict[str, Any]) -> Doc:
        fields = _normalise(fields)
        if not fields.get("name"):
            raise ValidationFailed("model name is required")
        now = now_iso()
        doc: Doc = {
            "id": new_id(),
            "name": "",
            "uri": "",
            "comment": "",
            "framework": None,
            "design": {},
            "labels": {},
            "ready": False,
            "task": None,
            "project": None,
            "parent": None,
            "tags": [],
            "system_tags": [],
            "metadata": {},
            "user": identity.user_id,
            "company": identity.org_id,
            "created": now,
            "last_update": now,
            **fields,
        }
        with self.stores.transaction():
            self._check_references(identity, doc)
            if doc["task"] and not doc["project"]:
                doc["project"] = self.tasks.get(identity, doc["task"]).get("project")
            return self.stores.models.insert(identity.org_id, identity.user_id, doc)

    def edit(self, identity: Identity, model_id: str, fields: dict[str, Any]) -> Doc:
        fields = _normalise(fields)

        def mutate(doc: Doc) -> Doc:
            new = {**doc, **fields, "last_update": now_iso()}
            self._check_references(identity, new)
            return new

        return self._mutate(identity, model_id, mutate)

    def set_ready(
        self, identity: Identity, model_id: str, *, publish_task: bool, force_publish_task: bool = False
    ) -> tuple[bool, Doc | None]:
        """Publish the model (and, if asked, the task that made it): whether it changed, and the task published."""
        with self.stores.transaction():
            changed = not self.get(identity, model_id).get("ready")
            doc = self._mutate(identity, model_id, _ready)
            task_id = doc.get("task")
            if not publish_task or not task_id:
                return changed, None
            task = self.tasks.get(identity, task_id)
            if task.get("status") == Status.PUBLISHED:
                return changed, None
            return changed, self.tasks.change_status(identity, task_id, Status.PUBLISHED, force=force_publish_task)

    def set_archived(self, identity: Identity, model_id: str, archived: bool) -> Doc:
        def mutate(doc: Doc) -> Doc:
            tags = [t for t in doc.get("system_tags") or [] if t != ARCHIVED]
            if archived:
                tags.append(ARCHIVED)
            return {**doc, "system_tags": tags, "last_update": now_iso()}

        return self._mutate(identity, model_id, mutate)

    def delete(self, identity: Identity, model_id: str, *, force: bool) -> Doc:
        """Delete the record (never the weights file: clients delete that themselves) and unlink its task."""
        scope = write_scope(identity)
        with self.stores.transaction():
            doc = self.stores.models.get(scope, model_id) if isinstance(model_id, str) else None
            if doc is None:
                raise InvalidModelId(id=model_id)
            if doc.get("ready") and not force:
                raise ModelIsReady("The model is published; pass force to delete it", id=model_id)
            if doc.get("task"):
                self.stores.tasks.update(scope, doc["task"], lambda task: _without_output(task, model_id))
            self.stores.models.delete(scope, model_id)
        return doc

    def set_metadata(self, identity: Identity, model_id: str, items: list[dict[str, Any]], replace: bool) -> Doc:
        entries = _metadata(items)

        def mutate(doc: Doc) -> Doc:
            current = {} if replace else copy.deepcopy(doc.get("metadata") or {})
            return {**doc, "metadata": {**current, **entries}, "last_update": now_iso()}

        return self._mutate(identity, model_id, mutate)

    def delete_metadata(self, identity: Identity, model_id: str, keys: list[str]) -> Doc:
        def mutate(doc: Doc) -> Doc:
            kept = {k: v for k, v in (doc.get("metadata") or {}).items() if k not in keys}
            return {**doc, "metadata": kept, "last_update": now_iso()}

        return self._mutate(identity, model_id, mutate)

    # lineage
    def attach_to_task(self, identity: Identity, task_id: str, kind: str, name: str, model_id: str) -> None:
        """``tasks.add_or_update_model``: the task uses (input) or made (output) a model the caller can see."""
        with self.stores.transaction():
            self.get(identity, model_id)
            self.tasks.mutate(identity, task_id, lambda doc: task_fields.upsert_model(doc, kind, name, model_id))

    def update_for_task(
        self, identity: Identity, task_id: str, fields: dict[str, Any], override_model_id: str | None
    ) -> tuple[Doc, bool]:
        """The legacy ``models.update_for_task``: set the task's output model, creating one if needed."""
        with self.stores.transaction():
            task = self.tasks.get(identity, task_id)
            if override_model_id:
                doc, created = self.get(identity, override_model_id), False
            else:
                current = self.output_of(identity, task_id)
                if current is not None and not current.get("ready"):
                    doc, created = self.edit(identity, current["id"], fields), False
                else:
                    if not fields.get("uri"):
                        raise ValidationFailed("uri is required to create the task's output model")
                    defaults = {"name": task.get("name"), "task": task_id, "project": task.get("project")}
                    doc, created = self.create(identity, {**defaults, **fields}), True
            self.attach_to_task(identity, task_id, "output", fields.get("name") or doc["name"], doc["id"])
        return doc, created

    def _publish_outputs(self, identity: Identity, task: Doc) -> None:
        """Publishing a task publishes the output models the caller may change."""
        scope = write_scope(identity)
        for entry in (task.get("models") or {}).get("output") or []:
            model_id = entry.get("model")
            if isinstance(model_id, str):
                self.stores.models.update(scope, model_id, _ready)

    def _mutate(self, identity: Identity, model_id: str, mutate: Callable[[Doc], Doc]) -> Doc:
        doc = None
        if isinstance(model_id, str):
            with self.stores.transaction():
                doc = self.stores.models.update(write_scope(identity), model_id, mutate)
        if doc is None:
            raise InvalidModelId(id=model_id)
        return doc

    def _check_references(self, identity: Identity, doc: Doc) -> None:
        scope = read_scope(identity)
        if doc.get("project") and self.stores.projects.get(scope, doc["project"]) is None:
            raise InvalidProjectId(id=doc["project"])
        if doc.get("task") and self.stores.tasks.get(scope, doc["task"]) is None:
            raise InvalidTaskId(id=doc["task"])
        if doc.get("parent") and self.stores.models.get(scope, doc["parent"]) is None:
            raise InvalidModelId("Invalid parent model id", id=doc["parent"])


def _ready(doc: Doc) -> Doc:
    if doc.get("ready"):
        return doc
    return {**doc, "ready": True, "last_update": now_iso()}


def _without_output(task: Doc, model_id: str) -> Doc:
    models = copy.deepcopy(task.get("models") or {})
    models["output"] = [m for m in models.get("output") or [] if m.get("model") != model_id]
    return {**task, "models": models}


def _normalise(fields: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in fields.items() if key in SETTABLE and value is not None}
    for key in ("tags", "system_tags"):
        if key in out and (not isinstance(out[key], list) or not all(isinstance(t, str) for t in out[key])):
            raise ValidationFailed(f"{key} must be a list of strings")
    if isinstance(out.get("design"), str):
        out["design"] = {"design": out["design"]}  # ClearML keeps the design text under one key
    for key in ("design", "labels"):
        if key in out and not isinstance(out[key], dict):
            raise ValidationFailed(f"{key} must be an object")
    if "metadata" in out:
        out["metadata"] = _metadata(out["metadata"])
    return out


def _metadata(items: Any) -> dict[str, Any]:
    """Metadata arrives as ``[{key, type, value}]`` and is kept (and returned) keyed by ``key``."""
    if isinstance(items, dict):
        items = list(items.values())
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("key"), str) for i in items):
        raise ValidationFailed("metadata must be a list of {key, type, value}")
    return {i["key"]: {k: i.get(k) for k in ("key", "type", "value")} for i in items}
