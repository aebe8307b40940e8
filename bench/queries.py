"""ClearML's query features: a page of ``tasks.get_all`` ordered by a JSON path (what HyperParameterOptimizer asks
for), filtered by a metric range (what a TriggerScheduler on a threshold asks for), and found by ``search_text``,
each beside the same page ordered by an indexed column, measured interleaved in the same run."""

from __future__ import annotations

from datetime import timedelta

from bench.backends import connect_raw
from bench.clearway_server import ClearwayServer
from bench.common import Context, Result, interleave
from bench.listing import _get_all

TITLE = "Query features"
PAGE = 100
METRIC = "last_metrics.m.v.value"
REFERENCE = "the same page ordered by -last_update (an indexed column)"


def run(ctx: Context) -> list[Result]:
    count = max(ctx.sizes.tasks // 5, 500)
    results = []
    for backend in ctx.backends:
        server = ctx.clearway(backend)
        project = _seed(server, count)
        http = ctx.stack.enter_context(server.client())
        base = {"project": [project], "only_fields": ["id", "name"], "page_size": PAGE, "page": 0}
        plain = {**base, "order_by": ["-last_update"]}
        cases = {
            f"ordered by a metric (-{METRIC})": {**base, "order_by": [f"-{METRIC}"]},
            f"in a metric range ({METRIC}: [0, 10])": {**plain, METRIC: [0, 10]},
            'found by search_text ("run 42")': {**plain, "search_text": '"run 42"'},
        }
        measures = [_get_all(http, body) for body in (plain, *cases.values())]
        samples = interleave(ctx.sizes.latency_requests, *measures)
        for i, label in enumerate(cases, start=1):
            results.append(
                Result(
                    "queries",
                    f"tasks.get_all {label}, {count:,} tasks [{backend.name}]",
                    "ms",
                    samples[i],
                    higher_is_better=False,
                    reference=REFERENCE,
                    reference_samples=samples[0],
                )
            )
    return results


def _seed(server: ClearwayServer, count: int) -> str:
    """``count`` tasks of one project, each with a metric and a comment; returns the project's id."""
    from clearway.domain.ids import new_id
    from clearway.timeutil import iso, utcnow

    me = server.identity
    start = utcnow() - timedelta(seconds=count)
    with server.services() as services:
        project = services.projects.create(me, {"name": "query features"})["id"]
        template = services.tasks.create(me, {"name": "template", "type": "training", "project": project})
        with services.stores.transaction():
            for i in range(count):
                value = (i * 7919 % 1000) / 10 - 50
                moment = iso(start + timedelta(seconds=i))
                services.stores.tasks.insert(
                    me.org_id,
                    me.user_id,
                    {
                        **template,
                        "id": new_id(),
                        "name": f"trial {i:06d}",
                        "comment": f"run {i}",
                        "created": moment,
                        "last_update": moment,
                        "last_metrics": {"m": {"v": {"value": value, "min_value": value, "max_value": value}}},
                    },
                )
    if server.backend.name == "postgresql":
        with connect_raw(server.database_url) as conn:  # what autovacuum does soon after a bulk load
            conn.execute("ANALYZE tasks")
    return project
