"""Request bodies of the gateway's routes: bounded in size, JSON objects, with the fields each route needs."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from clearway.domain.documents import check_json
from clearway.errors import MalformedJSON, RequestTooLarge, ValidationFailed


async def raw_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be longer than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}`` when not ``required``)."""
    if not body.strip():
        if required:
            raise ValidationFailed("The body must be a JSON object")
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedJSON() from exc
    if not isinstance(value, dict):
        raise ValidationFailed("The body must be a JSON object")
    check_json(value, "request body")
    return value


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationFailed(f"{name} is required, as a non-empty string")
    return value


def only_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationFailed(f"unknown fields {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
