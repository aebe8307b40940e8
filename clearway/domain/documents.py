"""Operations on the JSON documents the ClearML API exchanges: projections and merges."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

_MISSING = object()


def project_fields(doc: dict[str, Any], only_fields: Iterable[str] | None) -> dict[str, Any]:
    """Keep only the dotted paths asked for, and always ``id``.

    A parent that exists is kept even when the leaf is missing: ``runtime.version`` on ``runtime: {}`` gives
    ``{"runtime": {}}`` (the SDK's ``Dataset.create`` reads ``task.runtime.get(...)``).
    """
    if not only_fields:
        return doc
    out: dict[str, Any] = {"id": doc.get("id")}
    for path in only_fields:
        parts = path.split(".")
        source: Any = doc
        target = out
        for i, part in enumerate(parts):
            if not isinstance(source, dict) or part not in source:
                break
            value = source[part]
            if i == len(parts) - 1:
                target[part] = copy.deepcopy(value)
            elif isinstance(value, dict):
                target = target.setdefault(part, {})
                source = value
            else:
                target[part] = copy.deepcopy(value)
                break
    return out


def merge_one_level(current: dict[str, Any], update: dict[str, Any], replace: frozenset[str]) -> dict[str, Any]:
    """Merge ``update`` into ``current`` the way ClearML's ``edit`` does.

    Top-level keys are replaced, except embedded documents (dict values), which are merged one level deep;
    keys in ``replace`` are always replaced whole.
    """
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key)
        if key not in replace and isinstance(old, dict) and isinstance(value, dict):
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    return merged
