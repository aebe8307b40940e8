"""What the route walk calls: every route with the first user's ids in a body that would work for her, and the kind
of answer others may get (see test_route_walk.py). Add a new route here, with such a body, when you add it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.api import data

REFUSED = {400, 401, 403, 404, 405}
CLEARML_PATHS = {"/{name:str}", "/{name:str}/", "/{version:str}/{name:str}", "/{version:str}/{name:str}/"}
PUBLIC = {("GET", "/health"), ("GET", "/admin/api/openapi.json"), ("GET", "auth.login")}
# The web UI's login form, its single sign-on steps and its static files.
PUBLIC |= {("GET", "/web/login"), ("POST", "/web/login"), ("GET", "/web/login/oidc")}
PUBLIC |= {("GET", "/web/login/oidc/callback"), ("GET", "/web/static/app.css")}


class Form(dict):
    """A body sent as a posted HTML form (the web UI's changes)."""


@dataclass
class World:
    """A's things, and the strings that must never reach anyone else."""

    project: str
    project_name: str
    task: str
    queued_task: str
    model: str
    queue: str
    group: str
    file_path: str
    subscription: str
    delivery: int
    machine: str  # A's gateway records, callable by A alone
    template: str
    run: str
    gateway_token: str  # the id of A's gateway token
    a_user: str
    a_key: str
    b_user: str
    markers: list[str]
    creds: dict[str, dict[str, str]]  # "a", "b" (A's organisation), "c" (an admin of another organisation)

    @property
    def secrets(self) -> list[str]:
        ids = [self.project, self.task, self.queued_task, self.model, self.a_user, self.a_key, self.file_path]
        ids += [self.subscription, self.machine, self.template, self.run, self.gateway_token]
        return ids + self.markers


# kind: "read" (A gets 200 with it; others get an error or nothing of A's), "write" (others are refused, or get a
# 200 that ``check`` shows had no effect), "create" (others make or change something of their own: allowed, and
# still nothing of A's in the answer; workers are an agent's or admin's own records).
@dataclass(frozen=True)
class Case:
    body: Callable[[World], Any]
    kind: str = "write"
    check: Callable[[httpx.Response], bool] | None = None  # an extra condition on another user's 200


def _nothing_added(response: httpx.Response) -> bool:
    return data(response)["added"] == 0


def _none_succeeded(response: httpx.Response) -> bool:
    """Batch endpoints answer 200 and list what failed."""
    return data(response)["succeeded"] == []


_events = Case(lambda w: f'{{"task":"{w.task}","type":"log","msg":"intruder"}}', "write", _nothing_added)
_period = {"from_date": time.time() - 3600, "to_date": time.time() + 3600, "interval": 60}

CLEARML: dict[str, Case] = {
    "events.add": _events,
    "events.add_batch": _events,
    "events.debug_images": Case(lambda w: {"metrics": [{"task": w.task}]}, "read"),
    "events.get_task_events": Case(lambda w: {"task": w.task}, "read"),
    "events.get_task_log": Case(lambda w: {"task": w.task}, "read"),
    "events.get_task_plots": Case(lambda w: {"task": w.task}, "read"),
    "events.get_task_single_value_metrics": Case(lambda w: {"tasks": [w.task]}, "read"),
    "events.scalar_metrics_iter_histogram": Case(lambda w: {"task": w.task}, "read"),
    "models.add_or_update_metadata": Case(
        lambda w: {"model": w.model, "metadata": [{"key": "k", "type": "str", "value": "v"}]}
    ),
    "models.archive": Case(lambda w: {"model": w.model}, check=_none_succeeded),
    "models.archive_many": Case(lambda w: {"ids": [w.model]}, check=_none_succeeded),
    "models.create": Case(lambda w: {"name": "intruder", "uri": "http://x/y", "project": w.project, "task": w.task}),
    "models.delete": Case(lambda w: {"model": w.model}),
    "models.delete_many": Case(lambda w: {"ids": [w.model]}, check=_none_succeeded),
    "models.delete_metadata": Case(lambda w: {"model": w.model, "keys": ["k"]}),
    "models.edit": Case(lambda w: {"model": w.model, "name": "intruder"}),
    "models.get_all": Case(lambda w: {"id": [w.model], "project": [w.project], "task": [w.task]}, "read"),
    "models.get_by_id": Case(lambda w: {"model": w.model}, "read"),
    "models.get_by_task_id": Case(lambda w: {"task": w.task}, "read"),
    "models.publish": Case(lambda w: {"model": w.model}),
    "models.publish_many": Case(lambda w: {"ids": [w.model]}, check=_none_succeeded),
    "models.set_ready": Case(lambda w: {"model": w.model}),
    "models.unarchive_many": Case(lambda w: {"ids": [w.model]}, check=_none_succeeded),
    "models.update": Case(lambda w: {"model": w.model, "name": "intruder"}),
    "models.update_for_task": Case(lambda w: {"task": w.task, "uri": "http://x/y", "name": "intruder"}),
    "projects.create": Case(lambda w: {"name": f"own-{uuid.uuid4().hex[:8]}"}, "create"),
    "projects.delete": Case(lambda w: {"project": w.project, "force": True, "delete_contents": True}),
    "projects.get_all": Case(lambda w: {"id": [w.project], "search_hidden": True}, "read"),
    "projects.get_by_id": Case(lambda w: {"project": w.project}, "read"),
    "projects.update": Case(lambda w: {"project": w.project, "description": "intruder"}),
    "queues.add_task": Case(lambda w: {"queue": w.queue, "task": w.task}),
    "queues.create": Case(lambda w: {"name": f"own-{uuid.uuid4().hex[:8]}"}, "create"),
    "queues.delete": Case(lambda w: {"queue": w.queue, "force": True}),
    "queues.get_all": Case(lambda w: {"id": [w.queue]}, "read"),
    "queues.get_by_id": Case(lambda w: {"queue": w.queue}, "read"),
    "queues.get_default": Case(lambda w: {}, "create"),  # 400 when there is none: no ids involved either way
    "queues.get_next_task": Case(lambda w: {"queue": w.queue}),
    "queues.get_num_entries": Case(lambda w: {"queue": w.queue}, "read"),
    "queues.get_queue_metrics": Case(lambda w: {**_period, "queue_ids": [w.queue]}, "read"),
    "queues.move_task_backward": Case(lambda w: {"queue": w.queue, "task": w.queued_task}),
    "queues.move_task_forward": Case(lambda w: {"queue": w.queue, "task": w.queued_task}),
    "queues.move_task_to_back": Case(lambda w: {"queue": w.queue, "task": w.queued_task}),
    "queues.move_task_to_front": Case(lambda w: {"queue": w.queue, "task": w.queued_task}),
    "queues.remove_task": Case(lambda w: {"queue": w.queue, "task": w.queued_task}),
    "queues.update": Case(lambda w: {"queue": w.queue, "name": "intruder"}),
    "tasks.add_or_update_artifacts": Case(
        lambda w: {"task": w.task, "force": True, "artifacts": [{"key": "b", "type": "custom", "uri": "x"}]}
    ),
    "tasks.add_or_update_model": Case(lambda w: {"task": w.task, "name": "m2", "model": w.model}),
    "tasks.archive": Case(lambda w: {"tasks": [w.task]}),
    "tasks.clone": Case(lambda w: {"task": w.task}),
    "tasks.close": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.completed": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.create": Case(lambda w: {"name": "intruder", "type": "training", "project": w.project}),
    "tasks.delete": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.delete_artifacts": Case(lambda w: {"task": w.task, "force": True, "artifacts": [{"key": "a"}]}),
    "tasks.delete_hyper_params": Case(
        lambda w: {"task": w.task, "force": True, "hyperparams": [{"section": "General"}]}
    ),
    "tasks.delete_models": Case(lambda w: {"task": w.task, "models": [{"name": "m", "type": "output"}]}),
    "tasks.dequeue": Case(lambda w: {"task": w.queued_task}),
    "tasks.edit": Case(lambda w: {"task": w.task, "force": True, "comment": "intruder"}),
    "tasks.edit_configuration": Case(
        lambda w: {"task": w.task, "force": True, "configuration": [{"name": "c", "value": "intruder"}]}
    ),
    "tasks.edit_hyper_params": Case(
        lambda w: {"task": w.task, "force": True, "hyperparams": [{"section": "General", "name": "lr", "value": "9"}]}
    ),
    "tasks.enqueue": Case(lambda w: {"task": w.task, "queue": w.queue}),
    "tasks.failed": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.get_all": Case(lambda w: {"id": [w.task, w.queued_task], "search_hidden": True}, "read"),
    "tasks.get_by_id": Case(lambda w: {"task": w.task}, "read"),
    "tasks.get_hyper_params": Case(lambda w: {"tasks": [w.task]}, "read"),
    "tasks.ping": Case(lambda w: {"task": w.task}),
    "tasks.publish": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.reset": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.set_requirements": Case(lambda w: {"task": w.task, "requirements": {"pip": "intruder"}}),
    "tasks.started": Case(lambda w: {"task": w.task, "force": True}),
    "tasks.stop": Case(lambda w: {"task": w.queued_task, "force": True}),
    "tasks.stopped": Case(lambda w: {"task": w.task, "force": True}),
    "workers.get_activity_report": Case(lambda w: _period, "read"),
    "workers.get_all": Case(lambda w: {}, "read"),
    "workers.get_runtime_properties": Case(lambda w: {"worker": "walk-worker"}, "create"),
    "workers.get_stats": Case(lambda w: {**_period, "items": [{"key": "cpu_usage", "category": "avg"}]}, "read"),
    "workers.register": Case(lambda w: {"worker": "walk-worker", "queues": [w.queue]}, "create"),
    "workers.set_runtime_properties": Case(
        lambda w: {"worker": "walk-worker", "runtime_properties": [{"key": "k", "value": "v"}]}, "create"
    ),
    "workers.status_report": Case(lambda w: {"worker": "walk-worker", "task": w.task, "queue": w.queue}, "create"),
    "workers.unregister": Case(lambda w: {"worker": "walk-worker"}, "create"),
}

# Every other HTTP route: (method, path template) -> (path with A's ids, body, kind).
HttpCase = tuple[Callable[[World], str], Callable[[World], Any], str]
_members = "/admin/api/groups/{group_id}/members/{user_id}"
WEBHOOK = {"channel": "webhook", "url": "https://93.184.215.14/walk", "kinds": ["task.*"]}  # a public address
_share = "/admin/api/projects/{project_id}/shares/{grantee_type}/{grantee_id}"
HTTP: dict[tuple[str, str], HttpCase] = {
    ("GET", "/health"): (lambda w: "/health", lambda w: None, "read"),
    # For operators only (the metrics token or address list), never for a user's token: walked like a write.
    ("GET", "/metrics"): (lambda w: "/metrics", lambda w: None, "write"),
    ("GET", "/admin/api/openapi.json"): (lambda w: "/admin/api/openapi.json", lambda w: None, "read"),
    ("GET", "/admin/api/users"): (lambda w: "/admin/api/users", lambda w: None, "read"),
    ("POST", "/admin/api/users"): (
        lambda w: "/admin/api/users",
        lambda w: {"name": f"made-{uuid.uuid4().hex[:6]}"},
        "create",
    ),
    ("GET", "/admin/api/users/{user_id}"): (lambda w: f"/admin/api/users/{w.a_user}", lambda w: None, "read"),
    ("PATCH", "/admin/api/users/{user_id}"): (
        lambda w: f"/admin/api/users/{w.a_user}",
        lambda w: {"role": "agent"},
        "write",
    ),
    ("PUT", "/admin/api/users/{user_id}/password"): (
        lambda w: f"/admin/api/users/{w.a_user}/password",
        lambda w: {"password": "taken over"},
        "write",
    ),
    ("DELETE", "/admin/api/users/{user_id}/password"): (
        lambda w: f"/admin/api/users/{w.a_user}/password",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/users/{user_id}/keys"): (lambda w: f"/admin/api/users/{w.a_user}/keys", lambda w: None, "read"),
    ("POST", "/admin/api/users/{user_id}/keys"): (
        lambda w: f"/admin/api/users/{w.a_user}/keys",
        lambda w: None,
        "write",
    ),
    ("DELETE", "/admin/api/keys/{access_key}"): (lambda w: f"/admin/api/keys/{w.a_key}", lambda w: None, "write"),
    ("GET", "/admin/api/groups"): (lambda w: "/admin/api/groups", lambda w: None, "read"),
    ("POST", "/admin/api/groups"): (
        lambda w: "/admin/api/groups",
        lambda w: {"name": f"g-{uuid.uuid4().hex[:6]}"},
        "create",
    ),
    ("GET", "/admin/api/groups/{group_id}"): (lambda w: f"/admin/api/groups/{w.group}", lambda w: None, "read"),
    ("DELETE", "/admin/api/groups/{group_id}"): (lambda w: f"/admin/api/groups/{w.group}", lambda w: None, "write"),
    ("PUT", _members): (lambda w: f"/admin/api/groups/{w.group}/members/{w.b_user}", lambda w: None, "write"),
    ("DELETE", _members): (lambda w: f"/admin/api/groups/{w.group}/members/{w.a_user}", lambda w: None, "write"),
    ("GET", "/admin/api/projects/{project_id}/shares"): (
        lambda w: f"/admin/api/projects/{w.project}/shares",
        lambda w: None,
        "read",
    ),
    ("PUT", _share): (
        lambda w: f"/admin/api/projects/{w.project}/shares/user/{w.b_user}",
        lambda w: {"mode": "write"},
        "write",
    ),
    ("DELETE", _share): (lambda w: f"/admin/api/projects/{w.project}/shares/user/{w.a_user}", lambda w: None, "write"),
    ("GET", "/admin/api/allowlists"): (lambda w: "/admin/api/allowlists", lambda w: None, "read"),
    ("PUT", "/admin/api/allowlists/org"): (
        lambda w: "/admin/api/allowlists/org",
        lambda w: {"cidrs": ["0.0.0.0/0"]},
        "create",
    ),
    ("PUT", "/admin/api/allowlists/roles/{role}"): (
        lambda w: "/admin/api/allowlists/roles/user",
        lambda w: {"cidrs": ["0.0.0.0/0"]},
        "create",
    ),
    ("PUT", "/admin/api/allowlists/users/{user_id}"): (
        lambda w: f"/admin/api/allowlists/users/{w.a_user}",
        lambda w: {"cidrs": ["192.0.2.0/24"]},
        "write",
    ),
    ("GET", "/admin/api/audit"): (lambda w: "/admin/api/audit", lambda w: None, "read"),
    ("GET", "/admin/api/queues/{queue_id}/policy"): (
        lambda w: f"/admin/api/queues/{w.queue}/policy",
        lambda w: None,
        "read",
    ),
    ("PATCH", "/admin/api/queues/{queue_id}/policy"): (
        lambda w: f"/admin/api/queues/{w.queue}/policy",
        lambda w: {"policy": "fifo"},
        "write",
    ),
    ("GET", "/admin/api/queues/{queue_id}/explain"): (
        lambda w: f"/admin/api/queues/{w.queue}/explain",
        lambda w: None,
        "read",
    ),
    ("GET", "/admin/api/quotas"): (lambda w: "/admin/api/quotas", lambda w: None, "read"),
    ("PUT", "/admin/api/quotas/{subject_type}/{subject_id}"): (
        lambda w: f"/admin/api/quotas/user/{w.a_user}",
        lambda w: {"max_running": 0},
        "write",
    ),
    ("DELETE", "/admin/api/quotas/{subject_type}/{subject_id}"): (
        lambda w: f"/admin/api/quotas/user/{w.a_user}",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/notifications/subscriptions"): (
        lambda w: "/admin/api/notifications/subscriptions",
        lambda w: None,
        "read",
    ),
    ("POST", "/admin/api/notifications/subscriptions"): (
        lambda w: "/admin/api/notifications/subscriptions",
        lambda w: {**WEBHOOK, "projects": [w.project]},
        "write",
    ),
    ("DELETE", "/admin/api/notifications/subscriptions/{subscription_id}"): (
        lambda w: f"/admin/api/notifications/subscriptions/{w.subscription}",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/notifications/deliveries"): (
        lambda w: "/admin/api/notifications/deliveries",
        lambda w: None,
        "read",
    ),
    ("POST", "/admin/api/notifications/deliveries/{delivery_id}/retry"): (
        lambda w: f"/admin/api/notifications/deliveries/{w.delivery}/retry",
        lambda w: None,
        "write",
    ),
    # Live notifications: the stream (read for a moment, from the first event kept), the caller's subscriptions.
    ("GET", "/events/stream"): (lambda w: "/events/stream?last_event_id=0", lambda w: None, "read"),
    ("GET", "/events/openapi.json"): (lambda w: "/events/openapi.json", lambda w: None, "read"),
    ("GET", "/events/kinds"): (lambda w: "/events/kinds", lambda w: None, "read"),
    ("GET", "/events/subscriptions"): (lambda w: "/events/subscriptions", lambda w: None, "read"),
    ("POST", "/events/subscriptions"): (
        lambda w: "/events/subscriptions",
        lambda w: {**WEBHOOK, "tasks": [w.task]},
        "write",
    ),
    ("GET", "/events/subscriptions/{subscription_id}"): (
        lambda w: f"/events/subscriptions/{w.subscription}",
        lambda w: None,
        "read",
    ),
    ("PATCH", "/events/subscriptions/{subscription_id}"): (
        lambda w: f"/events/subscriptions/{w.subscription}",
        lambda w: {"enabled": False},
        "write",
    ),
    ("DELETE", "/events/subscriptions/{subscription_id}"): (
        lambda w: f"/events/subscriptions/{w.subscription}",
        lambda w: None,
        "write",
    ),
    ("GET", "/events/deliveries"): (lambda w: "/events/deliveries", lambda w: None, "read"),
    ("POST", "/events/deliveries/{delivery_id}/retry"): (
        lambda w: f"/events/deliveries/{w.delivery}/retry",
        lambda w: None,
        "write",
    ),
    # The gateway: A's records, callable by A alone; its run; its token. Its own routes, then the admin API's.
    ("POST", "/gateway/v1/ondemand/{machine}/{endpoint:path}"): (
        lambda w: f"/gateway/v1/ondemand/{w.machine}/walk",
        lambda w: {"x0": 1},
        "write",
    ),
    ("POST", "/gateway/v1/enqueue/{template}"): (
        lambda w: f"/gateway/v1/enqueue/{w.template}",
        lambda w: {"params": {}},
        "write",
    ),
    ("GET", "/gateway/v1/runs/{run}"): (lambda w: f"/gateway/v1/runs/{w.run}", lambda w: None, "read"),
    ("GET", "/gateway/v1/runs/{run}/artifacts/{name:path}"): (
        lambda w: f"/gateway/v1/runs/{w.run}/artifacts/a",
        lambda w: None,
        "read",
    ),
    ("GET", "/gateway/v1/logs"): (lambda w: "/gateway/v1/logs", lambda w: None, "read"),
    ("GET", "/gateway/v1/stats"): (lambda w: "/gateway/v1/stats", lambda w: None, "read"),
    ("POST", "/clearml/serve/ondemand"): (
        lambda w: "/clearml/serve/ondemand",
        lambda w: {"machine_id": w.machine, "endpoint": "walk", "params": {}},
        "write",
    ),
    ("POST", "/clearml/serve/enqueue_task"): (
        lambda w: "/clearml/serve/enqueue_task",
        lambda w: {"task_id": w.template, "queue": w.queue, "params": {}},
        "write",
    ),
    ("GET", "/admin/api/gateway/machines"): (lambda w: "/admin/api/gateway/machines", lambda w: None, "read"),
    ("POST", "/admin/api/gateway/machines"): (
        lambda w: "/admin/api/gateway/machines",
        lambda w: {"serving_task": w.task, "url": "http://127.0.0.1:9"},
        "write",
    ),
    ("DELETE", "/admin/api/gateway/machines/{record_id}"): (
        lambda w: f"/admin/api/gateway/machines/{w.machine}",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/gateway/endpoints"): (lambda w: "/admin/api/gateway/endpoints", lambda w: None, "read"),
    ("POST", "/admin/api/gateway/endpoints"): (
        lambda w: "/admin/api/gateway/endpoints",
        lambda w: {"machine": w.machine, "endpoint": "intruder"},
        "write",
    ),
    ("DELETE", "/admin/api/gateway/endpoints/{record_id}"): (
        lambda w: f"/admin/api/gateway/endpoints/{w.machine}",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/gateway/templates"): (lambda w: "/admin/api/gateway/templates", lambda w: None, "read"),
    ("POST", "/admin/api/gateway/templates"): (
        lambda w: "/admin/api/gateway/templates",
        lambda w: {"task": w.task, "queue": w.queue},
        "write",
    ),
    ("DELETE", "/admin/api/gateway/templates/{record_id}"): (
        lambda w: f"/admin/api/gateway/templates/{w.template}",
        lambda w: None,
        "write",
    ),
    ("GET", "/admin/api/gateway/tokens"): (lambda w: "/admin/api/gateway/tokens", lambda w: None, "read"),
    ("POST", "/admin/api/gateway/tokens"): (
        lambda w: "/admin/api/gateway/tokens",
        lambda w: {"user_id": w.a_user},
        "write",
    ),
    ("DELETE", "/admin/api/gateway/tokens/{token_id}"): (
        lambda w: f"/admin/api/gateway/tokens/{w.gateway_token}",
        lambda w: None,
        "write",
    ),
}
# The web UI: every page and fragment as a read with A's ids, every change as a posted form. The walk's clients
# send Bearer headers, which the UI accepts like the API (no CSRF token needed: a browser never forges one).
_WEB_READS: dict[str, Callable[[World], str]] = {
    "/web/": lambda w: "/web/",
    "/web/projects": lambda w: "/web/projects",
    "/web/tasks": lambda w: f"/web/tasks?project={w.project}&hp=General/lr&metric=walkA-metric/v&sort=-General/lr",
    "/web/tasks/{task_id}": lambda w: f"/web/tasks/{w.task}",
    "/web/tasks/{task_id}/{tab}": lambda w: f"/web/tasks/{w.task}/configuration",
    "/web/tasks/{task_id}/console/lines": lambda w: f"/web/tasks/{w.task}/console/lines?q=walkA",
    "/web/tasks/{task_id}/scalars.json": lambda w: f"/web/tasks/{w.task}/scalars.json",
    "/web/compare": lambda w: f"/web/compare?task={w.task}&task={w.queued_task}",
    "/web/compare/scalars.json": lambda w: f"/web/compare/scalars.json?task={w.task}&task={w.queued_task}",
    "/web/models": lambda w: "/web/models",
    "/web/models/{model_id}": lambda w: f"/web/models/{w.model}",
    "/web/models/{model_id}/{tab}": lambda w: f"/web/models/{w.model}/lineage",
    "/web/datasets": lambda w: "/web/datasets",
    "/web/queues": lambda w: "/web/queues",
    "/web/queues/{queue_id}": lambda w: f"/web/queues/{w.queue}",
    "/web/workers/stats.json": lambda w: "/web/workers/stats.json",
    "/web/settings": lambda w: "/web/settings",
    "/web/admin": lambda w: "/web/admin",
    "/web/admin/shares": lambda w: "/web/admin/shares",
    "/web/admin/audit": lambda w: f"/web/admin/audit?user={w.a_user}",
    "/web/gateway": lambda w: "/web/gateway",
    "/web/gateway/trends.json": lambda w: "/web/gateway/trends.json",
    "/web/gateway/logs": lambda w: f"/web/gateway/logs?record={w.machine}&kind=ondemand",
    "/web/login": lambda w: "/web/login",
    "/web/static/{path:path}": lambda w: "/web/static/app.css",
}
for _template, _path in _WEB_READS.items():
    HTTP[("GET", _template)] = (_path, lambda w: None, "read")
HTTP.update(
    {
        # Without single sign-on configured these answer 401; with it, they only start or finish a login.
        ("GET", "/web/login/oidc"): (lambda w: "/web/login/oidc", lambda w: None, "write"),
        ("GET", "/web/login/oidc/callback"): (
            lambda w: "/web/login/oidc/callback?code=x&state=y",
            lambda w: None,
            "write",
        ),
        ("POST", "/web/login"): (lambda w: "/web/login", lambda w: Form(name="walk-nobody", password="x"), "write"),
        ("POST", "/web/logout"): (lambda w: "/web/logout", lambda w: Form(), "create"),
        ("POST", "/web/settings/keys"): (lambda w: "/web/settings/keys", lambda w: Form(), "create"),
        ("POST", "/web/settings/keys/{access_key}/revoke"): (
            lambda w: f"/web/settings/keys/{w.a_key}/revoke",
            lambda w: Form(),
            "write",
        ),
        ("POST", "/web/tasks/{task_id}/actions/{action}"): (
            lambda w: f"/web/tasks/{w.task}/actions/archive",
            lambda w: Form(),
            "write",
        ),
        ("POST", "/web/models/{model_id}/actions/{action}"): (
            lambda w: f"/web/models/{w.model}/actions/publish",
            lambda w: Form(),
            "write",
        ),
        ("POST", "/web/queues/{queue_id}/move"): (
            lambda w: f"/web/queues/{w.queue}/move",
            lambda w: Form(task=w.queued_task, move="back"),
            "write",
        ),
        ("POST", "/web/admin/{what}"): (
            lambda w: "/web/admin/role",
            lambda w: Form(user=w.a_user, role="agent"),
            "write",
        ),
    }
)
# The file server: A's file read, written, deleted, through every method its routes take.
for _path in ("/files", "/files/", "/files/{path:path}"):
    _target = (lambda w: f"/files/{w.file_path}") if "{" in _path else (lambda w, p=_path: p)
    for _method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        _upload = _method == "POST" and "{" not in _path
        HTTP[(_method, _path)] = (
            _target,
            (lambda w: [(w.file_path, b"intruder")]) if _upload else (lambda w: None),
            # An upload of A's path by another user is that user's own file (paths are per user): "create".
            "read" if _method == "GET" else "create" if _upload else "write",
        )
