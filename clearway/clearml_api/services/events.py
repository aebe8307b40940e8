"""events.*: json-lines ingestion and the reads the SDK uses."""

from __future__ import annotations

import json
from typing import Any

import orjson

from clearway.clearml_api.context import Call
from clearway.clearml_api.registry import Request, Service
from clearway.domain.documents import MAX_DEPTH
from clearway.domain.events import decode_lines, lines_as_array
from clearway.errors import MalformedJSON, ValidationFailed
from clearway.ops import metrics

service = Service("events")


class TaskLogRequest(Request):
    task: str
    batch_size: int = 500
    navigate_earlier: bool = True
    order: str | None = None  # default: the direction of navigation (latest first when navigating earlier)
    scroll_id: str | None = None
    from_timestamp: int | None = None


class TaskEventsRequest(Request):
    task: str
    event_type: str | None = None
    batch_size: int = 500
    order: str = "asc"
    scroll_id: str | None = None
    metrics: list[dict[str, Any]] | None = None


class HistogramRequest(Request):
    task: str
    key: str = "iter"
    samples: int | None = None


class PlotsRequest(Request):
    task: str
    iters: int = 1


class DebugImagesRequest(Request):
    metrics: list[dict[str, Any]]
    iters: int = 1
    scroll_id: str | None = None


# Every image asked for is in the first answer; this scroll id says so, and an answer to it has no iterations.
DEBUG_IMAGES_END = "debug-images-end"


class SingleValueRequest(Request):
    tasks: list[str]


def _batch_size(value: int) -> int:
    if not 1 <= value <= 10_000:
        raise ValidationFailed("batch_size must be between 1 and 10000")
    return value


def _order(value: str | None) -> str | None:
    if value not in ("asc", "desc", None):
        raise ValidationFailed("order must be asc or desc")
    return value


@service.endpoint("add_batch", raw_body=True)
def add_batch(call: Call, _req: None) -> dict[str, Any]:
    lines = decode_lines(call.body)
    if lines is not None:
        result = call.services.events.add_lines(call.me, lines)
    else:
        events, text_checked = _parse_lines(call.body)
        result = call.services.events.add_batch(call.me, events, text_checked=text_checked)
    metrics.EVENTS_INGESTED.inc(result["added"])
    return result


@service.endpoint("add", raw_body=True)
def add(call: Call, _req: None) -> dict[str, Any]:
    return add_batch(call, _req)


def _parse_lines(body: bytes) -> tuple[list[Any], bool]:
    """A json-lines body (the SDK's and agent's form); a JSON list or a single object also works. Also whether
    its text is known storable: orjson refuses lone surrogates, and a NUL can only come as a ``\\u0000`` escape,
    so the usual body needs no check of its text event by event."""
    events = _lines_at_once(body)
    if events is not None:
        return events, b"\\u0000" not in body
    try:
        text = body.decode("utf-8", errors="strict") if body else ""
        stripped = text.strip()
        if stripped.startswith("["):
            events = json.loads(stripped)
        else:
            events = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJSON(f"Malformed event line: {exc}") from exc
    except RecursionError as exc:
        raise MalformedJSON(f"An event is nested more than {MAX_DEPTH} levels deep") from exc
    return events, False


def _lines_at_once(body: bytes) -> list[Any] | None:
    """The fast path: the lines parsed as one JSON list with orjson, five times faster than line by line with json.

    None when that does not give exactly one value per line (blank lines, a value spread over lines, a NaN, bad
    UTF-8...): the caller then parses line by line, with json's semantics and its error messages.
    """
    joined = lines_as_array(body)
    if joined is None:
        return None
    try:
        events = orjson.loads(joined[0])
    except orjson.JSONDecodeError:
        return None
    return events if len(events) == joined[1] else None


@service.endpoint("get_task_log", TaskLogRequest)
def get_task_log(call: Call, req: TaskLogRequest) -> dict[str, Any]:
    return call.services.events.task_log(
        call.me,
        req.task,
        batch_size=_batch_size(req.batch_size),
        navigate_earlier=req.navigate_earlier,
        order=_order(req.order),
        scroll_id=req.scroll_id,
        from_timestamp=req.from_timestamp,
    )


@service.endpoint("get_task_events", TaskEventsRequest)
def get_task_events(call: Call, req: TaskEventsRequest) -> dict[str, Any]:
    metric = (req.metrics or [{}])[0].get("metric") if req.metrics else None
    return call.services.events.task_events(
        call.me,
        req.task,
        event_type=req.event_type,
        batch_size=_batch_size(req.batch_size),
        order=_order(req.order),
        scroll_id=req.scroll_id,
        metric=metric,
    )


@service.endpoint("scalar_metrics_iter_histogram", HistogramRequest)
def scalar_metrics_iter_histogram(call: Call, req: HistogramRequest) -> dict[str, Any]:
    if req.key not in ("iter", "timestamp", "iso_time"):
        raise ValidationFailed("key must be iter, timestamp or iso_time")
    return call.services.events.scalar_histogram(call.me, req.task, req.key, req.samples)


@service.endpoint("get_task_plots", PlotsRequest)
def get_task_plots(call: Call, req: PlotsRequest) -> dict[str, Any]:
    return call.services.events.plots(call.me, req.task, req.iters)


@service.endpoint("debug_images", DebugImagesRequest)
def debug_images(call: Call, req: DebugImagesRequest) -> dict[str, Any]:
    if not req.metrics or not all(isinstance(m.get("task"), str) for m in req.metrics):
        raise ValidationFailed("metrics must name tasks")
    for m in req.metrics:
        if not isinstance(m.get("metric"), str | None) or not isinstance(m.get("variants"), list | None):
            raise ValidationFailed("a metric is a name and its variants a list of names")
    exhausted = req.scroll_id == DEBUG_IMAGES_END
    results = [
        call.services.events.debug_images(
            call.me, m["task"], req.iters, m.get("metric"), m.get("variants"), exhausted=exhausted
        )
        for m in req.metrics
    ]
    return {"metrics": [m for r in results for m in r["metrics"]], "scroll_id": DEBUG_IMAGES_END}


@service.endpoint("get_task_single_value_metrics", SingleValueRequest)
def get_task_single_value_metrics(call: Call, req: SingleValueRequest) -> dict[str, Any]:
    return {"tasks": call.services.events.single_values(call.me, req.tasks)}
