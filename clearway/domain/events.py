"""Task events: ingestion (keeping ``last_iteration`` and ``last_metrics`` current) and the reads the SDK uses."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from typing import Any

import msgspec

from clearway.domain.access import Scope, read_scope, write_scope
from clearway.domain.documents import check_json
from clearway.domain.identity import Identity
from clearway.domain.task_status import LOCKED
from clearway.errors import BatchTooLarge, InvalidTaskId, ValidationFailed
from clearway.store.base import Doc, Stores

SCALAR = "training_stats_scalar"
LOG = "log"
MONITOR_METRICS = frozenset({":monitor:machine", ":monitor:gpu"})
_SINGLE_VALUE_ITER = -(2**31)
_MISSING = object()
_NUMBER = (int, float)  # a tuple: isinstance with it is faster than with int | float, and this runs per event
_INF = math.inf
_INT64 = 2**63  # iterations and timestamps are stored in 64-bit columns
# Rows in their tables' column order: (task, metric, variant, iter, value, timestamp) and
# (task, timestamp, level, worker, msg).
ScalarRow = tuple[str, str, str, int, Any, int]
LogRow = tuple[str, int, str, str, str]


class EventLine(msgspec.Struct):
    """One scalar or console event as the SDK and the agent send them: decoded straight from the body, about five
    times faster than a dict that is then checked field by field. A batch that does not fit (another event type,
    a field of another type, a missing value) goes through :meth:`Events.add_batch` instead."""

    task: str
    type: str
    timestamp: int | None = None
    iter: int = 0
    metric: str = ""
    variant: str = ""
    value: float | None = None
    level: str = "info"
    worker: str | None = None
    msg: str = ""
    allow_locked: bool = False


_LINES = msgspec.json.Decoder(list[EventLine])


def lines_as_array(body: bytes) -> tuple[bytes, int] | None:
    """A json-lines body as one JSON array, to decode at once, and its number of lines; None for an empty body or
    one that already is a JSON list. The decoder must then give one value per line (else a value spread over lines,
    or blank lines, fooled the join: parse line by line instead)."""
    lines = body.strip()
    if not lines or lines.startswith(b"["):
        return None
    return b"[" + lines.replace(b"\n", b",") + b"]", lines.count(b"\n") + 1


def decode_lines(body: bytes) -> list[EventLine] | None:
    """A json-lines body of valid scalar and console events only, decoded at once; None when it is anything else
    (the caller then parses it generally, with per-event errors)."""
    joined = lines_as_array(body)
    if joined is None or b"\\u0000" in body:  # NUL (msgspec keeps it; no database does): the general path refuses it
        return None
    try:
        events = _LINES.decode(joined[0])
    except msgspec.DecodeError:
        return None
    if len(events) != joined[1]:
        return None
    for event in events:
        if (
            not event.task
            or (event.type != SCALAR and (event.type != LOG))
            or (event.type == SCALAR and event.value is None)
            or not -_INT64 <= event.iter < _INT64
            or (event.timestamp is not None and not -_INT64 <= event.timestamp < _INT64)
        ):
            return None
    return events


class Events:
    def __init__(self, stores: Stores, max_per_batch: int) -> None:
        self.stores = stores
        self.max_per_batch = max_per_batch

    def add_lines(self, identity: Identity, lines: list[EventLine]) -> dict[str, Any]:
        """``events.add_batch`` of scalar and console events decoded by :func:`decode_lines`."""
        self._check_size(len(lines))
        scope = write_scope(identity)
        tasks = self.stores.tasks.get_many(scope, {line.task for line in lines})
        errors: dict[str, int] = defaultdict(int)
        if len(tasks) < len({line.task for line in lines}) or any(
            doc.get("status") in LOCKED for doc in tasks.values()
        ):
            lines = [line for line in lines if _accepts(tasks.get(line.task), line.allow_locked, errors, line.task)]
        now_ms = int(time.time() * 1000)
        scalars = [
            (
                line.task,
                line.metric[:255],
                line.variant[:255],
                line.iter,
                line.value if -_INF < line.value < _INF else 0.0,  # type: ignore[operator]
                now_ms if line.timestamp is None else line.timestamp,
            )
            for line in lines
            if line.type == SCALAR
        ]
        logs = [
            (
                line.task,
                now_ms if line.timestamp is None else line.timestamp,
                (line.level or "info")[:32],
                (line.worker or "")[:255],
                line.msg,
            )
            for line in lines
            if line.type == LOG
        ]
        by_task: dict[str, list[ScalarRow]] = defaultdict(list)
        for row in scalars:
            by_task[row[0]].append(row)
        return self._commit(scope, scalars, logs, [], by_task, errors)

    def add_batch(self, identity: Identity, events: list[Any], *, text_checked: bool = False) -> dict[str, Any]:
        """Store the events the caller may add; ``text_checked``: the caller knows that no text in them has NUL
        characters or lone surrogates (else every event's text is checked)."""
        self._check_size(len(events))
        scalars: list[ScalarRow] = []
        logs: list[LogRow] = []
        others: list[Doc] = []
        errors: dict[str, int] = defaultdict(int)
        accepted: dict[str, list[ScalarRow]] = defaultdict(list)
        scope = write_scope(identity)
        shaped = []
        now_ms = int(time.time() * 1000)
        for event in events:
            try:
                kind, row = _shape(event, now_ms)
                if not text_checked:
                    _check_text(row[1] if kind == "other" else row)
                shaped.append(((kind, row), event))
            except ValidationFailed as exc:
                errors[exc.message] += 1
        tasks = self.stores.tasks.get_many(scope, {_task_of(kind, row) for (kind, row), _ in shaped})
        for (kind, row), event in shaped:
            task_id = _task_of(kind, row)
            if not _accepts(tasks.get(task_id), bool(event.get("allow_locked")), errors, task_id):
                continue
            if kind == "scalar":
                scalars.append(row)
                accepted[task_id].append(row)
            elif kind == "log":
                logs.append(row)
            else:
                others.append(row[0])
                accepted[task_id].append(row[1])
        return self._commit(scope, scalars, logs, others, accepted, errors)

    def _check_size(self, count: int) -> None:
        if count > self.max_per_batch:
            raise BatchTooLarge(f"{count} events in one batch; the limit is {self.max_per_batch}")

    def _commit(
        self,
        scope: Scope,
        scalars: list[ScalarRow],
        logs: list[LogRow],
        others: list[Doc],
        accepted: dict[str, list[ScalarRow]],
        errors: dict[str, int],
    ) -> dict[str, Any]:
        """Store the rows and fold each task's metrics, in one transaction."""
        with self.stores.transaction():
            self.stores.events.add(scalars, logs, others)
            for task_id, rows in accepted.items():
                self.stores.tasks.update(scope, task_id, lambda doc, rows=rows: _fold_metrics(doc, rows))
        added = len(scalars) + len(logs) + len(others)
        return {"added": added, "errors": sum(errors.values()), "errors_info": dict(errors)}

    # reads
    def _task(self, identity: Identity, task_id: Any) -> Doc:
        doc = self.stores.tasks.get(read_scope(identity), task_id) if isinstance(task_id, str) else None
        if doc is None:
            raise InvalidTaskId(id=task_id)
        return doc

    def scalar_histogram(self, identity: Identity, task_id: str, key: str, samples: int | None) -> Doc:
        self._task(identity, task_id)
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for point in self.stores.events.scalars(task_id):
            if point.iter == _SINGLE_VALUE_ITER:
                continue
            series = out.setdefault(point.metric, {}).setdefault(
                point.variant, {"name": point.variant, "x": [], "y": []}
            )
            x = point.timestamp if key == "timestamp" else point.iter
            if series["x"] and series["x"][-1] == x:
                series["y"][-1] = point.value
            else:
                series["x"].append(x)
                series["y"].append(point.value)
        if samples:
            for variants in out.values():
                for series in variants.values():
                    _downsample(series, samples)
        return out

    def single_values(self, identity: Identity, task_ids: list[str]) -> list[Doc]:
        out = []
        for task_id in task_ids:
            self._task(identity, task_id)
            values = [
                {"metric": p.metric, "variant": p.variant, "value": p.value, "timestamp": p.timestamp}
                for p in self.stores.events.scalars(task_id)
                if p.iter == _SINGLE_VALUE_ITER
            ]
            out.append({"task": task_id, "values": values})
        return out

    def task_log(
        self,
        identity: Identity,
        task_id: str,
        *,
        batch_size: int,
        navigate_earlier: bool,
        order: str | None,
        scroll_id: str | None,
        from_timestamp: int | None,
    ) -> Doc:
        self._task(identity, task_id)
        position = _parse_position(scroll_id)
        if position is None and from_timestamp is not None:
            position = (from_timestamp, 0 if navigate_earlier else 2**62)
        if navigate_earlier:
            rows = self.stores.events.log_page(task_id, before=position, after=None, limit=batch_size, descending=True)
        else:
            rows = self.stores.events.log_page(task_id, before=None, after=position, limit=batch_size, descending=False)
        next_scroll = f"{rows[-1][1]}:{rows[-1][0]}" if rows else scroll_id
        natural = "desc" if navigate_earlier else "asc"
        if (order or natural) != natural:
            rows.reverse()
        events = [
            {"type": LOG, "task": task_id, "timestamp": timestamp, "level": level, "worker": worker, "msg": msg}
            for _id, timestamp, level, worker, msg in rows
        ]
        total = self.stores.events.count(task_id, "log")
        return {"events": events, "returned": len(events), "total": total, "scroll_id": next_scroll}

    def task_events(
        self,
        identity: Identity,
        task_id: str,
        *,
        event_type: str | None,
        batch_size: int,
        order: str,
        scroll_id: str | None,
        metric: str | None = None,
    ) -> Doc:
        self._task(identity, task_id)
        after = _scroll_number(scroll_id) if scroll_id else 0
        descending = order == "desc"
        if event_type == SCALAR:
            rows = self.stores.events.scalar_page(task_id, after, batch_size, descending)
            events = [
                {
                    "type": SCALAR,
                    "task": task_id,
                    **{k: r[k] for k in ("metric", "variant", "iter", "value", "timestamp")},
                }
                for r in rows
            ]
            total = self.stores.events.count(task_id, "scalar")
        elif event_type == LOG:
            log = self.task_log(
                identity,
                task_id,
                batch_size=batch_size,
                navigate_earlier=descending,
                order=order,
                scroll_id=scroll_id,
                from_timestamp=None,
            )
            return log
        else:
            types = [event_type] if event_type else ["plot", "training_debug_image"]
            rows = self.stores.events.other_page(task_id, types, after, batch_size, descending, metric)
            events = [{k: v for k, v in r.items() if k != "id"} for r in rows]
            total = sum(self.stores.events.count(task_id, "other", t) for t in types)
        next_scroll = str(rows[-1]["id"]) if rows else (scroll_id or "")
        return {"events": events, "returned": len(events), "total": total, "scroll_id": next_scroll}

    def plots(self, identity: Identity, task_id: str, iters: int) -> Doc:
        self._task(identity, task_id)
        plots = self.stores.events.last_iterations(task_id, "plot", max(1, iters))
        return {"plots": plots, "returned": len(plots), "total": len(plots), "scroll_id": ""}

    def debug_images(
        self,
        identity: Identity,
        task_id: str,
        iters: int,
        metric: str | None = None,
        variants: list[str] | None = None,
        *,
        exhausted: bool = False,
    ) -> Doc:
        """The last ``iters`` iterations of each image series, of ``metric`` and ``variants`` when named.
        ``exhausted``: the caller already has them all (it scrolls on, as the SDK's ``get_debug_samples`` does
        until an answer has no iterations): each metric asked for, with none."""
        self._task(identity, task_id)
        images = [] if exhausted else self.stores.events.last_iterations(task_id, "training_debug_image", max(1, iters))
        grouped: dict[tuple[str, str], list[Doc]] = defaultdict(list)
        for image in images:
            key = (image.get("metric", ""), image.get("variant", ""))
            if (metric is None or key[0] == metric) and (not variants or key[1] in variants):
                grouped[key].append(image)
        if exhausted and metric is not None:
            return {"metrics": [{"task": task_id, "metric": metric, "iterations": []}], "scroll_id": ""}
        metrics: dict[str, list[Doc]] = defaultdict(list)
        for (metric, _variant), events in grouped.items():
            metrics[metric].extend(events)
        return {
            "metrics": [{"task": task_id, "metric": m, "iterations": _by_iteration(ev)} for m, ev in metrics.items()],
            "scroll_id": "",
        }


def _by_iteration(events: list[Doc]) -> list[Doc]:
    iterations: dict[int, list[Doc]] = defaultdict(list)
    for event in events:
        iterations[event.get("iter", 0)].append(event)
    return [{"iter": it, "events": evs} for it, evs in sorted(iterations.items(), reverse=True)]


def _task_of(kind: str, row: Any) -> str:
    return row[1][0] if kind == "other" else row[0]


def _accepts(task: Doc | None, allow_locked: bool, errors: dict[str, int], task_id: str) -> bool:
    """Whether an event may be added to this task (None: unknown or out of reach); counts the error if not."""
    if task is None:
        errors[f"invalid task id {task_id}"] += 1
        return False
    if task.get("status") in LOCKED and not allow_locked:
        errors["task is published; events are not accepted"] += 1
        return False
    return True


def _shape(event: Any, now_ms: int) -> tuple[str, Any]:
    """Validate one event and shape it as a row of its table (``now_ms``: the timestamp of one without): the kind
    and a :data:`ScalarRow`, a :data:`LogRow`, or for any other type the document and its metric row."""
    if not isinstance(event, dict):
        raise ValidationFailed("event is not an object")
    task = event.get("task")
    if not isinstance(task, str) or not task:
        raise ValidationFailed("event without task")
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise ValidationFailed("event without type")
    timestamp = _int(event.get("timestamp"), default=now_ms)
    if event_type == LOG:
        msg = event.get("msg", "")
        if not isinstance(msg, str):
            check_json(msg, "event")
            msg = json.dumps(msg)
        return "log", (task, timestamp, _text(event.get("level") or "info", 32), _text(event.get("worker"), 255), msg)
    metric = _text(event.get("metric"), 255)
    variant = _text(event.get("variant"), 255)
    iteration = _int(event.get("iter"), default=0)
    if event_type == SCALAR:
        value = event.get("value")
        if value.__class__ is not float:  # the usual case skips these checks (this runs per event)
            if isinstance(value, bool) or not isinstance(value, _NUMBER):
                raise ValidationFailed("scalar event without a numeric value")
            value = float(value)
        if not math.isfinite(value):
            value = 0.0
        return "scalar", (task, metric, variant, iteration, value, timestamp)
    doc = {k: v for k, v in event.items() if k not in ("method", "allow_locked")}
    check_json(doc, "event")
    doc.update(timestamp=timestamp, iter=iteration, metric=metric, variant=variant)
    row = {
        "task": task,
        "type": event_type[:64],
        "metric": metric,
        "variant": variant,
        "iter": iteration,
        "timestamp": timestamp,
        "doc": doc,
    }
    return "other", (row, (task, metric, variant, iteration, None, timestamp))


def _int(value: Any, default: int) -> int:
    """An iteration or timestamp: a number that fits the 64-bit columns it is stored in."""
    if value.__class__ is int and -_INT64 <= value < _INT64:  # the usual case first: this runs per event
        return value
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise ValidationFailed(f"expected a number, got {value!r}")
    if not (isinstance(value, int) or math.isfinite(value)) or not -_INT64 <= value < _INT64:
        raise ValidationFailed("numbers of events must fit in 64 bits")
    return int(value)


def _text(value: Any, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters; None and other falsy values give ``""``."""
    if value.__class__ is str:
        return value[:limit]
    return str(value or "")[:limit]


def _check_text(row: tuple[Any, ...]) -> None:
    """Refuse a row with text no store can keep: NUL characters, lone surrogates."""
    for value in row:
        if value.__class__ is str and ("\x00" in value or not value.isascii() and not _valid_unicode(value)):
            raise ValidationFailed("event text must be valid Unicode without NUL characters")


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _fold_metrics(doc: Doc, rows: list[ScalarRow]) -> Doc:
    """``last_iteration`` (ignoring machine monitoring) and ``last_metrics`` after these events' rows (a value of
    None: an event without one, e.g. a plot, which counts only for the iteration)."""
    last_iteration = doc.get("last_iteration") or 0
    last_metrics = {k: dict(v) for k, v in (doc.get("last_metrics") or {}).items()}
    series: dict[tuple[str, str], list[ScalarRow]] = defaultdict(list)
    for row in rows:
        _task, metric, variant, iteration, value, _ts = row
        if iteration > last_iteration and iteration != _SINGLE_VALUE_ITER and metric not in MONITOR_METRICS:
            last_iteration = iteration
        if value is not None:
            series[(metric, variant)].append(row)
    # Series by series (in order of first appearance), so the hashes and the entry are made once per series.
    for (metric, variant), points in series.items():
        variants = last_metrics.setdefault(_md5(metric), {})
        key = _md5(variant)
        entry = dict(variants.get(key) or {"metric": metric, "variant": variant, "count": 0})
        last, low, high = (entry.get(k, _MISSING) for k in ("iter", "min_value", "max_value"))
        for _task, _metric, _variant, iteration, value, timestamp in points:
            if last is _MISSING or iteration >= last:
                last = iteration
                entry.update(value=value, iter=iteration, timestamp=timestamp)
            if low is _MISSING or value < low:
                low = value
                entry.update(min_value=value, min_value_iteration=iteration)
            if high is _MISSING or value > high:
                high = value
                entry.update(max_value=value, max_value_iteration=iteration)
        entry["count"] = entry.get("count", 0) + len(points)
        variants[key] = entry
    return {**doc, "last_iteration": last_iteration, "last_metrics": last_metrics}


def _downsample(series: dict[str, list[Any]], samples: int) -> None:
    n = len(series["x"])
    if n <= samples:
        return
    step = n / samples
    picks = [int(i * step) for i in range(samples)]
    series["x"] = [series["x"][i] for i in picks]
    series["y"] = [series["y"][i] for i in picks]


def _parse_position(scroll_id: str | None) -> tuple[int, int] | None:
    if not scroll_id:
        return None
    ts, _, row_id = scroll_id.partition(":")
    return _scroll_number(ts, signed=True, whole=scroll_id), _scroll_number(row_id, whole=scroll_id)


def _scroll_number(text: str, *, signed: bool = False, whole: str | None = None) -> int:
    """A number in a scroll id: ASCII digits (``int`` would take any script's), within 64 bits."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise ValidationFailed(f"invalid scroll_id {whole or text!r}")
    return int(text)
