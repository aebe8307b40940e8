"""The gateway's pages (issue 11), through its domain layer: the dashboard (counts, request trends), serving
machines with their health, endpoints and enqueue templates with copyable public ids, and the request log."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.gateway.records import Kind
from clearway.errors import ValidationFailed
from clearway.services import Services
from clearway.timeutil import parse_iso
from clearway.web.projects import page_number
from clearway.web.rendering import page, secured

LOG_PAGE = 50


def _int(value: str | None, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 3:
        raise ValidationFailed(f"{name} is a whole number")
    return int(value)


def trend_charts(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Calls and errors per minute (last hour) and per hour (last day), summed per kind of call."""
    charts = []
    now = time.time()
    windows = {"per_minute": 3600, "per_hour": 24 * 3600}
    for key, label in (("per_minute", "calls per minute"), ("per_hour", "calls per hour")):
        sums: dict[str, dict[float, int]] = defaultdict(lambda: defaultdict(int))
        for point in stats["trends"][key]:
            moment = parse_iso(point["at"])
            if moment is None:
                continue
            sums[point["kind"]][moment.timestamp()] += point["calls"]
            sums["errors"][moment.timestamp()] += point["errors"]
        series = [
            {"name": name, "x": sorted(values), "y": [values[x] for x in sorted(values)]}
            for name, values in sorted(sums.items())
        ]
        if series:
            charts.append({"metric": label, "series": series, "time": True, "range": [now - windows[key], now]})
    return charts


def routes(services: Services) -> list[Route]:
    gateway = services.gateway

    def dashboard(request: Request) -> Response:
        me = request_identity(request)
        stats = gateway.log.stats(me)
        return page(
            request,
            "gateway.html",
            stats=stats,
            machines=gateway.records.list(me, Kind.MACHINE),
            endpoints=gateway.records.list(me, Kind.ENDPOINT),
            templates=gateway.records.list(me, Kind.TEMPLATE),
        )

    def trends(request: Request) -> Response:
        me = request_identity(request)
        body = {"charts": trend_charts(gateway.log.stats(me))}
        return secured(Response(orjson.dumps(body), media_type="application/json"))

    def logs(request: Request) -> Response:
        me = request_identity(request)
        params = request.query_params
        filters = {
            "kind": params.get("kind") or None,
            "record": params.get("record") or None,
            "caller": params.get("caller") or None,
            "status": _int(params.get("status"), "status"),
            "since": parse_iso(params.get("since")) if params.get("since") else None,
            "until": parse_iso(params.get("until")) if params.get("until") else None,
        }
        found = gateway.log.page(me, filters, page_number(request), LOG_PAGE)
        return page(
            request,
            "gateway_logs.html",
            log=found,
            page_number=found["page"],
            has_next=(found["page"] + 1) * LOG_PAGE < found["total"],
        )

    return [
        Route("/gateway", dashboard, methods=["GET"]),
        Route("/gateway/trends.json", trends, methods=["GET"]),
        Route("/gateway/logs", logs, methods=["GET"]),
    ]
