"""Generated input against every ClearML endpoint, every admin route and the file server: random and hostile
bodies never get a 5xx or a dropped connection.

Bodies are drawn with hypothesis from the endpoints' own request models (each field a plausible value of its
type, one of the caller's real ids, or a hostile one: huge and non-finite numbers, NUL, lone surrogates, deep
nesting, regular expressions that backtrack, traversal), from the admin API's OpenAPI document, and for the file
server from random paths, methods, ranges and multipart bodies. The number of examples is bounded (the ``ci``
profile below: deterministic, about a minute per database); ``CLEARWAY_FUZZ_EXAMPLES=N`` draws N per target and
random ones, for a deeper run by hand.
"""

from __future__ import annotations

import json
import os
import types
import typing
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from clearway.clearml_api.registry import Endpoint, collect
from clearway.clearml_api.services import ALL as CLEARML_SERVICES
from tests.e2e.api import call, data
from tests.support.clients import client_for, user_id
from tests.support.files import multipart, raw_request, upload
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

DEEPER = int(os.environ.get("CLEARWAY_FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "clearway-fuzz",
    max_examples=DEEPER or 6,
    derandomize=not DEEPER,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("clearway-fuzz")
ENDPOINTS: dict[str, Endpoint] = collect(CLEARML_SERVICES)

# Values that once crashed a server somewhere: each must be refused cleanly or handled.
HOSTILE_TEXT = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "²", "٣", "-", ".", "..", "../../token-secret", "%2e%2e/%00",
    "a" * 600, "'\"", '"; DROP TABLE tasks; --', "^(a+)+$", "(a)\\1", "(?P<n>x)", "\\p{L}", "[", "a{99999}",
    "\u202e", "${jndi:ldap://x}", "<script>", "NaN", "9" * 40, "-9" * 20, "0" * 32, "name\"", "a..b", "{x}",
    "__$all", "__$not", "-archived", "hidden", "in_progress", "-last_update",
]  # fmt: skip
HOSTILE_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30), 0.5, 1e308, -1e308]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_TEXT),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
) | st.sampled_from([nested(40), nested(70), nested(400)])


class Known:
    """Real ids of the caller's own records (and strings that look like ids), so bodies reach the code behind
    the id lookups too; ``by_field`` names the one that fits a field (``task``, ``project``...)."""

    ids: list[str] = []
    files: list[str] = []
    by_field: dict[str, str] = {}


def text_value() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE_TEXT), st.sampled_from(Known.ids or ["x"]))


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    """A plausible value of the annotated type, or (as often) something else entirely."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_annotation(arg) for arg in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(for_annotation(args[0]) if args else json_value, max_size=5)
    if origin is dict:
        return st.dictionaries(text_value(), for_annotation(args[1]) if args else json_value, max_size=4)
    if annotation is type(None):
        return st.none()
    if annotation is str:
        return text_value()
    if annotation is bool:
        return st.booleans()
    if annotation in (int, float):
        return st.one_of(st.integers(min_value=-1000, max_value=10**6), st.sampled_from(HOSTILE_NUMBERS))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_body(annotation)
    return json_value


HOSTILE_VALUES = [
    *HOSTILE_TEXT,
    *HOSTILE_NUMBERS,
    float("nan"),
    float("inf"),
    None,
    True,
    [],
    {},
    ["\ud800"],
    ["\x00", "x" * 600],
    {"\ud800": 1},
    {"k": "\x00"},
    nested(70),
    nested(400),
]


def model_body(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A body for the request model: plausible values for some of its fields, often one field (or an extra key)
    set to a hostile value."""
    fields = {name: for_annotation(f.annotation) for name, f in model.model_fields.items()}
    base = st.fixed_dictionaries({}, optional=fields) if fields else st.just({})
    names = [*fields, "method", "__proto__", "\x00", "\ud800"]
    poisoned = st.tuples(base, st.sampled_from(names), st.sampled_from(HOSTILE_VALUES))
    return st.one_of(poisoned.map(lambda b: {**b[0], b[1]: b[2]}), base)


