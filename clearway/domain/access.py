"""Who may read or change what: every access rule lives here.

Stores never decide access; they take the :class:`Scope` computed here and apply it to every query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from clearway.domain.identity import Identity, Role


@dataclass(frozen=True)
class Scope:
    """The records a caller may touch: one organisation, and within it either every owner or only some."""

    org_id: str
    owner_ids: frozenset[str] | None = None  # None: every owner in the organisation
    # Also every record that went through a queue, whoever owns it: tasks queued in or taken from a queue, and
    # the projects they are in. Stores that hold no such records ignore it.
    via_queue: bool = False
    # Also every record in these projects (shared with the caller), and every record in a project that one of
    # ``owner_ids`` owns. Stores whose records are not in projects ignore it.
    project_ids: frozenset[str] = frozenset()

    def allows_owner(self, owner_id: str) -> bool:
        return self.owner_ids is None or owner_id in self.owner_ids


def read_scope(identity: Identity) -> Scope:
    """What the caller may see. Admins see their organisation; users see their own work; agents see their own
    records and the tasks sent to queues (with their projects), which is what they need to run them."""
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    own = frozenset({identity.user_id})
    shared = identity.shared_read | identity.shared_write
    if identity.role is Role.AGENT:
        return Scope(org_id=identity.org_id, owner_ids=own, via_queue=True, project_ids=shared)
    return Scope(org_id=identity.org_id, owner_ids=own, project_ids=shared)


def write_scope(identity: Identity) -> Scope:
    """What the caller may change: what it may see, except projects shared with it read-only."""
    return replace(read_scope(identity), project_ids=identity.shared_write)


def manage_scope(identity: Identity) -> Scope:
    """What the caller may delete or share: its own records (an admin: the organisation's), never shared ones."""
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    return Scope(org_id=identity.org_id, owner_ids=frozenset({identity.user_id}))


def system_scope(org_id: str) -> Scope:
    """The whole organisation, for the server's own maintenance (the watchdog); never for a request."""
    return Scope(org_id=org_id)


# Queues and workers are the organisation's shared infrastructure.
def queue_read_scope(identity: Identity) -> Scope:
    """Every member of an organisation sees its queues: users enqueue into them, agents serve them."""
    return Scope(org_id=identity.org_id)


def queue_write_scope(identity: Identity) -> Scope:
    """Admins manage every queue (rename, reorder, delete); anyone else only the queues they created."""
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    return Scope(org_id=identity.org_id, owner_ids=frozenset({identity.user_id}))


def may_take_tasks(identity: Identity) -> bool:
    """Only agents (and admins) take tasks from queues and report as workers: a task taken by a user's own
    process would run with credentials that cannot even read it."""
    return identity.role in (Role.ADMIN, Role.AGENT)


def worker_read_scope(identity: Identity) -> Scope:
    """Every member sees the organisation's machines and their load (which tasks they run is shown by id)."""
    return Scope(org_id=identity.org_id)


def worker_write_scope(identity: Identity) -> Scope:
    """A worker record is changed by the credentials that registered it (or an admin)."""
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    return Scope(org_id=identity.org_id, owner_ids=frozenset({identity.user_id}))


def may_act_for(caller: Identity, owner: Identity, served_queues: Iterable[str], owner_tasks: Iterable[Any]) -> bool:
    """Whether ``caller`` may log in as ``owner`` (``clearml-agent --use-owner-token``).

    Only an agent (or an admin running one), in the owner's organisation, and only while the owner has a task
    queued in, or running from, a queue that the agent serves (``served_queues``: the queues of its live workers).
    ``owner_tasks`` are the owner's queued and running tasks. The result acts with :func:`acting_identity`.
    """
    if caller.role not in (Role.ADMIN, Role.AGENT) or caller.impersonator is not None:
        return False
    if owner.org_id != caller.org_id:
        return False
    served = set(served_queues)
    return any(
        task.get("status") in ("queued", "in_progress") and (task.get("execution") or {}).get("queue") in served
        for task in owner_tasks
    )


def acting_identity(caller: Identity, owner: Identity) -> Identity:
    """Who the caller becomes when acting for ``owner``: the owner's records, never an admin's reach."""
    return Identity(
        user_id=owner.user_id,
        user_name=owner.user_name,
        org_id=owner.org_id,
        org_name=owner.org_name,
        role=Role.USER,
        client_ip=caller.client_ip,
        access_key=caller.access_key,
        impersonator=caller.user_id,
    )


# Administration, sharing, audit.
def may_administer(identity: Identity) -> bool:
    """Admins manage their own organisation (every call is scoped to ``identity.org_id``): users, keys, groups,
    shares, address allowlists, the audit log."""
    return identity.role is Role.ADMIN and identity.impersonator is None


def may_share_project(identity: Identity, project: dict[str, Any]) -> bool:
    """A project's owner shares it, and so does an admin of its organisation; sharing never passes on."""
    if project.get("company") != identity.org_id or identity.impersonator is not None:
        return False
    return identity.role is Role.ADMIN or project.get("user") == identity.user_id


# Queue access lists. A queue document may carry ``access``:
#   {"enqueue": {"users": [user ids], "groups": [group ids]}, "see": {"users": [...], "groups": [...]}}
# A missing or empty list means everyone in the organisation. Whoever may enqueue may also see the queue.
# Admins and agents always see every queue of their organisation (agents serve them); admins always enqueue.
QUEUE_ACCESS_KINDS = ("enqueue", "see")


def _listed(identity: Identity, entry: Any) -> bool | None:
    """Whether the identity is on an access list; None when the list is empty (no restriction)."""
    if not isinstance(entry, dict):
        return None
    users = entry.get("users") or []
    groups = entry.get("groups") or []
    if not users and not groups:
        return None
    return identity.user_id in users or any(g in identity.group_ids for g in groups)


def may_use_queue(identity: Identity, queue: dict[str, Any]) -> bool:
    """Whether the caller may put tasks into the queue (``tasks.enqueue``, the gateway's enqueue templates)."""
    if queue.get("company") != identity.org_id:
        return False
    if identity.role is Role.ADMIN and identity.impersonator is None:
        return True
    return _listed(identity, (queue.get("access") or {}).get("enqueue")) is not False


def may_see_queue(identity: Identity, queue: dict[str, Any]) -> bool:
    """Whether the caller may see the queue at all (``queues.get_all``/``get_by_id``, its entries, its metrics)."""
    if queue.get("company") != identity.org_id:
        return False
    if identity.role in (Role.ADMIN, Role.AGENT):
        return True
    access = queue.get("access") or {}
    see = _listed(identity, access.get("see"))
    return see is not False or _listed(identity, access.get("enqueue")) is True


def queue_access_errors(access: Any) -> list[str]:
    """What is wrong with an ``access`` value a client wants to store on a queue (empty when it is valid)."""
    if access is None:
        return []
    if not isinstance(access, dict):
        return ["access must be an object"]
    errors = [f"unknown access kind {kind!r}" for kind in access if kind not in QUEUE_ACCESS_KINDS]
    for kind, entry in access.items():
        if not isinstance(entry, dict) or set(entry) - {"users", "groups"}:
            errors.append(f"access.{kind} must be an object with users and groups")
            continue
        for field in ("users", "groups"):
            values = entry.get(field) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                errors.append(f"access.{kind}.{field} must be a list of ids")
    return errors


# Live notifications: an event is seen by whoever may see what it is about (tasks by read_scope, queues by
# may_see_queue); these cover the rest.
def may_read_record(
    identity: Identity, org_id: str, owner_id: str | None, project_id: str | None, project_owner_id: str | None
) -> bool | None:
    """What :func:`read_scope` admits, decided without the store, for a record of ``owner_id`` in ``project_id``
    (owned by ``project_owner_id``): the same rule the store applies to a Scope. None when only the store can
    tell (records that went through a queue, for agents)."""
    scope = read_scope(identity)
    if org_id != scope.org_id:
        return False
    if owner_id is not None and scope.allows_owner(owner_id):
        return True
    if project_id is not None and scope.owner_ids is not None:
        if project_id in scope.project_ids or (project_owner_id is not None and project_owner_id in scope.owner_ids):
            return True
    return None if scope.via_queue else False


def may_see_organisation_event(identity: Identity, org_id: str) -> bool:
    """Workers and their GPUs are the organisation's shared machines: every member sees them (workers.get_all)."""
    return identity.org_id == org_id


def may_see_admin_event(identity: Identity, org_id: str) -> bool:
    """Security events and gateway machines: the organisation's admins."""
    return identity.org_id == org_id and may_administer(identity)
