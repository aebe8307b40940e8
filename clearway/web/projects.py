"""The projects list and the tasks table (filters, sorting, paging, hyperparameter and last-metric columns)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.identity import Identity, Role
from clearway.domain.query import ListQuery, parse_tag_filter
from clearway.domain.tasks import TASK_TYPES
from clearway.errors import ValidationFailed
from clearway.services import Services
from clearway.store.base import Doc
from clearway.web.rendering import page

PAGE_SIZE = 50
DEFAULT_SORT = "-last_update"  # an indexed column, per project too
STATUSES = ["created", "queued", "in_progress", "stopped", "completed", "published", "failed"]
TYPES = sorted(TASK_TYPES)
_SORTABLE = {"name", "status", "type", "created", "last_update", "started", "completed", "last_iteration"}
FIELDS = [  # what the tasks table reads of each task
    "id",
    "name",
    "status",
    "type",
    "user",
    "tags",
    "created",
    "last_update",
    "project",
    "hyperparams",
    "last_metrics",
    "last_iteration",
    "system_tags",
]
MAX_COLUMNS = 10


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Column:
    """An extra column: a hyperparameter (``Section/name``) or a last metric (``title/series``)."""

    kind: str  # "hp" or "metric"
    first: str
    second: str

    @property
    def label(self) -> str:
        return f"{self.first}/{self.second}"

    @property
    def order_field(self) -> str:
        if self.kind == "hp":
            return f"hyperparams.{self.first}.{self.second}.value"
        return f"last_metrics.{md5(self.first)}.{md5(self.second)}.value"

    def value(self, doc: Doc) -> Any:
        if self.kind == "hp":
            return ((doc.get("hyperparams") or {}).get(self.first) or {}).get(self.second, {}).get("value")
        entry = ((doc.get("last_metrics") or {}).get(md5(self.first)) or {}).get(md5(self.second)) or {}
        return entry.get("value")


def _columns(request: Request) -> list[Column]:
    out = []
    for kind in ("hp", "metric"):
        for spec in request.query_params.getlist(kind):
            first, sep, second = spec.partition("/")
            if sep and first and second:
                out.append(Column(kind, first, second))
    return out[:MAX_COLUMNS]


def task_query(request: Request, columns: list[Column], project: str | None) -> ListQuery:
    params = request.query_params
    equals: dict[str, list[Any]] = {}
    for key, column in (("status", "status"), ("type", "type"), ("user", "owner_id")):
        if values := [v for v in params.getlist(key) if v]:
            equals[column] = values
    if project:
        equals["project"] = [project]
    tags = [t for t in params.getlist("tag") if t]
    sort = params.get("sort") or DEFAULT_SORT
    field = sort.lstrip("-")
    by_column = {c.label: c.order_field for c in columns}
    if field in by_column:
        order = ("-" if sort.startswith("-") else "") + by_column[field]
    elif field in _SORTABLE:
        order = sort
    else:
        raise ValidationFailed(f"cannot sort by {field!r}")
    name = params.get("name") or None
    return ListQuery(
        name=f"(?i){re.escape(name)}" if name else None,
        equals=equals,
        tags=parse_tag_filter(tags) if tags else None,
        system_tags=parse_tag_filter(["-archived"]) if not params.get("archived") else None,
        order_by=[order],
        page=page_number(request),
        page_size=PAGE_SIZE,
    )


def page_number(request: Request) -> int:
    value = request.query_params.get("page") or "0"
    if not value.isdigit() or len(value) > 6:
        raise ValidationFailed("page is a whole number")
    return int(value)


def _owners(services: Services, me: Identity) -> list[tuple[str, str]]:
    """The users an admin may filter by (the organisation's); a user filters by "me" alone."""
    if me.role is not Role.ADMIN:
        return []
    return [(u["id"], u["name"]) for u in services.accounts.users(me) if u["id"] != me.user_id]


def routes(services: Services) -> list[Route]:
    def projects(request: Request) -> Response:
        me = request_identity(request)
        found = services.projects.list(me, ListQuery(order_by=["name"], page_size=500), None)
        return page(request, "projects.html", projects=found)

    def tasks(request: Request) -> Response:
        me = request_identity(request)
        project_id = request.query_params.get("project") or None
        project = services.projects.get(me, project_id) if project_id else None
        columns = _columns(request)
        found = services.tasks.list(me, task_query(request, columns, project_id), FIELDS)
        names = services.accounts.names(me, {doc.get("user") or "" for doc in found})
        return page(
            request,
            "tasks.html",
            tasks=found,
            project=project,
            columns=columns,
            names=names,
            users=_owners(services, me),
            statuses=STATUSES,
            types=TYPES,
            page_number=page_number(request),
            has_next=len(found) == PAGE_SIZE,
            sort=request.query_params.get("sort") or DEFAULT_SORT,
        )

    return [
        Route("/", projects, methods=["GET"]),  # the home page
        Route("/projects", projects, methods=["GET"]),
        Route("/tasks", tasks, methods=["GET"]),
    ]
