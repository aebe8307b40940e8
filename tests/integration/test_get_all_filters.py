"""ClearML's get_all filter rules, per field, on SQLite or PostgreSQL (CLEARWAY_TEST_DATABASE): the request as a
client sends it, through the ClearML surface's translation, against the store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from clearway.clearml_api.services.models import MODEL_FILTERS, ModelsGetAll
from clearway.clearml_api.services.tasks import TASK_FILTERS, TasksGetAll
from clearway.domain.identity import Identity
from clearway.errors import ValidationFailed
from clearway.services import Services


@pytest.fixture(scope="module")
def owner(make_user: Callable[..., Identity]) -> Identity:
    return make_user("filters-owner")


@pytest.fixture(scope="module")
def tasks(services: Services, owner: Identity) -> dict[str, str]:
    """Five tasks of one project, named a..e, with metrics, hyperparameters, models and texts to filter on."""
    project = services.projects.create(owner, {"name": f"filters-{uuid.uuid4().hex[:6]}"})["id"]
    values = {"a": -0.0, "b": -4.0, "c": -1.0, "d": 10.0, "e": None}
    lrs = {"a": "0.5", "b": "10", "c": "9", "d": "2e-3", "e": "1e400"}  # e: too big for a double, text
    ids = {}
    for name, value in values.items():
        doc = services.tasks.create(
            owner,
            {"name": name, "type": "training", "project": project, "comment": f"run {name.upper()} of the sweep"},
        )

        def fill(doc: dict[str, Any], name: str = name, value: float | None = value) -> dict[str, Any]:
            point = {"value": value, "min_value": value, "max_value": value}
            metrics = {"m": {"v": point}} if value is not None else {}
            return {
                **doc,
                "last_metrics": metrics,
                "hyperparams": {"Args": {"lr": {"section": "Args", "name": "lr", "value": lrs[name]}}},
                "runtime": {"version": "1.0" if name in "ab" else "2.0"},
                "models": {"input": [{"name": "in", "model": f"model-{name}"}], "output": []},
                "script": {"entry_point": f"train_{name}.py"},
            }

        services.tasks.mutate(owner, doc["id"], fill)
        ids[name] = doc["id"]
    return ids


def names(services: Services, who: Identity, tasks: dict[str, str], **request: Any) -> list[str]:
    query = TasksGetAll.model_validate({"id": list(tasks.values()), **request}).to_query(10_000, TASK_FILTERS)
    by_id = {v: k for k, v in tasks.items()}
    return [by_id[doc["id"]] for doc in services.tasks.list(who, query, ["id"])]


def test_order_by_a_json_path_sorts_numbers_as_numbers(services, owner, tasks):
    path = "last_metrics.m.v.value"
    assert names(services, owner, tasks, order_by=[path]) == ["e", "b", "c", "a", "d"]  # missing first
    assert names(services, owner, tasks, order_by=["-" + path]) == ["d", "a", "c", "b", "e"]
    # Hyperparameter values are text: those that read as numbers sort as numbers, before other text.
    assert names(services, owner, tasks, order_by=["hyperparams.Args.lr.value"]) == ["d", "a", "c", "b", "e"]


def test_ranges_lists_equality_and_patterns(services, owner, tasks):
    assert names(services, owner, tasks, **{"last_metrics.m.v.value": [-1.5, 0]}, order_by=["name"]) == ["a", "c"]
    # No minimum: a task without the metric matches too (ClearML's rule); numbers as text are read as numbers.
    assert names(services, owner, tasks, **{"last_metrics.m.v.max_value": [None, "-1"]}, order_by=["name"]) == [
        "b",
        "c",
        "e",
    ]
    assert names(services, owner, tasks, **{"hyperparams.Args.lr.value": ["9", "10"]}, order_by=["name"]) == ["b", "c"]
    assert names(services, owner, tasks, **{"hyperparams.Args.lr.value": ["__$not", "9"]}, order_by=["name"]) == [
        "a",
        "b",
        "d",
        "e",
    ]
    assert names(services, owner, tasks, **{"runtime.version": "1.0"}, order_by=["name"]) == ["a", "b"]
    assert names(services, owner, tasks, **{"models.input.model": ["model-d"]}) == ["d"]
    assert names(services, owner, tasks, comment="run [AB] of", order_by=["name"]) == ["a", "b"]
    assert names(services, owner, tasks, status=["-created"]) == []


def test_any_all_groups_and_search_text(services, owner, tasks):
    pattern = {"fields": ["name", "script.entry_point"], "pattern": "TRAIN_C"}
    assert names(services, owner, tasks, _any_=pattern) == ["c"]
    assert names(services, owner, tasks, _all_=pattern) == []
    assert names(services, owner, tasks, search_text="sweep", order_by=["name"]) == ["a", "b", "c", "d", "e"]
    assert names(services, owner, tasks, search_text="train_d.py missing-word") == ["d"]
    assert names(services, owner, tasks, search_text="model-e") == ["e"]
    assert names(services, owner, tasks, search_text='"run a" -nothing') == ["a"]
    assert names(services, owner, tasks, search_text="dsh0123456789abcdef") == []


def test_date_conditions_over_several_fields(services, owner, tasks):
    doc = services.tasks.get(owner, tasks["c"])
    after = {"fields": ["last_update", "last_change", "created"], "datetime": [f">{doc['last_update']}"]}
    assert "c" not in names(services, owner, tasks, _or_=after)  # strictly after
    at_or_after = {**after, "datetime": [f">={doc['last_update']}"]}
    assert "c" in names(services, owner, tasks, _or_=at_or_after)
    naive = doc["last_update"].replace("+00:00", "")  # a zone-less time is UTC
    assert names(services, owner, tasks, last_update=[f"<={naive}"], order_by=["name"])[-1] == "c"
    assert names(services, owner, tasks, last_change=[naive, None]) == names(services, owner, tasks, _or_=at_or_after)


def test_unknown_fields_are_ignored_and_bad_values_refused(services, owner, tasks):
    assert len(names(services, owner, tasks, task_types=["nonsense"], method="get", order_by=["no.such.field"])) == 5
    for bad in (
        {"last_metrics.m.v.value": [1]},
        {"last_metrics.m.v.value": ["x", None]},
        {"last_update": [">yesterday"]},
        {"_or_": "name"},
        {"comment": "("},
    ):
        with pytest.raises(ValidationFailed):
            names(services, owner, tasks, **bad)


def test_models_filter_on_metadata_and_ready(services, owner):
    tag = uuid.uuid4().hex[:6]
    for name, stage in (("m1", "prod"), ("m2", "dev"), ("m3", None)):
        doc = services.models.create(owner, {"name": f"{tag}-{name}", "uri": "file:///w", "tags": [tag]})
        if stage:
            services.models.set_metadata(owner, doc["id"], [{"key": "stage.of", "type": "str", "value": stage}], False)

    def found(**request: Any) -> list[str]:
        query = ModelsGetAll.model_validate({"tags": [tag], "order_by": ["name"], **request}).to_query(
            10_000, MODEL_FILTERS
        )
        return [doc["name"].split("-")[1] for doc in services.models.list(owner, query, None)]

    assert found(**{"metadata.stage.of.value": "prod"}) == ["m1"]
    assert found(**{"metadata.stage.of.value": ["prod", "dev"]}) == ["m1", "m2"]
    assert found(**{"metadata.stage.of.value": [None]}) == ["m3"]
    assert found(ready=False) == ["m1", "m2", "m3"]
    assert found(ready=True) == []