# One value of each kind of trouble; every endpoint gets each of them, in turn on each of its fields.
HOSTILE_KINDS = ["\ud800", "a\x00b", "n" * 600, 10**30, 2**63, float("nan"), nested(70), "^(a+)+$", "(?P<n>x)",
                 {"\ud800": [1]}, -1, "9" * 40, [["deep"]], "..%2f..%2ftoken-secret"]  # fmt: skip


def plausible(name: str, annotation: Any) -> Any:
    """A value a client could well send for the field: the caller's own record's id for an id field."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return plausible(name, next((arg for arg in args if arg is not type(None)), str))
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return [plausible(name, args[0] if args else str)]
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {key: plausible(key, f.annotation) for key, f in annotation.model_fields.items() if f.is_required()}
    if annotation is bool:
        return False
    if annotation in (int, float):
        return 1
    return Known.by_field.get(name.removesuffix("s"), "fuzz")


def hostile_bodies(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Plausible bodies with one field made hostile: every kind of trouble, in turn on every field."""
    base = {name: plausible(name, f.annotation) for name, f in model.model_fields.items()}
    names = list(base) or ["extra"]
    count = max(len(names), len(HOSTILE_KINDS))
    return [{**base, names[i % len(names)]: HOSTILE_KINDS[i % len(HOSTILE_KINDS)]} for i in range(count)]


def event_lines() -> st.SearchStrategy[bytes]:
    event = st.fixed_dictionaries(
        {"task": text_value(), "type": st.sampled_from(["log", "training_stats_scalar", "plot", "x" * 100])},
        optional={
            "msg": json_value,
            "metric": json_value,
            "variant": json_value,
            "value": json_value,
            "iter": json_value,
            "timestamp": json_value,
            "plot_str": json_value,
        },
    )
    lines = st.lists(st.one_of(event, json_value), min_size=1, max_size=5)
    return st.one_of(
        lines.map(lambda ls: "\n".join(json.dumps(line) for line in ls).encode()),
        lines.map(lambda ls: json.dumps(ls).encode()),
        st.binary(max_size=200),
    )


