"""Datasets: every version the caller may read, grouped by dataset, with parents, file counts and sizes.

The SDK keeps a dataset version as a task with the ``dataset`` system tag: its counts and sizes in the task's
runtime properties, and its version graph in the ``Dataset Struct`` configuration object."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.query import ListQuery, parse_tag_filter
from clearway.services import Services
from clearway.store.base import Doc
from clearway.web.rendering import page

MAX_VERSIONS = 500
_FIELDS = ["id", "name", "project", "status", "created", "runtime", "configuration", "tags", "user"]


def parents(doc: Doc) -> list[str]:
    """The ids of the versions this one was built on, from its ``Dataset Struct``."""
    text = ((doc.get("configuration") or {}).get("Dataset Struct") or {}).get("value")
    try:
        graph = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return []
    if not isinstance(graph, dict):
        return []
    entries = [e for e in graph.values() if isinstance(e, dict)]
    by_index = {str(i): e.get("job_id") for i, e in graph.items() if isinstance(e, dict)}
    own = next((e for e in entries if e.get("job_id") == doc["id"]), None)
    return [str(by_index.get(str(p))) for p in (own or {}).get("parents") or [] if by_index.get(str(p))]


def version_row(doc: Doc) -> dict[str, Any]:
    runtime = doc.get("runtime") or {}
    return {
        "id": doc["id"],
        "version": runtime.get("version") or "",
        "status": doc.get("status"),
        "created": doc.get("created"),
        "files": runtime.get("ds_file_count"),
        "links": runtime.get("ds_link_count"),
        "size": runtime.get("ds_total_size"),
        "parents": parents(doc),
        "tags": doc.get("tags") or [],
    }


def routes(services: Services) -> list[Route]:
    def datasets(request: Request) -> Response:
        me = request_identity(request)
        query = ListQuery(
            system_tags=parse_tag_filter(["dataset"]),
            search_hidden=True,
            order_by=["-created"],
            page_size=MAX_VERSIONS,
        )
        found = services.tasks.list(me, query, _FIELDS)
        groups: dict[str, list[dict[str, Any]]] = {}
        for doc in found:
            groups.setdefault(doc.get("name") or "", []).append(version_row(doc))
        return page(request, "datasets.html", groups=sorted(groups.items()))

    return [Route("/datasets", datasets, methods=["GET"])]
