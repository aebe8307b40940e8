"""Tasks: creation, edits with ClearML's merge rules, status changes, reset and clone."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from clearway.domain import notifications, task_fields
from clearway.domain.access import Scope, may_create_outside_projects, read_scope, write_scope
from clearway.domain.documents import MAX_NAME, check_lengths, merge_one_level, project_fields
from clearway.domain.identity import Identity
from clearway.domain.ids import new_id
from clearway.domain.query import ListQuery
from clearway.domain.task_status import LOCKED, Status, apply_status, check_transition
from clearway.errors import (
    ClearwayError,
    Forbidden,
    InvalidProjectId,
    InvalidTaskId,
    InvalidTaskStatus,
    ValidationFailed,
)
from clearway.store.base import Doc, Stores
from clearway.timeutil import now_iso, utcnow

TASK_TYPES = frozenset(
    {
        "training",
        "testing",
        "inference",
        "data_processing",
        "application",
        "monitor",
        "controller",
        "optimizer",
        "service",
        "qc",
        "custom",
    }
)
# Fields a client may set on create and edit; everything else is the server's.
SETTABLE = frozenset(
    {
        "name",
        "type",
        "comment",
        "project",
        "parent",
        "tags",
        "system_tags",
        "script",
        "execution",
        "output",
        "hyperparams",
        "configuration",
        "runtime",
        "models",
        "container",
        "input",
    }
)
# Replaced whole by tasks.edit, never merged (wire contract section 8).
REPLACED_WHOLE = frozenset({"hyperparams", "configuration", "runtime", "tags", "system_tags"})

TaskHook = Callable[[Identity, Doc], None]


class Tasks:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        # Called inside the transaction that publishes a task (the models service publishes its output models).
        self.on_publish: list[TaskHook] = []

    # reads
    def get(self, identity: Identity, task_id: str) -> Doc:
        doc = self.stores.tasks.get(read_scope(identity), task_id) if isinstance(task_id, str) else None
        if doc is None:
            raise InvalidTaskId(id=task_id)
        return doc

    def list(self, identity: Identity, query: ListQuery, only_fields: list[str] | None) -> list[Doc]:
        return [project_fields(doc, only_fields) for doc in self.stores.tasks.query(read_scope(identity), query)]

    # creation
    def create(self, identity: Identity, fields: dict[str, Any]) -> Doc:
        fields = _normalise(fields)
        if not fields.get("name"):
            raise ValidationFailed("task name is required")
        if not fields.get("type"):
            raise ValidationFailed("task type is required")
        now = now_iso()
        doc: Doc = {
            "id": new_id(),
            "name": "",
            "type": "",
            "user": identity.user_id,
            "company": identity.org_id,
            "status": Status.CREATED.value,
            "status_reason": "",
            "status_message": "",
            "status_changed": now,
            "comment": "",
            "created": now,
            "last_update": now,
            "last_change": now,
            "project": None,
            "parent": None,
            "tags": [],
            "system_tags": [],
            "script": {},
            "execution": {"parameters": {}, "artifacts": []},
            "output": {},
            "hyperparams": {},
            "configuration": {},
            "runtime": {},
            "models": {"input": [], "output": []},
            "container": {},
            "last_iteration": 0,
            "last_metrics": {},
        }
        doc = merge_one_level(doc, fields, REPLACED_WHOLE)
        with self.stores.transaction():
            self._check_references(identity, doc)
            notifications.task_created(self.stores, doc)
            return self.stores.tasks.insert(identity.org_id, identity.user_id, doc)

    # changes
    def edit(self, identity: Identity, task_id: str, fields: dict[str, Any], *, force: bool) -> Doc:
        fields = _normalise(fields)

        def mutate(doc: Doc) -> Doc:
            if not force and doc["status"] != Status.CREATED:
                raise InvalidTaskStatus(
                    "Task can only be edited in status created (or with force)", status=doc["status"]
                )
            new = merge_one_level(doc, fields, REPLACED_WHOLE)
            self._check_references(identity, new, before=doc)
            return _touched(new)

        return self.mutate(identity, task_id, mutate)

    def mutate(
        self, identity: Identity, task_id: str, mutate: Callable[[Doc], Doc], scope: Scope | None = None
    ) -> Doc:
        """Apply ``mutate`` to the task atomically, with the caller's write scope (or ``scope``)."""
        with self.stores.transaction():
            doc = self.stores.tasks.update(scope or write_scope(identity), task_id, mutate)
        if doc is None:
            raise self.why_not_writable(identity, task_id)
        return doc

    def change_status(
        self,
        identity: Identity,
        task_id: str,
        target: Status,
        *,
        force: bool = False,
        reason: str | None = None,
        message: str | None = None,
        also: Callable[[Doc], Doc] | None = None,
    ) -> Doc:
        previous: list[str] = []

        def mutate(doc: Doc) -> Doc:
            check_transition(doc["status"], target, force=force)
            previous.append(doc["status"])
            new = apply_status(doc, target, reason=reason, message=message)
            return also(new) if also else new

        with self.stores.transaction():
            # Only queued tasks wait in a queue (stopping or resetting one takes it out). The entry goes first:
            # the lock order of domain/dispatch.py.
            left = self.stores.queue_entries.remove(task_id) if target is not Status.QUEUED else None
            doc = self.mutate(identity, task_id, mutate)
            notifications.task_status_changed(self.stores, previous[-1], doc)
            if left is not None:
                self.stores.queue_entries.record_metrics(left.queue, utcnow())
            if target is Status.PUBLISHED:
                for hook in self.on_publish:
                    hook(identity, doc)
        return doc

    def reset(self, identity: Identity, task_id: str, *, force: bool, clear_all: bool) -> Doc:
        """Back to ``created``, without its outputs (its events and models: see domain/task_outputs.py)."""

        def clear(doc: Doc) -> Doc:
            doc = copy.deepcopy(doc)
            execution = doc.setdefault("execution", {})
            execution["artifacts"] = [a for a in execution.get("artifacts") or [] if a.get("mode") == "input"]
            execution.pop("queue", None)
            doc["models"] = {**(doc.get("models") or {}), "output": []}
            for key in ("started", "completed", "published", "enqueue_status"):
                doc.pop(key, None)
            doc["last_iteration"] = 0
            doc["last_metrics"] = {}
            if clear_all:
                doc["runtime"] = {}
            return doc

        with self.stores.transaction():
            self.check_resettable(self.get_writable(identity, task_id), force=force)
            return self.change_status(identity, task_id, Status.CREATED, force=True, also=clear)

    @staticmethod
    def check_resettable(doc: Doc, *, force: bool) -> None:
        if doc["status"] in LOCKED and not force:
            raise InvalidTaskStatus("Published tasks cannot be reset", status=doc["status"])

    def clone(self, identity: Identity, task_id: str, overrides: dict[str, Any]) -> Doc:
        source = self.get(identity, task_id)
        fields = {key: copy.deepcopy(source[key]) for key in SETTABLE if key in source}
        fields["execution"] = {
            **(fields.get("execution") or {}),
            "artifacts": [
                a for a in (source.get("execution") or {}).get("artifacts") or [] if a.get("mode") == "input"
            ],
        }
        fields["execution"].pop("queue", None)
        fields["models"] = {"input": (source.get("models") or {}).get("input") or [], "output": []}
        fields["name"] = overrides.get("name") or f"{source['name']} (clone)"
        fields["parent"] = overrides.get("parent") or source["id"]
        fields["system_tags"] = [t for t in fields.get("system_tags") or [] if t not in ("archived",)]
        for key in ("comment", "tags", "system_tags", "project", "hyperparams", "configuration", "container"):
            if overrides.get(key) is not None:
                fields[key] = overrides[key]
        if overrides.get("execution"):
            fields["execution"] = {**fields["execution"], **overrides["execution"]}
        return self.create(identity, fields)

    def get_writable(self, identity: Identity, task_id: str) -> Doc:
        """The task, when the caller may change it; else the reason it may not. Not locked: a change that follows
        locks the queue entry first, then the task (the lock order of domain/dispatch.py)."""
        doc = self.stores.tasks.get(write_scope(identity), task_id) if isinstance(task_id, str) else None
        if doc is None:
            raise self.why_not_writable(identity, task_id)
        return doc

    def remove(self, identity: Identity, task_id: str) -> None:
        """Delete the task's document (its outputs first: see domain/task_outputs.py)."""
        if not self.stores.tasks.delete(write_scope(identity), task_id):
            raise self.why_not_writable(identity, task_id)

    def add_system_tag(self, identity: Identity, task_id: str, tag: str) -> Doc:
        def mutate(doc: Doc) -> Doc:
            tags = list(doc.get("system_tags") or [])
            if tag not in tags:
                tags.append(tag)
            return _touched({**doc, "system_tags": tags})

        return self.mutate(identity, task_id, mutate)

    def why_not_writable(self, identity: Identity, task_id: Any) -> ClearwayError:
        """Why a write found no task: the caller may only read it, or it is not there for the caller."""
        if isinstance(task_id, str) and self.stores.tasks.get(read_scope(identity), task_id) is not None:
            return Forbidden("You may read this task but not change it")
        return InvalidTaskId(id=task_id)

    def _check_references(self, identity: Identity, doc: Doc, before: Doc | None = None) -> None:
        if doc.get("type") and doc["type"] not in TASK_TYPES:
            raise ValidationFailed(f"invalid task type {doc['type']!r}", allowed=sorted(TASK_TYPES))
        parent = doc.get("parent")
        if parent and (before is None or before.get("parent") != parent):
            # A task names as its parent only a task the caller can see.
            if not isinstance(parent, str) or self.stores.tasks.get(read_scope(identity), parent) is None:
                raise InvalidTaskId("Invalid parent task id", id=parent)
        project = doc.get("project")
        moved = before is None or before.get("project") != project
        # A task goes only into a project the caller may write to (its own, or one shared read-write).
        if project and moved and self.stores.projects.get(write_scope(identity), project) is None:
            raise InvalidProjectId(id=project)
        if not project and before is None and not may_create_outside_projects(identity):
            raise Forbidden("Acting for a task's owner, tasks are created only in that task's project")


def _normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """Keep settable fields; ``output_dest`` is stored as ``output.destination`` as ClearML does."""
    out = {key: value for key, value in fields.items() if key in SETTABLE and value is not None}
    if fields.get("output_dest") is not None:
        out["output"] = {**(out.get("output") or {}), "destination": fields["output_dest"]}
    for key in ("tags", "system_tags"):
        if key in out and (not isinstance(out[key], list) or not all(isinstance(t, str) for t in out[key])):
            raise ValidationFailed(f"{key} must be a list of strings")
    check_lengths(out, {"name": MAX_NAME}, "task")
    for key in ("script", "execution", "output", "hyperparams", "configuration", "runtime", "models", "container"):
        if key in out and not isinstance(out[key], dict):
            raise ValidationFailed(f"{key} must be an object")
    for key, depth in (("hyperparams", 2), ("configuration", 1)):
        if key in out:
            out[key] = task_fields.values_as_text(out[key], depth)
    return out


def _touched(doc: Doc) -> Doc:
    now = now_iso()
    return {**doc, "last_update": now, "last_change": now}
