"""Enqueue templates' parameter specs and the values callers send."""

import pytest

from clearway.domain.gateway.params import apply, check_specs, check_values, parse_spec
from clearway.errors import ValidationFailed


def test_specs_from_the_command_line():
    assert parse_spec("epochs:int:1:100") == {"name": "epochs", "type": "int", "min": 1, "max": 100}
    assert parse_spec("Args/lr:float:0:0.5") == {"name": "Args/lr", "type": "float", "min": 0, "max": 0.5}
    assert parse_spec("label:str::20") == {"name": "label", "type": "str", "min": None, "max": 20}
    assert parse_spec("fast:bool") == {"name": "fast", "type": "bool", "min": None, "max": None}
    for bad in ("epochs", "epochs:integer", "a:int:x:1", "a:int:5:1", "a:bool:0:1", "bad name:int", "a:int:1:2:3"):
        with pytest.raises(ValidationFailed):
            parse_spec(bad)
    with pytest.raises(ValidationFailed, match="twice"):
        check_specs([parse_spec("a:int"), parse_spec("a:float")])


SPECS = [parse_spec(s) for s in ("epochs:int:1:100", "lr:float:0:1", "label:str:1:5", "fast:bool", "Args/seed:int")]


def test_values_are_checked_and_kept_as_text():
    given = {"epochs": 3, "lr": 0.25, "label": "ok", "fast": True, "Args/seed": -7}
    assert check_values(SPECS, given) == {
        "epochs": "3",
        "lr": "0.25",
        "label": "ok",
        "fast": "True",
        "Args/seed": "-7",
    }
    assert check_values(SPECS, None) == {} and check_values(SPECS, {}) == {}
    assert check_values(SPECS, {"lr": 1}) == {"lr": "1.0"}  # an integer is a number


@pytest.mark.parametrize(
    "given",
    [
        {"epochs": 0},
        {"epochs": 101},
        {"epochs": 2.5},
        {"epochs": "3"},
        {"epochs": True},
        {"lr": float("inf")},
        {"lr": "0.1"},
        {"label": ""},
        {"label": "toolong"},
        {"label": 5},
        {"fast": 1},
        {"unknown": 1},
        [1],
        "x",
    ],
)
def test_bad_values_are_refused_naming_the_allowed_params(given):
    with pytest.raises(ValidationFailed) as refused:
        check_values(SPECS, given)
    assert "epochs (an integer 1..100)" in refused.value.message and "Args/seed" in refused.value.message


def test_values_become_the_clones_hyperparameters():
    hyperparams = {"General": {"epochs": {"section": "General", "name": "epochs", "value": "10", "type": "int"}}}
    out = apply(hyperparams, {"epochs": "3", "Args/seed": "7", "lr": "0.5"})
    assert out["General"]["epochs"] == {"section": "General", "name": "epochs", "value": "3", "type": "int"}
    assert out["General"]["lr"] == {"section": "General", "name": "lr", "value": "0.5"}
    assert out["Args"]["seed"] == {"section": "Args", "name": "seed", "value": "7"}
    assert hyperparams["General"]["epochs"]["value"] == "10"  # the template's own are untouched
