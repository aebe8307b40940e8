"""The parameters an enqueue template lets callers override: each with a type and optional limits.

A spec is written ``NAME:TYPE[:MIN:MAX]`` on the command line (``--param epochs:int:1:100``). ``NAME`` is a task
hyperparameter, ``Section/name``, or a bare ``name`` for the ``General`` section (where ``task.connect`` of a
dict puts it). ``TYPE`` is ``int``, ``float``, ``bool`` or ``str``; ``MIN``/``MAX`` bound a number's value or a
string's length (either may be left empty). Callers' values are checked here and become the clone's
hyperparameters, as text, the way ClearML keeps them.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from clearway.errors import ValidationFailed
from clearway.store.base import Doc

TYPES = ("int", "float", "bool", "str")
DEFAULT_SECTION = "General"
MAX_PARAMS = 100
MAX_TEXT = 10_000  # longest string value, whatever the spec says
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}(/[A-Za-z0-9_.\- ]{1,200})?$")


def parse_spec(text: str) -> Doc:
    """``NAME:TYPE[:MIN:MAX]`` as ``{name, type, min, max}``."""
    parts = text.split(":")
    if len(parts) not in (2, 3, 4):
        raise ValidationFailed(f"param {text!r} is not NAME:TYPE[:MIN:MAX]")
    return check_spec({"name": parts[0], "type": parts[1], "min": _bound(parts, 2), "max": _bound(parts, 3)})


def check_spec(spec: Any) -> Doc:
    """A spec as given to the admin API (``{name, type, min, max}``), checked and normalised."""
    if not isinstance(spec, dict):
        raise ValidationFailed("a param is an object with name and type")
    name, kind = spec.get("name"), spec.get("type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationFailed(f"param name {name!r} is not NAME or Section/NAME (letters, digits, _ . -)")
    if kind not in TYPES:
        raise ValidationFailed(f"param {name!r}: type {kind!r} is not one of {', '.join(TYPES)}")
    low, high = spec.get("min"), spec.get("max")
    for bound in (low, high):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise ValidationFailed(f"param {name!r}: limits must be numbers")
        if bound is not None and kind == "bool":
            raise ValidationFailed(f"param {name!r}: a bool has no limits")
    if low is not None and high is not None and low > high:
        raise ValidationFailed(f"param {name!r}: min {low} is above max {high}")
    return {"name": name, "type": kind, "min": low, "max": high}


def check_specs(specs: list[Any]) -> list[Doc]:
    if len(specs) > MAX_PARAMS:
        raise ValidationFailed(f"at most {MAX_PARAMS} params")
    checked = [check_spec(spec) for spec in specs]
    names = [spec["name"] for spec in checked]
    if len(set(names)) != len(names):
        raise ValidationFailed("a param is named twice")
    return checked


def check_values(specs: list[Doc], given: Any) -> dict[str, str]:
    """The caller's values by param name, as text; unknown names, wrong types and values out of limits are refused
    with a message naming the allowed params."""
    if given is None:
        return {}
    allowed = {spec["name"]: spec for spec in specs}
    listing = ", ".join(f"{s['name']} ({_describe(s)})" for s in specs) or "none"
    if not isinstance(given, dict):
        raise ValidationFailed(f"params must be an object; allowed params: {listing}")
    unknown = sorted(name for name in given if name not in allowed)
    if unknown:
        raise ValidationFailed(f"unknown params {', '.join(map(repr, unknown))}; allowed params: {listing}")
    return {name: _value(allowed[name], value, listing) for name, value in given.items()}


def apply(hyperparams: Doc, values: dict[str, str]) -> Doc:
    """The task's hyperparameters with the caller's values set."""
    out = copy.deepcopy(hyperparams or {})
    for name, value in values.items():
        section, _, key = name.partition("/") if "/" in name else (DEFAULT_SECTION, "", name)
        entry = out.setdefault(section, {}).get(key) or {"section": section, "name": key}
        out[section][key] = {**entry, "value": value}
    return out


def _value(spec: Doc, value: Any, listing: str) -> str:
    name, kind = spec["name"], spec["type"]
    wrong = ValidationFailed(f"param {name!r} must be {_describe(spec)}; allowed params: {listing}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return "True" if value else "False"
    if kind == "str":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise wrong
        measure: float = len(value)
        text = value
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        measure, text = value, str(value)
    else:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise wrong
        measure, text = float(value), repr(float(value))
    if (spec["min"] is not None and measure < spec["min"]) or (spec["max"] is not None and measure > spec["max"]):
        raise wrong
    return text


def _describe(spec: Doc) -> str:
    low, high = spec["min"], spec["max"]
    what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}[spec["type"]]
    if low is None and high is None:
        return what
    scale = " long" if spec["type"] == "str" else ""
    if low is not None and high is not None:
        return f"{what} {_num(low)}..{_num(high)}{scale}"
    return f"{what} >= {_num(low)}{scale}" if low is not None else f"{what} <= {_num(high)}{scale}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bound(parts: list[str], index: int) -> float | None:
    if index >= len(parts) or parts[index] == "":
        return None
    try:
        number = float(parts[index])
    except ValueError as exc:
        raise ValidationFailed(f"param limit {parts[index]!r} is not a number") from exc
    return int(number) if number.is_integer() else number
