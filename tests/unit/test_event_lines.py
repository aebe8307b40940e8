"""events.add_batch bodies: the one-shot fast parse gives exactly what parsing line by line gives, or steps aside."""

from __future__ import annotations

import json

import pytest

from clearway.clearml_api.services.events import _parse_lines
from clearway.errors import MalformedJSON

LINES = [
    {"type": "training_stats_scalar", "task": "t", "iter": 1, "metric": "loss", "variant": "v", "value": 0.5},
    {"type": "log", "task": "t", "msg": "a\nb \u2028 c", "level": "info", "timestamp": 1},
    {"type": "plot", "task": "t", "plot_str": '{"data": [1, 2]}', "nested": [[1], {"k": None}]},
]


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\n\n", "\n  \n"])
def test_lines_parse_alike_whatever_the_line_endings(separator: str) -> None:
    body = separator.join(json.dumps(line) for line in LINES).encode()
    assert _parse_lines(body)[0] == LINES


def test_a_list_a_single_object_and_an_empty_body() -> None:
    assert _parse_lines(json.dumps(LINES).encode())[0] == LINES
    assert _parse_lines(json.dumps(LINES[0]).encode())[0] == [LINES[0]]
    assert _parse_lines(b"")[0] == [] and _parse_lines(b" \n ")[0] == []


def test_nan_and_huge_numbers_keep_json_semantics() -> None:
    parsed, _ = _parse_lines(b'{"value": NaN}\n{"value": 123456789012345678901234567890}')
    assert parsed[0]["value"] != parsed[0]["value"]
    assert parsed[1]["value"] == 123456789012345678901234567890


@pytest.mark.parametrize("body", [b'{"a": 1}\n{broken', b'{"a": [1,\n2]}', b'{"a": 1}, {"b": 2}'])
def test_malformed_lines_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedJSON):
        _parse_lines(body)


@pytest.mark.parametrize(
    ("body", "checked"),
    [
        (b'{"msg": "fine"}\n{"msg": "\\u00e9t\\u00e9 \\ud83d\\ude00"}', True),  # the fast path: text known storable
        (b'{"msg": "a\\u0000b"}', False),  # a NUL: every event's text is checked
        (b'{"msg": "\\ud800"}', False),  # a lone surrogate: orjson steps aside, json parses it
    ],
)
def test_whether_the_text_still_needs_a_check(body: bytes, checked: bool) -> None:
    assert _parse_lines(body)[1] is checked
