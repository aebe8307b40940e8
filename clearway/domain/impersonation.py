"""An agent acting for the owner of the task it runs (``clearml-agent --use-owner-token``).

The agent logs in with ``X-Clearml-Impersonate-As: <user id>`` right after it took one of that user's tasks from a
queue. The grant is for that one task: the agent must hold it (it took it from a queue, the task is queued or in
progress, and one of the agent's workers is alive), and the identity it gets reads as the owner but writes only
that task and the records in its project (:func:`clearway.domain.access.acting_identity`). The grant is checked
again on every request (within the few seconds sessions are cached) and ends when the agent no longer holds the
task. Only someone who may change a task may put it into a queue, so an agent can never make itself a grant.
"""

from __future__ import annotations

from clearway.domain.access import acting_identity, may_act_for, may_write_into, read_scope
from clearway.domain.identity import Identity
from clearway.domain.ids import looks_like_id
from clearway.errors import Forbidden
from clearway.store.base import Doc, Stores


class Impersonation:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def held_task(self, agent: Identity, owner: Identity | None, task_id: str | None = None) -> Doc | None:
        """The owner's task the agent holds (``task_id``, or without it the one it took last), or None."""
        if owner is None or not may_act_for(agent, owner) or not (task_id is None or looks_like_id(task_id)):
            return None
        return self.stores.tasks.held(agent.org_id, agent.user_id, owner.user_id, task_id)

    @staticmethod
    def refusal(agent: Identity, owner_id: str) -> Forbidden:
        """The one answer to a refused grant, whether or not the user or the task exists."""
        return Forbidden(
            f"{agent.user_name} may not act for user {owner_id}: only an agent may, and only for the owner of a "
            "task it took from a queue and still runs"
        )

    def act_for(self, agent: Identity, owner: Identity, task: Doc) -> Identity:
        """The identity ``agent`` gets acting for ``owner`` (with the owner's shares) for ``task``, which it holds.
        It writes into the task's project only if the owner may."""
        project_id = task.get("project")
        project = self.stores.projects.get(read_scope(owner), project_id) if project_id else None
        writable = project is not None and may_write_into(owner, project)
        return acting_identity(agent, owner, task["id"], project_id if writable else None)
