"""Log lines as text or as JSON objects (``CLEARWAY_LOG_FORMAT=json``), each carrying the id of the request it
belongs to. Nothing here logs headers, query strings or bodies: tokens, keys and passwords never reach a log."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from clearway.settings import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("clearway_request_id", default=None)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            line["request_id"] = rid
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        rid = request_id.get()
        return " ".join(part for part in (text, extra, f"request_id={rid}" if rid else "") if part)


def configure_logging(settings: Settings) -> None:
    """Send every logger's records to stderr in the configured format (once per process)."""
    root = logging.getLogger()
    if any(getattr(handler, "clearway", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.clearway = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    if settings.log_level != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # a schema made at start is one line, not twenty
