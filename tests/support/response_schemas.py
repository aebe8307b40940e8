"""Checks recorded ClearML API answers against the response schemas the clients themselves ship.

The ``clearml`` SDK carries the API's service schemas in ``clearml/backend_api/services/v2_*`` (and
``clearml-agent`` its older ``v2_4``/``v2_5``): each request class's response class has a JSON schema. A server
started with ``CLEARWAY_RECORD_RESPONSES_DIR`` writes every successful answer there (``clearway/clearml_api/
recorder.py``); :func:`check_recorded` validates each against the schema of the version its client asked for, and
says which endpoint and which field of the answer do not match. Timestamps (``format: date-time``) must also parse
with the SDK's own parser, which refuses a trailing ``Z``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError

Version = tuple[int, ...]
_PACKAGES = ("clearml_agent.backend_api.services", "clearml.backend_api.services")
_INDEX = re.compile(r"\[\d+\]")
_DEFINITION_REF = re.compile(r'"\$ref":"#/definitions/([^"]+)"')


def _version(text: str) -> Version:
    return tuple(int(part) for part in text.split(".") if part)


@cache
def _schemas() -> dict[Version, dict[str, dict[str, Any]]]:
    """``{version: {"service.action": response schema}}`` for every services module the clients ship."""
    out: dict[Version, dict[str, dict[str, Any]]] = {}
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for version_module in pkgutil.iter_modules(package.__path__):
            if not version_module.name.startswith("v2_"):
                continue
            version = _version(version_module.name[1:].replace("_", "."))
            table = out.setdefault(version, {})
            path = [str(Path(p) / version_module.name) for p in package.__path__]
            for service in pkgutil.iter_modules(path):
                module = importlib.import_module(f"{package_name}.{version_module.name}.{service.name}")
                models = _data_models(module)
                for request, response in getattr(module, "response_mapping", {}).items():
                    table[f"{request._service}.{request._action}"] = _with_definitions(response._schema, models)
    return out


def _data_models(module: Any) -> dict[str, dict[str, Any]]:
    """The module's data-model schemas by the name a ``$ref`` gives them (``DebugImagesResponseTaskMetrics`` is
    ``#/definitions/debug_images_response_task_metrics``)."""
    return {
        re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): value._schema
        for name, value in vars(module).items()
        if isinstance(value, type) and isinstance(getattr(value, "_schema", None), dict)
    }


def _with_definitions(schema: dict[str, Any], models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Some response schemas refer to definitions they do not carry (``events.debug_images`` from v2.20 on: the
    SDK builds that answer from its data-model class, never validating it): those are added from the module's data
    models, so that no reference points nowhere."""
    definitions = dict(schema.get("definitions") or {})
    pending = _DEFINITION_REF.findall(orjson.dumps(schema).decode())
    while pending:
        name = pending.pop()
        if name not in definitions and name in models:
            definitions[name] = models[name]
            pending += _DEFINITION_REF.findall(orjson.dumps(models[name]).decode())
    return {**schema, "definitions": definitions} if definitions else schema


def schema_for(endpoint: str, requested: str) -> tuple[Version, dict[str, Any]] | None:
    """The schema the client that asked for ``requested`` parses with: the newest module at or below that version
    defining the endpoint, else the oldest above it; None when no client knows the endpoint."""
    wanted = _version(requested)
    known = sorted((v, t[endpoint]) for v, t in _schemas().items() if endpoint in t)
    at_or_below = [pair for pair in known if pair[0] <= wanted]
    if at_or_below:
        return at_or_below[-1]
    return known[0] if known else None


def _sdk_parses(value: object) -> bool:
    """Whether the SDK's own timestamp parser takes the value (it raises on ``...Z``)."""
    if not isinstance(value, str):
        return True
    from clearml.backend_interface.util import datetime_from_isoformat

    try:
        datetime_from_isoformat(value)
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_sdk_parses)


@cache
def _validator(version: Version, endpoint: str) -> Draft4Validator:
    return Draft4Validator(_schemas()[version][endpoint], format_checker=_FORMATS)


@dataclass
class Mismatch:
    endpoint: str
    version: Version
    field: str
    problem: str
    count: int = 1

    def __str__(self) -> str:
        version = ".".join(map(str, self.version))
        return f"{self.endpoint} (schema v{version}) {self.field}: {self.problem} [{self.count} answer(s)]"


@dataclass
class Report:
    checked: int = 0
    unknown: dict[str, int] = field(default_factory=dict)  # endpoints no client's schema describes
    mismatches: dict[tuple[str, Version, str, str], Mismatch] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"{len(self.mismatches)} kind(s) of ClearML answers do not match the SDK's response schemas:"]
        lines += [f"  {m}" for m in sorted(self.mismatches.values(), key=str)]
        return "\n".join(lines)


def _deepest(error: ValidationError) -> ValidationError:
    """Inside ``oneOf: [{$ref: task}, {type: null}]``, the error about the field that is wrong, not the whole."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def _field(error: ValidationError) -> str:
    path = "data"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problem(error: ValidationError) -> str:
    if error.validator == "format":
        return f"{error.instance!r} does not parse with the SDK's datetime_from_isoformat"
    message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    return message


def check(records: Iterable[tuple[str, str, Any]]) -> Report:
    """Validate ``(endpoint, requested version, data)`` answers; identical answers are checked once."""
    report = Report()
    seen: set[bytes] = set()
    for endpoint, requested, data in records:
        key = orjson.dumps([endpoint, requested, data], option=orjson.OPT_SORT_KEYS)
        if key in seen:
            continue
        seen.add(key)
        found = schema_for(endpoint, requested)
        if found is None:
            report.unknown[endpoint] = report.unknown.get(endpoint, 0) + 1
            continue
        report.checked += 1
        version = found[0]
        for error in map(_deepest, _validator(version, endpoint).iter_errors(data)):
            where = _field(error)
            problem = _problem(error)
            kind = (endpoint, version, _INDEX.sub("[]", where), error.validator)
            if kind in report.mismatches:
                report.mismatches[kind].count += 1
            else:
                report.mismatches[kind] = Mismatch(endpoint, version, where, problem)
    return report


def recorded(directory: Path) -> Iterator[tuple[str, str, Any]]:
    """The answers a server recorded with ``CLEARWAY_RECORD_RESPONSES_DIR=directory``."""
    for path in sorted(directory.glob("*.jsonl")):
        with path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    entry = orjson.loads(line)
                    yield entry["endpoint"], entry["version"], entry["response"].get("data") or {}


def check_recorded(directory: Path) -> Report:
    return check(recorded(directory))
