"""The gateway's request log: one row per call (never a token nor a parameter value), written in batches by a
background thread so that the call path only appends to a list; read back as pages and per-minute/per-hour trends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from clearway.domain.access import may_administer
from clearway.domain.identity import Identity
from clearway.errors import ValidationFailed
from clearway.store.base import Doc, Stores
from clearway.store.gateway import GatewayLogFilter
from clearway.timeutil import iso, utcnow

log = logging.getLogger(__name__)
KINDS = ("ondemand", "enqueue")
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000
MAX_BUFFER = 100_000  # rows kept while the database cannot take them; older ones are dropped past this
TREND_MINUTES = 60
TREND_HOURS = 24


class RequestLog:
    def __init__(self, stores: Stores, retention_days: int, flush_sec: float, clock: Callable[[], datetime] = utcnow):
        self.stores = stores
        self.retention_days = retention_days
        self.flush_sec = flush_sec
        self.clock = clock
        self._rows: list[Doc] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned: datetime | None = None

    # writing
    def add(
        self,
        *,
        kind: str,
        identity: Identity | None,
        client_ip: str | None,
        record_id: str | None,
        endpoint: str | None,
        status: int,
        latency_ms: float,
        bytes_in: int,
        bytes_out: int,
        error: str | None = None,
    ) -> None:
        """Note one call (cheap: the row is written by the next flush)."""
        at = self.clock()
        row = {
            "at": at,
            "minute": int(at.timestamp() // 60),
            "org_id": identity.org_id if identity else None,
            "caller_id": identity.user_id if identity else None,
            "client_ip": _text(client_ip, 64),
            "kind": kind,
            "record_id": _text(record_id, 64),
            "endpoint": _text(endpoint, 300),
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "error": _text(error, 500),
        }
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_BUFFER:
                del self._rows[: len(self._rows) - MAX_BUFFER]

    def flush(self) -> int:
        """Write the buffered rows; how many. On failure they stay buffered for the next try."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                self.stores.gateway.add_log(rows)
            except Exception:
                with self._lock:
                    self._rows[:0] = rows
                raise
            return len(rows)

    def prune(self) -> int:
        return self.stores.gateway.prune_log(self.clock() - timedelta(days=self.retention_days))

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="clearway-gateway-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - at shutdown, a log that cannot be written is only reported
            log.exception("could not write the gateway request log")

    def _run(self) -> None:
        while not self._stop.wait(self.flush_sec):
            try:
                self.flush()
                now = self.clock()
                if self._pruned is None or now - self._pruned > timedelta(hours=1):
                    self._pruned = now
                    self.prune()
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("could not write the gateway request log")

    # reading
    def page(self, identity: Identity, filters: dict[str, Any], page: int, page_size: int) -> Doc:
        """A page of the log, newest first: an admin's of the organisation, anyone else's of its own calls."""
        if not 0 <= page <= MAX_PAGE or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailed(f"page is 0 to {MAX_PAGE}, page_size 1 to {MAX_PAGE_SIZE}")
        status = filters.get("status")
        if status is not None and not 100 <= status <= 599:
            raise ValidationFailed("status is an HTTP status, 100 to 599")
        kind = filters.get("kind")
        if kind is not None and kind not in KINDS:
            raise ValidationFailed(f"kind is one of {', '.join(KINDS)}")
        caller = filters.get("caller")
        if not may_administer(identity):
            if caller not in (None, identity.user_id):
                return {"items": [], "total": 0, "page": page, "page_size": page_size}
            caller = identity.user_id
        self.flush()
        where = GatewayLogFilter(
            org_id=identity.org_id,
            since=filters.get("since"),
            until=filters.get("until"),
            kind=kind,
            record_id=filters.get("record"),
            caller_id=caller,
            status=filters.get("status"),
            page=page,
            page_size=page_size,
        )
        rows, total = self.stores.gateway.log(where)
        items = [_item(row) for row in rows]
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def stats(self, identity: Identity) -> Doc:
        """The dashboard's figures: live records, and calls per minute (last hour) and per hour (last day), per
        endpoint and per template. An admin's cover the organisation; anyone else's, the records it owns."""
        self.flush()
        now_minute = int(self.clock().timestamp() // 60)
        rows = self.stores.gateway.log_minutes(identity.org_id, now_minute - TREND_HOURS * 60 + 1)
        if may_administer(identity):
            counts = self.stores.gateway.counts(identity.org_id)
        else:
            owned = {
                kind: [r["id"] for r in self.stores.gateway.records(identity.org_id, kind, identity.user_id)]
                for kind in ("machine", "endpoint", "template")
            }
            counts = {kind: len(ids) for kind, ids in owned.items()}
            mine = {record_id for ids in owned.values() for record_id in ids}
            rows = [row for row in rows if row["record_id"] in mine]
        per_minute: dict[tuple[int, str, str | None, str | None], list[int]] = {}
        per_hour: dict[tuple[int, str, str | None, str | None], list[int]] = {}
        for row in rows:
            key = (row["kind"], row["record_id"], row["endpoint"])
            if row["minute"] > now_minute - TREND_MINUTES:
                _add(per_minute, (row["minute"] * 60, *key), row)
            _add(per_hour, ((row["minute"] // 60) * 3600, *key), row)
        totals = {kind: sum(r["calls"] for r in rows if r["kind"] == kind) for kind in KINDS}
        return {
            "machines": counts.get("machine", 0),
            "endpoints": counts.get("endpoint", 0),
            "templates": counts.get("template", 0),
            "calls": totals,
            "trends": {"per_minute": _series(per_minute), "per_hour": _series(per_hour)},
        }


def _text(value: str | None, limit: int) -> str | None:
    """Text every database keeps (no NUL, no lone surrogate), cut to its column: a row that cannot be written would
    hold back the rows behind it."""
    if not value:
        return None
    return value[:limit].replace("\x00", "").encode("utf-8", "replace").decode("utf-8") or None


def _item(row: Doc) -> Doc:
    row = dict(row)
    row["record"] = row.pop("record_id")
    row["caller"] = row.pop("caller_id")
    return row


def _add(buckets: dict[Any, list[int]], key: Any, row: Doc) -> None:
    counts = buckets.setdefault(key, [0, 0])
    counts[0] += row["calls"]
    counts[1] += row["errors"]


def _series(buckets: dict[Any, list[int]]) -> list[Doc]:
    return [
        {
            "at": iso(datetime.fromtimestamp(start, tz=utcnow().tzinfo)),
            "kind": kind,
            "record": record,
            "endpoint": endpoint,
            "calls": calls,
            "errors": errors,
        }
        for (start, kind, record, endpoint), (calls, errors) in sorted(buckets.items(), key=lambda kv: kv[0][:2])
    ]
