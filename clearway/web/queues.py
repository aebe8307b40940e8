"""Queues and workers: queue lengths and waiting times, the waiting tasks (reordered by their queue's managers),
live workers with their current task, and CPU/GPU charts from the workers' reports."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.query import ListQuery
from clearway.domain.queues import BACK, FRONT
from clearway.errors import ValidationFailed
from clearway.services import Services
from clearway.timeutil import parse_iso, utcnow
from clearway.web import PREFIX
from clearway.web.rendering import checked_form, page, redirect, secured, text

STATS_WINDOW_SEC = 3600
STATS_INTERVAL_SEC = 60
_STATS = [("cpu_usage", "CPU %"), ("gpu_usage", "GPU %"), ("memory_used", "memory used (MB)")]
_MOVES = {"front": FRONT, "up": 1, "down": -1, "back": BACK}
MAX_ENTRIES = 200


def _waiting_sec(entries: list[dict[str, Any]]) -> float | None:
    added = [parse_iso(e.get("added")) for e in entries]
    oldest = min((a for a in added if a), default=None)
    return (utcnow() - oldest).total_seconds() if oldest else None


def routes(services: Services) -> list[Route]:
    def queues(request: Request) -> Response:
        me = request_identity(request)
        found = services.queues.list(me, ListQuery(order_by=["name"], page_size=200), None, MAX_ENTRIES)
        rows = [
            {"queue": q, "length": services.queues.count(me, q["id"]), "waiting": _waiting_sec(q["entries"])}
            for q in found
        ]
        workers = services.workers.list(me)
        return page(request, "queues.html", rows=rows, workers=workers)

    def queue(request: Request) -> Response:
        me = request_identity(request)
        doc = services.queues.get(me, request.path_params["queue_id"], MAX_ENTRIES)
        ids = [e["task"] for e in doc.get("entries") or []]
        tasks = {t["id"]: t for t in services.tasks.list(me, ListQuery(ids=ids, search_hidden=True), ["id", "name"])}
        return page(
            request,
            "queue.html",
            queue=doc,
            tasks=tasks,
            length=services.queues.count(me, doc["id"]),
            waiting=_waiting_sec(doc.get("entries") or []),
        )

    async def move(request: Request) -> Response:
        form = await checked_form(request)
        me = request_identity(request)
        queue_id = request.path_params["queue_id"]
        offset = _MOVES.get(text(form, "move"))
        if offset is None:
            raise ValidationFailed(f"move is one of {sorted(_MOVES)}")
        await run_in_threadpool(services.queues.move, me, queue_id, text(form, "task"), offset)
        return redirect(f"{PREFIX}/queues/{queue_id}")

    def worker_stats(request: Request) -> Response:
        """CPU, GPU and memory of every live worker over the last hour, as uPlot charts (one per statistic)."""
        me = request_identity(request)
        until = time.time()
        items = [{"key": key, "category": "avg"} for key, _label in _STATS]
        found = services.workers.stats(me, None, items, until - STATS_WINDOW_SEC, until, STATS_INTERVAL_SEC)
        charts = []
        for key, label in _STATS:
            series = []
            for worker in found:
                for metric in worker["metrics"]:
                    if metric["metric"] == key and metric["dates"] and metric["stats"]:
                        series.append(
                            {"name": worker["worker"], "x": metric["dates"], "y": metric["stats"][0]["values"]}
                        )
            if series:
                window = [until - STATS_WINDOW_SEC, until]
                charts.append({"metric": label, "series": series, "time": True, "range": window})
        return secured(Response(orjson.dumps({"charts": charts}), media_type="application/json"))

    return [
        Route("/queues", queues, methods=["GET"]),
        Route("/queues/{queue_id}", queue, methods=["GET"]),
        Route("/queues/{queue_id}/move", move, methods=["POST"]),
        Route("/workers/stats.json", worker_stats, methods=["GET"]),
    ]
