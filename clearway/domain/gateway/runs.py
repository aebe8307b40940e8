"""Runs of enqueue templates: a clone of the template's task, made and enqueued as the template's owner, with the
caller's checked parameters; and what a run's readers (its caller, the template's owner, admins) see of it."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from clearway.blobs.base import OpenBlob
from clearway.domain.access import may_read_gateway_run, system_scope
from clearway.domain.blobs import Blobs
from clearway.domain.dispatch import Dispatch
from clearway.domain.gateway import params
from clearway.domain.gateway.records import GatewayRecords, Kind
from clearway.domain.gateway.tokens import GatewayTokens
from clearway.domain.identity import Identity, Role
from clearway.domain.tasks import Tasks
from clearway.errors import NotFound, ValidationFailed
from clearway.store.base import BlobRecord, Doc, Stores
from clearway.timeutil import utcnow

RUN_TAG = "gateway"
FILES_PREFIX = "/files/"


class GatewayRuns:
    def __init__(
        self,
        stores: Stores,
        records: GatewayRecords,
        tokens: GatewayTokens,
        tasks: Tasks,
        dispatch: Dispatch,
        blobs: Blobs,
    ) -> None:
        self.stores = stores
        self.records = records
        self.tokens = tokens
        self.tasks = tasks
        self.dispatch = dispatch
        self.blobs = blobs

    def check(self, identity: Identity, template_id: str, given: Any, queue: Any = None) -> tuple[Doc, dict[str, str]]:
        """The template and the caller's parameters, or why not: nothing is written."""
        template = self.records.callable(identity, Kind.TEMPLATE, template_id)
        if queue is not None and queue not in (template["queue_name"], template["queue"]):
            raise ValidationFailed(f"queue {queue!r} is not this template's queue {template['queue_name']!r}")
        return template, params.check_values(template["params"], given)

    def enqueue(self, identity: Identity, template: Doc, values: dict[str, str], token: Doc | None) -> Doc:
        """Clone the template's task as its owner with the caller's values, enqueue the clone, record the run."""
        owner = self.owner(template["owner_id"])
        source = self.tasks.get(owner, template["task"])
        overrides = {
            "name": f"{source['name']} (gateway run)",
            "hyperparams": params.apply(source.get("hyperparams") or {}, values),
            "tags": [*(source.get("tags") or []), RUN_TAG],
            "comment": f"Enqueued through the gateway by {identity.user_name} (template {template['id']})",
        }
        run_id = secrets.token_urlsafe(16)
        with self.stores.transaction():
            if token is not None:  # inside the transaction: on SQLite, runs are counted one writer at a time
                self.tokens.check_quota(token)
            clone = self.tasks.clone(owner, template["task"], overrides)
            task = self.dispatch.enqueue(owner, clone["id"], queue_id=template["queue"], reason="gateway run")
            self.stores.gateway.add_run(
                {
                    "id": run_id,
                    "org_id": identity.org_id,
                    "template_id": template["id"],
                    "task_id": clone["id"],
                    "owner_id": template["owner_id"],
                    "caller_id": identity.user_id,
                    "token_id": token["id"] if token else None,
                    "created": utcnow(),
                }
            )
        return {"run": run_id, "status": task["status"]}

    def view(self, identity: Identity, run_id: str) -> Doc:
        run, task = self._task(identity, run_id)
        metrics: dict[str, dict[str, Doc]] = {}
        for variants in (task.get("last_metrics") or {}).values():
            for entry in variants.values():
                series = metrics.setdefault(entry.get("metric", ""), {})
                series[entry.get("variant", "")] = {
                    "last": entry.get("value"),
                    "min": entry.get("min_value"),
                    "max": entry.get("max_value"),
                }
        return {
            "run": run["id"],
            "status": task.get("status"),
            "status_message": task.get("status_message") or "",
            "created": task.get("created"),
            "started": task.get("started"),
            "completed": task.get("completed"),
            "metrics": metrics,
            "artifacts": [a["key"] for a in _artifacts(task)],
        }

    def artifact(self, identity: Identity, run_id: str, name: str) -> tuple[BlobRecord, OpenBlob]:
        """An artifact's bytes, when this server keeps them (the SDK uploaded them to its file server)."""
        run, task = self._task(identity, run_id)
        found = next((a for a in _artifacts(task) if a["key"] == name), None)
        if found is None:
            raise NotFound(f"Run {run_id} has no artifact {name!r}")
        path = urlsplit(found.get("uri") or "").path
        if FILES_PREFIX not in path:
            raise NotFound(f"Artifact {name!r} is not kept by this server")
        return self.blobs.open(self.owner(run["owner_id"]), unquote(path.split(FILES_PREFIX, 1)[1]))

    def owner(self, user_id: str) -> Identity:
        """The owner of a template's clones, as their requests would carry them (groups and shares)."""
        identity = self.stores.identity.identity_of(user_id)
        if identity is None:
            raise NotFound("The template's owner is gone")
        if identity.role is not Role.ADMIN:
            grants = self.stores.sharing.grants(identity.org_id, identity.user_id)
            identity = replace(identity, group_ids=grants.group_ids, shared_read=grants.read, shared_write=grants.write)
        return identity

    def _task(self, identity: Identity, run_id: str) -> tuple[Doc, Doc]:
        run = self.stores.gateway.run(identity.org_id, run_id) if isinstance(run_id, str) else None
        if run is None or not may_read_gateway_run(identity, run):
            raise NotFound(f"No such run: {run_id}")
        task = self.stores.tasks.get(system_scope(identity.org_id), run["task_id"])
        if task is None:
            raise NotFound(f"Run {run_id}'s task was deleted")
        return run, task


def _artifacts(task: Doc) -> list[Doc]:
    return [
        a
        for a in (task.get("execution") or {}).get("artifacts") or []
        if a.get("mode", "output") == "output" and isinstance(a.get("key"), str)
    ]
