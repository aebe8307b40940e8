"""The ``meta``/``data`` envelope; the HTTP status always equals ``meta.result_code``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from clearway.errors import ClearwayError
from clearway.timeutil import iso


def _meta(endpoint: str, version: str, code: int, subcode: int, msg: str, error_data: dict[str, Any]) -> dict:
    return {
        "id": uuid.uuid4().hex,
        "trx": uuid.uuid4().hex,
        "endpoint": {"name": endpoint, "requested_version": version, "actual_version": "1.0"},
        "result_code": code,
        "result_subcode": subcode,
        "result_msg": msg,
        "error_stack": None,
        "error_data": error_data,
    }


def _plain(value: Any) -> str:
    """A value JSON has no type for: a datetime as the SDK parses it (timeutil.iso), anything else as text."""
    return iso(value) if isinstance(value, datetime) else str(value)


def _json(payload: dict[str, Any], status: int) -> Response:
    try:  # orjson: a 10,000-line log page in a tenth of the time; datetimes as _plain writes them
        body = orjson.dumps(payload, default=_plain, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)
    except TypeError:  # an integer beyond 64 bits, which only json writes
        body = json.dumps(payload, separators=(",", ":"), default=_plain).encode()
    return Response(body, status_code=status, media_type="application/json")


def ok(endpoint: str, version: str, data: dict[str, Any] | None) -> Response:
    return _json({"meta": _meta(endpoint, version, 200, 0, "OK", {}), "data": data or {}}, 200)


def error(endpoint: str, version: str, exc: ClearwayError) -> Response:
    meta = _meta(endpoint, version, exc.status, exc.subcode, exc.message, exc.data)
    return _json({"meta": meta, "data": {}}, exc.status)
