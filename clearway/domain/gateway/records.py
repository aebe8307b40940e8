"""Serving machines, endpoints and enqueue templates: who may create, list, revoke and call them.

Whoever may change the serving task (or the template's task) may register it; the record belongs to its creator,
or, made by the operator on the command line, to the owner of the task it names. Admins manage every record of
their organisation. A record's public id is random (``secrets.token_urlsafe``), never derived from a task id;
an unknown, revoked or other organisation's id is the same 404.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from clearway.domain.access import gateway_owner_filter, may_call_gateway_record, may_use_queue
from clearway.domain.gateway import params
from clearway.domain.identity import Identity
from clearway.domain.queues import Queues
from clearway.domain.tasks import Tasks
from clearway.errors import Conflict, Forbidden, InvalidQueueId, NotFound, ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.timeutil import utcnow

_ENDPOINT = re.compile(r"^[A-Za-z0-9_\-.]{1,200}(/[A-Za-z0-9_\-.]{1,50})?$")
MAX_NAME = 200


class Kind(StrEnum):
    MACHINE = "machine"
    ENDPOINT = "endpoint"
    TEMPLATE = "template"


Resolved = tuple[Doc, Doc] | None


class _NotCached(Exception):
    pass


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class GatewayRecords:
    def __init__(
        self,
        stores: Stores,
        tasks: Tasks,
        queues: Queues,
        cache_sec: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores = stores
        self.tasks = tasks
        self.queues = queues
        self.cache_sec = cache_sec
        self.clock = clock
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    # creation
    def create_machine(
        self,
        identity: Identity,
        serving_task: str,
        url: str,
        name: str | None = None,
        callers: Any = None,
        *,
        as_task_owner: bool = False,
    ) -> Doc:
        task = self.tasks.get_writable(identity, serving_task)
        doc = {"name": _name(name or task.get("name") or "serving machine"), "serving_task": task["id"]}
        doc["url"] = _url(url)
        return self._add(identity, Kind.MACHINE, task, doc, callers, as_task_owner)

    def create_endpoint(self, identity: Identity, machine_id: str, endpoint: str, callers: Any = None) -> Doc:
        machine = self.managed(identity, Kind.MACHINE, machine_id)
        if not isinstance(endpoint, str) or not _ENDPOINT.match(endpoint) or ".." in endpoint:
            raise ValidationFailed(f"endpoint {endpoint!r} is not a clearml-serving endpoint name (or name/version)")
        siblings = self.stores.gateway.records(identity.org_id, Kind.ENDPOINT, None, parent=machine["id"])
        if any(s["endpoint"] == endpoint for s in siblings):
            raise Conflict(f"Endpoint {endpoint!r} is registered on this machine already")
        doc = {"endpoint": endpoint, "machine_name": machine["name"]}
        record = {
            "id": new_public_id(),
            "kind": Kind.ENDPOINT.value,
            "org_id": identity.org_id,
            "owner_id": machine["owner_id"],
            "parent": machine["id"],
            "created": utcnow(),
            "doc": {**doc, "callers": _callers(callers)},
        }
        self.stores.gateway.add_record(record)
        return self._shown(record)

    def create_template(
        self,
        identity: Identity,
        task_id: str,
        queue: str,
        specs: list[Any],
        callers: Any = None,
        *,
        as_task_owner: bool = False,
    ) -> Doc:
        task = self.tasks.get_writable(identity, task_id)
        checked = params.check_specs(specs)
        if not isinstance(queue, str) or not queue:
            raise ValidationFailed("a template names a queue")
        try:
            found = self.queues.find_by_name(identity, queue)
        except InvalidQueueId:  # a queue may be named by its id too
            found = self.queues.find(identity, queue)
        if not may_use_queue(identity, found):
            raise Forbidden(f"You may not enqueue into queue {found['name']!r}")
        doc = {
            "name": _name(task.get("name") or "template"),
            "task": task["id"],
            "queue": found["id"],
            "queue_name": found["name"],
            "params": checked,
        }
        return self._add(identity, Kind.TEMPLATE, task, doc, callers, as_task_owner)

    # management
    def list(self, identity: Identity, kind: Kind, parent: str | None = None) -> list[Doc]:
        """The caller's records of a kind (an admin's: the organisation's)."""
        owner = gateway_owner_filter(identity)
        return [self._shown(r) for r in self.stores.gateway.records(identity.org_id, kind, owner, parent)]

    def revoke(self, identity: Identity, kind: Kind, record_id: str) -> None:
        """Revoke a record: its id answers 404 from now on (a machine's endpoints go with it)."""
        owner = gateway_owner_filter(identity)
        if not self.stores.gateway.revoke_record(identity.org_id, kind, record_id, owner, utcnow()):
            raise NotFound(f"No such {kind}: {record_id}")
        with self._lock:
            self._cache.clear()

    def managed(self, identity: Identity, kind: Kind, record_id: str) -> Doc:
        """A record the caller manages (its own, or as an admin any of its organisation's)."""
        record = self.stores.gateway.record(identity.org_id, kind, record_id) if isinstance(record_id, str) else None
        owner = gateway_owner_filter(identity)
        if record is None or (owner is not None and record["owner_id"] != owner):
            raise NotFound(f"No such {kind}: {record_id}")
        return record

    # calls
    def callable(self, identity: Identity, kind: Kind, record_id: str) -> Doc:
        """A live record the caller may call; else the same 404 whatever the reason. Looked up at most once per
        ``cache_sec`` per id (a revocation elsewhere takes effect within it)."""
        record = self._cached((identity.org_id, kind.value, record_id), lambda: self._load(identity, kind, record_id))
        return self._callable(identity, kind, record_id, record)

    def resolve(self, identity: Identity, machine_id: str, endpoint: str, *, cached_only: bool = False) -> Resolved:
        """The machine and its endpoint (by id or name) the caller may call; with ``cached_only``, None unless
        both are in this process's cache (so the call can go on without leaving the event loop)."""
        org = identity.org_id
        try:
            machine = self._cached(
                (org, Kind.MACHINE.value, machine_id),
                lambda: self._load(identity, Kind.MACHINE, machine_id),
                cached_only,
            )
            machine = self._callable(identity, Kind.MACHINE, machine_id, machine)
            siblings = self._cached(
                (org, "endpoints of", machine["id"]),
                lambda: {"all": self.stores.gateway.records(org, Kind.ENDPOINT, None, machine["id"])},
                cached_only,
            )
        except _NotCached:
            return None
        found = next((e for e in (siblings or {}).get("all", []) if endpoint in (e["id"], e["endpoint"])), None)
        if found is None or not may_call_gateway_record(identity, found):
            raise NotFound(f"No endpoint {endpoint!r} on this machine")
        return machine, found

    def _load(self, identity: Identity, kind: Kind, record_id: str) -> Doc | None:
        return self.stores.gateway.record(identity.org_id, kind, record_id)

    @staticmethod
    def _callable(identity: Identity, kind: Kind, record_id: str, record: Doc | None) -> Doc:
        if record is None or not may_call_gateway_record(identity, record):
            raise NotFound(f"No such {kind}: {record_id}")
        return record

    def _cached(self, key: tuple[str, str, str], load: Callable[[], Any], cached_only: bool = False) -> Any:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_sec:
            return hit[1]
        if cached_only:
            raise _NotCached()
        value = load()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, value)
        return value

    def _add(self, identity: Identity, kind: Kind, task: Doc, doc: Doc, callers: Any, as_task_owner: bool) -> Doc:
        record = {
            "id": new_public_id(),
            "kind": kind.value,
            "org_id": identity.org_id,
            "owner_id": task["user"] if as_task_owner else identity.user_id,
            "parent": None,
            "created": utcnow(),
            "doc": {**doc, "callers": _callers(callers)},
        }
        self.stores.gateway.add_record(record)
        return self._shown(record)

    @staticmethod
    def _shown(record: Doc) -> Doc:
        """A record as the API and the command line show it."""
        out = {k: v for k, v in record.items() if k not in ("doc", "org_id")}
        out.update(record.get("doc") or {})
        out.setdefault("health", "unknown")
        if not isinstance(out.get("created"), str):
            out["created"] = out["created"].isoformat()
        return out


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ValidationFailed(f"a name is 1 to {MAX_NAME} characters")
    return value.strip()


def _url(value: Any) -> str:
    """A serving machine's base address: http(s)://host[:port][/prefix], without query or fragment."""
    try:
        parts = urlsplit(value) if isinstance(value, str) and len(value) <= 2000 else None
    except ValueError:  # an unbalanced [ in the host, and the like
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValidationFailed(f"url {value!r} is not http(s)://host[:port][/path]")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValidationFailed(f"url {value!r} has a bad port") from exc
    return value.rstrip("/")


def _callers(value: Any) -> Doc:
    """Who may call: ``{"users": [ids], "groups": [ids]}``; empty lists mean the whole organisation."""
    if value is None:
        return {"users": [], "groups": []}
    if not isinstance(value, dict) or set(value) - {"users", "groups"}:
        raise ValidationFailed("callers is an object with users and groups")
    out = {}
    for key in ("users", "groups"):
        ids = value.get(key) or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
            raise ValidationFailed(f"callers.{key} is a list of ids")
        out[key] = ids
    return out
