"""Operations on the JSON documents the ClearML API exchanges: the input check, projections and merges."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from typing import Any

from clearway.errors import ValidationFailed

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


MAX_DEPTH = 64  # nesting levels of objects and lists a client may send
MAX_NAME = 500  # characters of a project, task or model name (what every database's name column holds)
_INT64 = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json(value: Any, what: str = "request") -> None:
    """Refuse what a client sent unless every store can keep it and give it back: at most :data:`MAX_DEPTH`
    levels of nesting, strings (and keys) without NUL characters or lone surrogates, integers that fit in 64
    bits, finite numbers. Raises ValidationFailed naming the first problem. Parsed JSON only (exact types): it
    walks level by level, without recursion, at about half the cost of parsing."""
    level = [value]
    depth = 0
    while level:
        depth += 1
        below: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is dict:
                if depth > MAX_DEPTH:
                    raise ValidationFailed(f"{what} is nested more than {MAX_DEPTH} levels deep")
                for key in item:
                    _check_text(key, what)
                below.extend(item.values())
            elif kind is list:
                if depth > MAX_DEPTH:
                    raise ValidationFailed(f"{what} is nested more than {MAX_DEPTH} levels deep")
                below.extend(item)
            elif kind is str:
                _check_text(item, what)
            elif kind is int and not -_INT64 <= item < _INT64:
                raise ValidationFailed(f"{what}: integers must fit in 64 bits")
            elif kind is float and not math.isfinite(item):
                raise ValidationFailed(f"{what}: numbers must be finite (no NaN or Infinity)")
        level = below


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise ValidationFailed(f"{what}: text must not contain NUL characters")
    if not text.isascii() and _SURROGATE.search(text):
        raise ValidationFailed(f"{what}: text must be valid Unicode (a lone surrogate was found)")


def check_lengths(fields: dict[str, Any], limits: dict[str, int], what: str) -> None:
    """Refuse text fields longer than their columns hold (PostgreSQL refuses them; SQLite would keep them)."""
    for key, limit in limits.items():
        value = fields.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise ValidationFailed(f"{what} {key} longer than {limit} characters")
