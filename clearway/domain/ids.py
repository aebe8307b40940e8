"""Record ids: random, 32 hex characters, like ClearML's."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"^[0-9a-zA-Z_\-.]{1,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def looks_like_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))
