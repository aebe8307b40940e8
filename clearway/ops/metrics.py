"""Prometheus metrics at ``/metrics``, for one process or several (``clearway server --workers N``).

Two kinds, and how another module adds its own:
- Counted in the process as things happen (requests, events ingested, dispatches): declare one with
  :func:`counter`, :func:`gauge` or :func:`histogram` at import time, then ``.inc()`` / ``.observe()`` it. With
  several worker processes their values are summed across processes (prometheus-client's multiprocess mode).
- Read from the database when scraped (queue lengths, live workers: the same on every replica): register a function
  with :func:`on_scrape`; it gets the app's services and yields metric families.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ScrapeFunction = Callable[[Any], Iterable[Metric]]  # gets the app's Services
_declared: dict[str, Any] = {}
_on_scrape: list[ScrapeFunction] = []


def _declare(kind: type, name: str, documentation: str, labels: Iterable[str], **options: Any) -> Any:
    """The metric of that name, declared once per process however often a module asks for it."""
    if name not in _declared:
        _declared[name] = kind(name, documentation, list(labels), **options)
    return _declared[name]


def counter(name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
    return _declare(Counter, name, documentation, labels)  # type: ignore[no-any-return]


def gauge(name: str, documentation: str, labels: Iterable[str] = (), mode: str = "livesum") -> Gauge:
    """``mode``: how worker processes' values combine (prometheus-client's ``multiprocess_mode``)."""
    return _declare(Gauge, name, documentation, labels, multiprocess_mode=mode)  # type: ignore[no-any-return]


def histogram(name: str, documentation: str, labels: Iterable[str] = (), buckets: Iterable[float] = ()) -> Histogram:
    options = {"buckets": tuple(buckets)} if buckets else {}
    return _declare(Histogram, name, documentation, labels, **options)  # type: ignore[no-any-return]


def on_scrape(collect: ScrapeFunction) -> ScrapeFunction:
    """Register a function read at every scrape (usable as a decorator)."""
    if collect not in _on_scrape:
        _on_scrape.append(collect)
    return collect


def multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


def render(services: Any) -> bytes:
    """The text exposition: this process's (or all workers') metrics, then what the database says now."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(_ScrapeCollector(services))
    return generate_latest(registry) + generate_latest(state)


def process_ended() -> None:
    """Drop this worker's live gauges from the shared directory when it stops."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())


class _ScrapeCollector(Collector):
    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        for collect in _on_scrape:
            yield from collect(self.services)


# What every Clearway server counts.
REQUESTS = counter("clearway_http_requests_total", "HTTP requests answered", ["endpoint", "status"])
LATENCY = histogram(
    "clearway_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_INGESTED = counter("clearway_events_ingested_total", "Task events stored (scalars, console lines, plots...)")
DISPATCHES = counter("clearway_dispatches_total", "Tasks handed to agents by queues.get_next_task")
QUEUE_WAIT = histogram(
    "clearway_queue_wait_seconds",
    "Time a task waited in its queue before an agent took it",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
DB_CONNECTIONS = gauge("clearway_db_connections_in_use", "Database connections checked out of the pool")


def instrument_pool(engine: Any) -> None:
    """Count the engine's connections in use (pool checkouts minus checkins)."""
    from sqlalchemy import event

    event.listen(engine, "checkout", lambda *_: DB_CONNECTIONS.inc())
    event.listen(engine, "checkin", lambda *_: DB_CONNECTIONS.dec())


@on_scrape
def _cluster_state(services: Any) -> Iterator[Metric]:
    """Queue lengths and waits, and live workers, from the database (the same answer on every replica)."""
    lengths = GaugeMetricFamily("clearway_queue_length", "Tasks waiting in a queue", labels=["org", "queue"])
    oldest = GaugeMetricFamily(
        "clearway_queue_oldest_wait_seconds", "How long the first task of a queue has waited", labels=["org", "queue"]
    )
    for backlog in services.stores.sweep.queue_backlog():
        lengths.add_metric([backlog.org, backlog.queue], backlog.length)
        oldest.add_metric([backlog.org, backlog.queue], backlog.oldest_wait_sec)
    workers = GaugeMetricFamily("clearway_workers_live", "Agent workers that reported within their timeout")
    workers.add_metric([], services.stores.sweep.live_workers())
    yield from (lengths, oldest, workers)
