"""Who may read or change what: every access rule lives here.

Stores never decide access; they take the :class:`Scope` computed here and apply it to every query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from clearway.domain.identity import Identity, Role


@dataclass(frozen=True)
class Scope:
    """The records a caller may touch: one organisation, and within it either every owner or only some."""

    org_id: str
    owner_ids: frozenset[str] | None = None  # None: every owner in the organisation
    # Also every record in these projects (shared with the caller), and every record in a project that one of
    # ``owner_ids`` owns. Stores whose records are not in projects ignore it.
    project_ids: frozenset[str] = frozenset()
    # An agent's reach into other users' tasks: those it holds (``agent_id``: it took them from a queue and runs
    # them, while the worker running them is alive); with ``waiting`` also every task waiting in a queue; with
    # ``their_projects`` the projects of those tasks as well. Stores that hold no such records ignore them.
    agent_id: str | None = None
    waiting: bool = False
    their_projects: bool = False
    # An agent acting for a task's owner: that task (``task_ids``) and the records in these projects and their
    # subprojects of the same owner (``project_trees``).
    task_ids: frozenset[str] = frozenset()
    project_trees: frozenset[str] = frozenset()

    def allows_owner(self, owner_id: str) -> bool:
        return self.owner_ids is None or owner_id in self.owner_ids


def read_scope(identity: Identity) -> Scope:
    """What the caller may see. Admins see their organisation; users see their own work and what is shared with
    them; agents see their own records, the tasks waiting in queues and the tasks they hold, with their projects
    (what they need to pick and run them). An agent acting for a task's owner reads as the owner: the SDK in the
    task reads the owner's datasets, models and tasks."""
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    own = frozenset({identity.user_id})
    shared = identity.shared_read | identity.shared_write
    if identity.role is Role.AGENT:
        return Scope(
            org_id=identity.org_id,
            owner_ids=own,
            project_ids=shared,
            agent_id=identity.user_id,
            waiting=True,
            their_projects=True,
        )
    return Scope(org_id=identity.org_id, owner_ids=own, project_ids=shared)


def write_scope(identity: Identity) -> Scope:
    """What the caller may change: what it may see, except projects shared with it read-only. An agent changes
    only its own records and the tasks it holds (never their projects, never a task still waiting); acting for a
    task's owner, only that task and the records in its project."""
    if identity.acting_task is not None:
        return Scope(
            org_id=identity.org_id,
            owner_ids=frozenset(),
            task_ids=frozenset({identity.acting_task}),
            project_trees=frozenset({identity.acting_project}) if identity.acting_project else frozenset(),
        )
    if identity.role is Role.AGENT:
        return Scope(
            org_id=identity.org_id,
            owner_ids=frozenset({identity.user_id}),
            project_ids=identity.shared_write,
            agent_id=identity.user_id,
        )
    return replace(read_scope(identity), project_ids=identity.shared_write)


def enqueue_scope(identity: Identity) -> Scope:
    """The tasks the caller may put into a queue: those it may change as their owner, as a writer of their
    project or as an admin; never through holding a task (an agent cannot send a user's task to itself)."""
    return replace(write_scope(identity), agent_id=None)


def manage_scope(identity: Identity) -> Scope:
    """What the caller may delete or share: its own records (an admin: the organisation's), never shared ones,
    and nothing while acting for another user."""
    if identity.acting_task is not None:
        return Scope(org_id=identity.org_id, owner_ids=frozenset())
    if identity.role is Role.ADMIN:
        return Scope(org_id=identity.org_id)
    return Scope(org_id=identity.org_id, owner_ids=frozenset({identity.user_id}))


def may_create_outside_projects(identity: Identity) -> bool:
    """Whether the caller may create a task or model in no project. Not while acting for another user: what an
    agent creates for a task's owner goes into that task's project."""
    return identity.acting_task is None


def may_create_project(identity: Identity, name: str, acting_project_name: str | None) -> bool:
    """Whether the caller may create a project of that name: anyone, except an agent acting for a task's owner,
    which creates only subprojects of the task's project (``acting_project_name``) (a dataset made by the task)."""
    if identity.acting_task is None:
        return True
    return acting_project_name is not None and name.startswith(acting_project_name + "/")


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


def may_act_for(caller: Identity, owner: Identity) -> bool:
    """Whether ``caller`` may ask to act for ``owner`` at all (``clearml-agent --use-owner-token``): only an agent
    (or an admin running one), in the owner's organisation, not already acting for someone. It then acts only for
    a task of the owner it holds (:mod:`clearway.domain.impersonation`), with :func:`acting_identity`."""
    if caller.role not in (Role.ADMIN, Role.AGENT) or caller.impersonator is not None:
        return False
    return owner.org_id == caller.org_id


def may_write_into(identity: Identity, project: dict[str, Any]) -> bool:
    """Whether the owner whose identity this is may put records into ``project``: its own, or shared read-write."""
    return project.get("user") == identity.user_id or project.get("id") in identity.shared_write


def acting_identity(caller: Identity, owner: Identity, task_id: str, project_id: str | None) -> Identity:
    """Who the caller becomes when acting for ``owner`` for the task ``task_id`` it holds: the owner's reads (with
    the owner's shares), writes bound to the task and ``project_id``, never an admin's reach."""
    return Identity(
        user_id=owner.user_id,
        user_name=owner.user_name,
        org_id=owner.org_id,
        org_name=owner.org_name,
        role=Role.USER,
        client_ip=caller.client_ip,
        access_key=caller.access_key,
        impersonator=caller.user_id,
        group_ids=owner.group_ids,
        shared_read=owner.shared_read,
        shared_write=owner.shared_write,
        acting_task=task_id,
        acting_project=project_id,
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
    tell (an agent's reach: the tasks it holds or that wait in queues, and those of the task it acts for)."""
    scope = read_scope(identity)
    if org_id != scope.org_id:
        return False
    if owner_id is not None and scope.allows_owner(owner_id):
        return True
    if project_id is not None and scope.owner_ids is not None:
        if project_id in scope.project_ids or (project_owner_id is not None and project_owner_id in scope.owner_ids):
            return True
    return None if scope.agent_id or scope.task_ids or scope.project_trees else False


def may_see_organisation_event(identity: Identity, org_id: str) -> bool:
    """Workers and their GPUs are the organisation's shared machines: every member sees them (workers.get_all)."""
    return identity.org_id == org_id


def may_see_admin_event(identity: Identity, org_id: str) -> bool:
    """Security events and gateway machines: the organisation's admins."""
    return identity.org_id == org_id and may_administer(identity)


# The gateway: machines, endpoints and enqueue templates (records with a random public id), and their runs.
def gateway_owner_filter(identity: Identity) -> str | None:
    """Whose gateway records the caller manages (lists, revokes): an admin every one of its organisation (None),
    anyone else its own."""
    return None if may_administer(identity) else identity.user_id


def may_call_gateway_record(identity: Identity, record: dict[str, Any]) -> bool:
    """Who may call a record: its organisation by default, or only the users and groups it lists (with its owner
    and the organisation's admins)."""
    if record.get("org_id") != identity.org_id or identity.acting_task is not None:
        return False
    if record.get("owner_id") == identity.user_id or may_administer(identity):
        return True
    return _listed(identity, record.get("callers")) is not False


def may_read_gateway_run(identity: Identity, run: dict[str, Any]) -> bool:
    """A run is read by whoever asked for it, the template's owner (who owns the clone) and admins."""
    if run.get("org_id") != identity.org_id or identity.acting_task is not None:
        return False
    return identity.user_id in (run.get("caller_id"), run.get("owner_id")) or may_administer(identity)
