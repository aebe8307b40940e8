"""Pure edits of a task document's sections: hyperparameters, configuration, artifacts, models."""

from __future__ import annotations

import copy
import json
from typing import Any

from clearway.errors import ValidationFailed
from clearway.store.base import Doc
from clearway.timeutil import now_iso


def as_text(value: Any) -> Any:
    """Parameter and configuration values are text in ClearML (the SDK casts them back): a number or a boolean as
    ``str`` gives it, a list or an object as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def values_as_text(sections: dict[str, Any], depth: int) -> dict[str, Any]:
    """``hyperparams`` (``depth`` 2: section, then name) or ``configuration`` (1: name) with text values."""
    out = {}
    for key, entry in sections.items():
        if not isinstance(entry, dict):
            raise ValidationFailed(f"{key!r} must be an object")
        if depth > 1:
            out[key] = values_as_text(entry, depth - 1)
        else:
            out[key] = {**entry, "value": as_text(entry["value"])} if "value" in entry else entry
    return out


def edit_hyper_params(doc: Doc, items: list[dict[str, Any]], replace: str) -> Doc:
    """``replace``: ``none`` merges items, ``section`` replaces the sections named, ``all`` replaces everything."""
    if replace not in ("none", "section", "all"):
        raise ValidationFailed(f"invalid replace_hyperparams {replace!r}")
    params: dict[str, dict[str, Any]] = {} if replace == "all" else copy.deepcopy(doc.get("hyperparams") or {})
    if replace == "section":
        for item in items:
            params[item["section"]] = {}
    for item in items:
        section = item.get("section")
        name = item.get("name")
        if not isinstance(section, str) or not isinstance(name, str):
            raise ValidationFailed("each hyperparameter needs a section and a name")
        entry = {k: v for k, v in item.items() if k in ("section", "name", "value", "type", "description")}
        if "value" in entry:
            entry["value"] = as_text(entry["value"])
        params.setdefault(section, {})[name] = entry
    return {**doc, "hyperparams": params}


def hyper_params_list(doc: Doc) -> list[dict[str, Any]]:
    """The task's hyperparameters as ``tasks.get_hyper_params`` lists them: one item per section and name."""
    items = []
    for section, params in (doc.get("hyperparams") or {}).items():
        for name, item in (params or {}).items():
            if isinstance(item, dict):
                items.append({**item, "section": section, "name": name})
    return items


def delete_hyper_params(doc: Doc, items: list[dict[str, Any]]) -> Doc:
    params = copy.deepcopy(doc.get("hyperparams") or {})
    for item in items:
        section = params.get(item.get("section"), None)
        if section is None:
            continue
        if item.get("name") is None:
            params.pop(item["section"])
        else:
            section.pop(item["name"], None)
    return {**doc, "hyperparams": params}


def edit_configuration(doc: Doc, items: list[dict[str, Any]], replace: bool) -> Doc:
    config: dict[str, Any] = {} if replace else copy.deepcopy(doc.get("configuration") or {})
    for item in items:
        name = item.get("name")
        if not isinstance(name, str):
            raise ValidationFailed("each configuration item needs a name")
        entry = {k: v for k, v in item.items() if k in ("name", "value", "type", "description")}
        config[name] = {**entry, "value": as_text(entry["value"])} if "value" in entry else entry
    return {**doc, "configuration": config}


def set_requirements(doc: Doc, requirements: dict[str, Any]) -> Doc:
    script = dict(doc.get("script") or {})
    script["requirements"] = requirements
    return {**doc, "script": script}


def upsert_artifacts(doc: Doc, artifacts: list[dict[str, Any]]) -> Doc:
    """Artifacts are keyed by ``(key, mode)``; ``mode`` defaults to ``output``."""
    execution = copy.deepcopy(doc.get("execution") or {})
    current = execution.get("artifacts") or []
    by_key = {(a.get("key"), a.get("mode", "output")): a for a in current}
    for artifact in artifacts:
        if not isinstance(artifact, dict) or not isinstance(artifact.get("key"), str):
            raise ValidationFailed("each artifact needs a key")
        artifact = {**artifact, "mode": artifact.get("mode") or "output"}
        by_key[(artifact["key"], artifact["mode"])] = artifact
    execution["artifacts"] = list(by_key.values())
    return {**doc, "execution": execution}


def delete_artifacts(doc: Doc, artifacts: list[dict[str, Any]]) -> tuple[Doc, int]:
    execution = copy.deepcopy(doc.get("execution") or {})
    doomed = {(a.get("key"), a.get("mode") or "output") for a in artifacts}
    kept = [a for a in execution.get("artifacts") or [] if (a.get("key"), a.get("mode", "output")) not in doomed]
    deleted = len(execution.get("artifacts") or []) - len(kept)
    execution["artifacts"] = kept
    return {**doc, "execution": execution}, deleted


def upsert_model(doc: Doc, kind: str, name: str, model_id: str) -> Doc:
    if kind not in ("input", "output"):
        raise ValidationFailed(f"invalid model type {kind!r}")
    models = copy.deepcopy(doc.get("models") or {})
    entries = [m for m in models.get(kind) or [] if m.get("name") != name]
    entries.append({"name": name, "model": model_id, "updated": now_iso()})
    models[kind] = entries
    return {**doc, "models": models}


def delete_models(doc: Doc, items: list[dict[str, Any]]) -> Doc:
    models = copy.deepcopy(doc.get("models") or {})
    for item in items:
        kind = item.get("type", "output")
        models[kind] = [m for m in models.get(kind) or [] if m.get("name") != item.get("name")]
    return {**doc, "models": models}
