"""An agent acting for the owner of the task it runs (``clearml-agent --use-owner-token``).

The agent logs in with the ``X-Clearml-Impersonate-As: <user id>`` header; the rule of who may is
:func:`clearway.domain.access.may_act_for`, checked here against the agent's live workers and the owner's tasks,
at every login (a token that acts for someone is renewed only while the rule still holds).
"""

from __future__ import annotations

from clearway.domain.access import acting_identity, may_act_for, read_scope
from clearway.domain.identity import Identity
from clearway.domain.ids import looks_like_id
from clearway.domain.query import ListQuery
from clearway.domain.task_status import Status
from clearway.domain.workers import Workers
from clearway.errors import Forbidden
from clearway.store.base import Stores


class Impersonation:
    def __init__(self, stores: Stores, workers: Workers) -> None:
        self.stores = stores
        self.workers = workers

    def act_for(self, caller: Identity, owner_id: str) -> Identity:
        """The identity ``caller`` gets when acting for ``owner_id``; Forbidden unless the rule allows it."""
        owner = self.stores.identity.identity_of(owner_id) if looks_like_id(owner_id) else None
        if owner is not None:
            as_owner = read_scope(acting_identity(caller, owner))
            running = ListQuery(equals={"status": [Status.QUEUED.value, Status.IN_PROGRESS.value]}, search_hidden=True)
            tasks = self.stores.tasks.query(as_owner, running)
            if may_act_for(caller, owner, self.workers.served_queues(caller), tasks):
                return acting_identity(caller, owner)
        # The same answer whether the user exists or not.
        raise Forbidden(
            f"{caller.user_name} may not act for user {owner_id}: only an agent may, and only for the owner of a "
            "task queued in or taken from a queue one of its live workers serves"
        )