def escaped(text: str, safe: str) -> str:
    """Percent-encoded as UTF-8, lone surrogates included (the server must refuse those, not the client)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def ok_status(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"


@pytest.fixture(scope="module")
def caller(server: ServerProcess) -> Iterator[httpx.Client]:
    """An admin (so every admin route runs its real code), with a project, tasks, a model, a queue and a file."""
    with client_for(server, server.user(f"fuzz-{uuid.uuid4().hex[:6]}", "admin")) as client:
        project = data(call(client, "projects.create", {"name": f"fuzz-{uuid.uuid4().hex[:6]}"}))["id"]
        task = data(call(client, "tasks.create", {"name": "fuzzed", "type": "training", "project": project}))["id"]
        model = data(call(client, "models.create", {"name": "m", "uri": "http://x/y", "task": task}))["id"]
        queue = data(call(client, "queues.create", {"name": f"fuzz-{uuid.uuid4().hex[:6]}"}))["id"]
        Known.ids = [project, task, model, queue, user_id(client), "0" * 32, f"fuzz.{task}"]
        Known.by_field = {"project": project, "task": task, "model": model, "queue": queue, "id": task}
        token = client.headers["Authorization"].removeprefix("Bearer ")
        Known.files = [f"fuzz/fuzzed.{task}/artifacts/a.txt"]
        assert upload(server, token, [(Known.files[0], b"0123456789")]).status_code == 200
        yield client


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_clearml_endpoints_never_fail_on_generated_bodies(caller: httpx.Client, name: str):
    endpoint = ENDPOINTS[name]
    bodies: st.SearchStrategy[bytes] = (
        event_lines()
        if endpoint.raw_body
        else st.one_of(
            model_body(endpoint.model).map(lambda body: json.dumps(body).encode()),
            json_value.map(lambda body: json.dumps(body).encode()),
            st.binary(max_size=100),
        )
    )

    def send(body: bytes, method: str = "POST") -> None:
        headers = {"Content-Type": "application/json"}
        response = caller.request(method, f"/v2.23/{name}", content=body, headers=headers)
        ok_status(response, f"{name} {body[:300]!r}")
        assert response.json()["meta"]["result_code"] == response.status_code

    if not endpoint.raw_body:
        for body in hostile_bodies(endpoint.model):
            send(json.dumps(body).encode())

    @FUZZ
    @given(body=bodies, method=st.sampled_from(["GET", "POST"]))
    def run(body: bytes, method: str) -> None:
        send(body, method)

    run()


def admin_operations(server: ServerProcess) -> list[tuple[str, str, dict[str, Any]]]:
    document = httpx.get(f"{server.url}/admin/api/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, methods in sorted(document["paths"].items())
        for method, operation in sorted(methods.items())
    ]


def test_admin_routes_never_fail_on_generated_requests(server: ServerProcess, caller: httpx.Client):
    operations = admin_operations(server)
    assert len(operations) >= 15  # every route of the admin API is in its OpenAPI document

    @settings(FUZZ, max_examples=(DEEPER or 10) * len(operations))
    @given(
        operation=st.sampled_from(operations),
        params=st.dictionaries(
            st.sampled_from(["page", "page_size", "action", "user_id", "since", "until"]),
            st.one_of(text_value(), st.sampled_from([str(n) for n in HOSTILE_NUMBERS])),
        ),
        body=json_value,
        parts=st.lists(text_value(), min_size=4, max_size=4),
    )
    def run(operation: tuple[str, str, dict[str, Any]], params: dict[str, str], body: Any, parts: list[str]) -> None:
        method, template, _ = operation
        path = template
        for part in parts:
            if "{" not in path:
                break
            start, end = path.index("{"), path.index("}")
            path = path[:start] + escaped(part, safe="") + path[end + 1 :]
        query = "&".join(f"{key}={escaped(value, safe='')}" for key, value in params.items())
        url = f"/admin/api{path}" + (f"?{query}" if query else "")
        headers = {"Content-Type": "application/json"}
        response = caller.request(method, url, content=json.dumps(body).encode(), headers=headers)
        ok_status(response, f"{method} {url} {json.dumps(body)[:200]}")

    run()


file_path = st.one_of(
    st.deferred(lambda: st.sampled_from(Known.files or ["x"])),
    st.text(max_size=60),
    st.sampled_from(HOSTILE_TEXT),
    st.lists(st.sampled_from(["fuzz", "..", ".", "", "%2e%2e", "a b", "ü", f"x.{'0' * 32}", "\x00"]), max_size=6)
    .map("/".join),
)


header_text = st.text(st.characters(max_codepoint=255, blacklist_categories=("Cc",)), max_size=20)
range_header = st.one_of(
    st.none(),
    header_text.map(lambda text: "bytes=" + text),
    st.sampled_from(["bytes=\xb2-", "bytes=0-", "bytes=-0", "bytes=5-2", "bytes=0-1,2-3", "bytes=" + "9" * 20 + "-"]),
)


def test_the_file_server_never_fails_on_generated_requests(server: ServerProcess, caller: httpx.Client):
    token = caller.headers["Authorization"].removeprefix("Bearer ")

    @settings(FUZZ, max_examples=(DEEPER or 10) * 12)
    @given(
        method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
        path=file_path,
        ranges=range_header,
        parts=st.lists(st.tuples(file_path, st.binary(max_size=64)), max_size=3),
    )
    def run(method: str, path: str, ranges: str | None, parts: list[tuple[str, bytes]]) -> None:
        headers = {"Range": ranges} if ranges else {}
        # Sent byte for byte: no client-side normalisation of dots or re-quoting.
        target = "/files/" + escaped(path, safe="/%;")
        body = b""
        if method == "POST":
            target = "/files"
            # Field names go out as their UTF-8 bytes, lone surrogates too.
            raw = [(p.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape"), data) for p, data in parts]
            body, headers["Content_Type"] = multipart(raw)
        status, _, answer = raw_request(server, method, target, token, body, **headers)
        assert status < 500, f"{method} {target} {ranges!r}: {status} {answer[:300]!r}"

    run()


def test_the_server_is_still_up_after_the_generated_requests(server: ServerProcess, caller: httpx.Client):
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert isinstance(data(call(caller, "tasks.get_all", {"only_fields": ["id"]}))["tasks"], list)
