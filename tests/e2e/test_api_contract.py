"""The ClearML API contract below the SDK: routing, envelope, filters, projections, merges, status machine."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.e2e.api import call, data, error

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(api: httpx.Client) -> str:
    return data(call(api, "projects.create", {"name": f"contract-{uuid.uuid4().hex[:8]}"}))["id"]


def new_task(api: httpx.Client, project: str, name: str = "t", **fields) -> str:
    body = {"name": name, "type": "training", "project": project, **fields}
    return data(call(api, "tasks.create", body))["id"]


def get_task(api: httpx.Client, task_id: str) -> dict:
    return data(call(api, "tasks.get_by_id", {"task": task_id}))["task"]


@pytest.mark.parametrize("path", ["/projects.get_all", "/v2.4/projects.get_all", "/v2.31/projects.get_all/"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_routes_on_service_action_whatever_the_version_or_method(api: httpx.Client, path: str, method: str):
    response = api.request(method, path, json={"only_fields": ["id"]})
    assert "projects" in data(response)


def test_query_string_parameters_are_merged_into_the_body(api: httpx.Client, project: str):
    response = api.get(f"/projects.get_by_id?project={project}")
    assert data(response)["project"]["id"] == project


def test_sdk_junk_method_key_is_ignored(api: httpx.Client, project: str):
    task_id = new_task(api, project, method="get")
    assert "method" not in get_task(api, task_id)


def test_malformed_json_gets_the_error_envelope(api: httpx.Client):
    response = api.request("GET", "/tasks.get_all", content=b"{not json", headers={"Content-Type": "application/json"})
    assert error(response)[:2] == (400, 1)


def test_unknown_endpoint_is_404_in_the_envelope(api: httpx.Client):
    code, _, msg = error(call(api, "tasks.fly_to_the_moon"))
    assert code == 404 and "tasks.fly_to_the_moon" in msg


@pytest.mark.parametrize("bad_id", ["0" * 32, "no-such-task", "../../etc/passwd"])
def test_unknown_task_ids(api: httpx.Client, bad_id: str):
    assert error(call(api, "tasks.get_by_id", {"task": bad_id}))[:2] == (400, 101)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("tasks.get_by_id", {"task": ["a", "b"]}),
        ("tasks.get_by_id", {}),
        ("tasks.get_all", {"page": "abc"}),
        ("tasks.get_all", {"page_size": -1}),
        ("tasks.get_all", {"name": "(unclosed"}),
        ("tasks.get_all", {"system_tags": ["ok", 5]}),
        ("tasks.create", {"name": "x", "type": "no-such-type"}),
        ("tasks.create", {"name": "x", "type": "training", "tags": "not-a-list"}),
        ("projects.create", {"name": ""}),
        ("projects.create", {"name": 42}),
        ("tasks.edit_hyper_params", {"task": "x", "hyperparams": "nope"}),
    ],
)
def test_wrong_types_are_validation_errors(api: httpx.Client, endpoint: str, body: dict):
    code, _, msg = error(call(api, endpoint, body))
    assert code == 400 and msg


def test_project_names_are_unique_and_create_parents(api: httpx.Client):
    base = f"parents-{uuid.uuid4().hex[:6]}"
    data(call(api, "projects.create", {"name": f"{base}/.datasets/D"}))
    names = [
        p["name"] for p in data(call(api, "projects.get_all", {"name": f"^{base}", "search_hidden": True}))["projects"]
    ]
    assert sorted(names) == [base, f"{base}/.datasets", f"{base}/.datasets/D"]
    assert error(call(api, "projects.create", {"name": base}))[0] == 400


def test_name_filters_are_regular_expressions(api: httpx.Client, project: str):
    new_task(api, project, "alpha.1")
    new_task(api, project, "alphax1")
    got = data(call(api, "tasks.get_all", {"project": [project], "name": r"^alpha\.1$"}))["tasks"]
    assert [t["name"] for t in got] == ["alpha.1"]
    got = data(call(api, "tasks.get_all", {"project": [project], "name": "alpha"}))["tasks"]
    assert len(got) == 2


def test_tag_operators_and_hidden_documents(api: httpx.Client, project: str):
    plain = new_task(api, project, "plain", system_tags=["dataset"])
    archived = new_task(api, project, "arch", system_tags=["dataset", "archived"])
    hidden = new_task(api, project, "hid", system_tags=["hidden"])
    query = {"project": [project], "system_tags": ["__$all", "dataset", "__$not", "archived"], "only_fields": ["id"]}
    assert [t["id"] for t in data(call(api, "tasks.get_all", query))["tasks"]] == [plain]
    visible = {t["id"] for t in data(call(api, "tasks.get_all", {"project": [project]}))["tasks"]}
    assert visible == {plain, archived}
    every = {t["id"] for t in data(call(api, "tasks.get_all", {"project": [project], "search_hidden": True}))["tasks"]}
    assert every == {plain, archived, hidden}
    by_id = data(call(api, "tasks.get_all", {"id": [hidden]}))["tasks"]
    assert [t["id"] for t in by_id] == [hidden]  # asking by id skips the hidden filter


def test_only_fields_projection_keeps_present_parents(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    got = data(call(api, "tasks.get_all", {"id": [task_id], "only_fields": ["runtime.version", "name"]}))["tasks"]
    assert got == [{"id": task_id, "name": "t", "runtime": {}}]


def test_paging_order_and_a_page_past_the_end(api: httpx.Client, project: str):
    ids = [new_task(api, project, f"p{i}") for i in range(5)]
    query = {"project": [project], "order_by": ["-created"], "only_fields": ["id"], "page_size": 2}
    pages = [[t["id"] for t in data(call(api, "tasks.get_all", {**query, "page": n}))["tasks"]] for n in range(4)]
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1], []]
    by_name = data(call(api, "tasks.get_all", {"project": [project], "order_by": ["name"], "only_fields": ["name"]}))
    assert [t["name"] for t in by_name["tasks"]] == ["p0", "p1", "p2", "p3", "p4"]


def test_edit_merges_embedded_documents_and_replaces_hyperparams(api: httpx.Client, project: str):
    task_id = new_task(
        api, project, script={"entry_point": "a.py", "diff": "x"}, hyperparams={"General": {"a": {"value": "1"}}}
    )
    data(
        call(
            api,
            "tasks.edit",
            {
                "task": task_id,
                "script": {"diff": "y"},
                "hyperparams": {"Args": {"b": {"value": "2"}}},
                "output_dest": "http://files/x",
            },
        )
    )
    task = get_task(api, task_id)
    assert task["script"] == {"entry_point": "a.py", "diff": "y"}
    assert task["hyperparams"] == {"Args": {"b": {"value": "2"}}}
    assert task["output"]["destination"] == "http://files/x"


def test_status_machine_refuses_without_force_and_changes_nothing(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    before = get_task(api, task_id)
    assert error(call(api, "tasks.completed", {"task": task_id}))[:2] == (400, 110)
    assert get_task(api, task_id) == before
    data(call(api, "tasks.started", {"task": task_id}))
    assert error(call(api, "tasks.edit", {"task": task_id, "comment": "x"}))[:2] == (400, 110)
    data(call(api, "tasks.edit", {"task": task_id, "comment": "x", "force": True}))
    data(call(api, "tasks.completed", {"task": task_id}))
    data(call(api, "tasks.completed", {"task": task_id}))  # same-state transition (close() after mark_completed())
    data(call(api, "tasks.publish", {"task": task_id}))
    task = get_task(api, task_id)
    assert task["status"] == "published" and task["published"] and task["completed"] and task["started"]
    assert error(call(api, "tasks.started", {"task": task_id}))[:2] == (400, 110)
    assert error(call(api, "tasks.reset", {"task": task_id}))[:2] == (400, 110)


def test_clone_copies_definition_not_results(api: httpx.Client, project: str):
    source = new_task(
        api, project, "src", hyperparams={"General": {"lr": {"section": "General", "name": "lr", "value": "1"}}}
    )
    data(call(api, "tasks.add_or_update_artifacts", {"task": source, "artifacts": [{"key": "a", "type": "str"}]}))
    clone_id = data(call(api, "tasks.clone", {"task": source, "new_task_name": "copy"}))["id"]
    clone = get_task(api, clone_id)
    assert clone["name"] == "copy" and clone["parent"] == source and clone["status"] == "created"
    assert clone["hyperparams"]["General"]["lr"]["value"] == "1"
    assert clone["execution"]["artifacts"] == []


def test_hyper_params_and_configuration_edits(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    items = [{"section": "properties", "name": "version", "value": "1.0.0"}]
    data(call(api, "tasks.edit_hyper_params", {"task": task_id, "hyperparams": items, "replace_hyperparams": "none"}))
    config = [{"name": "Dataset Struct", "value": "{}", "type": "json"}]
    data(call(api, "tasks.edit_configuration", {"task": task_id, "configuration": config}))
    data(call(api, "tasks.set_requirements", {"task": task_id, "requirements": {"pip": ["a==1"], "org_pip": "a"}}))
    task = get_task(api, task_id)
    assert task["hyperparams"]["properties"]["version"]["value"] == "1.0.0"
    assert task["configuration"]["Dataset Struct"]["type"] == "json"
    assert task["script"]["requirements"]["pip"] == ["a==1"]


def _hyper_params(api: httpx.Client, task_id: str) -> dict[tuple[str, str], str]:
    answer = data(call(api, "tasks.get_hyper_params", {"tasks": [task_id]}))["params"]
    assert [entry["task"] for entry in answer] == [task_id]
    return {(p["section"], p["name"]): p["value"] for p in answer[0]["hyperparams"]}


def test_the_owner_replaces_a_section_and_deletes_hyper_params(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    items = [
        {"section": "General", "name": "lr", "value": 0.1},
        {"section": "General", "name": "epochs", "value": 3},
        {"section": "Args", "name": "batch", "value": "32"},
        {"section": "Args", "name": "seed", "value": "7"},
    ]
    assert data(call(api, "tasks.edit_hyper_params", {"task": task_id, "hyperparams": items})) == {"updated": 1}
    assert _hyper_params(api, task_id) == {
        ("General", "lr"): "0.1", ("General", "epochs"): "3", ("Args", "batch"): "32", ("Args", "seed"): "7"
    }  # fmt: skip
    # "section": the sections named are replaced whole; the others are kept as they were.
    body = {"task": task_id, "hyperparams": [{"section": "General", "name": "lr", "value": "0.2"}]}
    data(call(api, "tasks.edit_hyper_params", {**body, "replace_hyperparams": "section"}))
    assert _hyper_params(api, task_id) == {("General", "lr"): "0.2", ("Args", "batch"): "32", ("Args", "seed"): "7"}
    # One parameter by name, then a whole section (no name).
    one = {"task": task_id, "hyperparams": [{"section": "Args", "name": "batch"}]}
    assert data(call(api, "tasks.delete_hyper_params", one)) == {"deleted": 1}
    assert _hyper_params(api, task_id) == {("General", "lr"): "0.2", ("Args", "seed"): "7"}
    section = {"task": task_id, "hyperparams": [{"section": "General"}]}
    assert data(call(api, "tasks.delete_hyper_params", section)) == {"deleted": 1}
    assert _hyper_params(api, task_id) == {("Args", "seed"): "7"}
    assert "General" not in get_task(api, task_id)["hyperparams"]


def test_the_owner_deletes_artifacts_by_key_and_mode(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    artifacts = [
        {"key": "data", "type": "custom", "uri": "http://example.test/out", "mode": "output"},
        {"key": "data", "type": "custom", "uri": "http://example.test/in", "mode": "input"},
        {"key": "report", "type": "custom", "uri": "http://example.test/report"},
    ]
    data(call(api, "tasks.add_or_update_artifacts", {"task": task_id, "artifacts": artifacts}))
    doomed = {"task": task_id, "artifacts": [{"key": "data"}, {"key": "missing"}]}  # mode defaults to output
    assert data(call(api, "tasks.delete_artifacts", doomed)) == {"deleted": 1}
    kept = get_task(api, task_id)["execution"]["artifacts"]
    assert [(a["key"], a["mode"], a["uri"]) for a in kept] == [
        ("data", "input", "http://example.test/in"), ("report", "output", "http://example.test/report")
    ]  # fmt: skip
    assert data(call(api, "tasks.delete_artifacts", {**doomed, "artifacts": [{"key": "data", "mode": "input"}]})) == {
        "deleted": 1
    }
    assert [a["key"] for a in get_task(api, task_id)["execution"]["artifacts"]] == ["report"]


def test_the_owner_deletes_models_of_a_task(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    models = {}
    for name in ("best", "pretrained"):
        body = {"name": f"{name}-{uuid.uuid4().hex[:6]}", "uri": "http://example.test/w", "project": project}
        models[name] = data(call(api, "models.create", body))["id"]
    data(call(api, "tasks.add_or_update_model", {"task": task_id, "name": "best", "model": models["best"]}))
    data(call(api, "tasks.add_or_update_model",
              {"task": task_id, "name": "pretrained", "model": models["pretrained"], "type": "input"}))  # fmt: skip
    linked = get_task(api, task_id)["models"]
    assert [(m["name"], m["model"]) for m in linked["output"]] == [("best", models["best"])]
    assert [(m["name"], m["model"]) for m in linked["input"]] == [("pretrained", models["pretrained"])]
    gone = {"task": task_id, "models": [{"name": "best", "type": "output"}]}
    assert data(call(api, "tasks.delete_models", gone)) == {"updated": 1}
    linked = get_task(api, task_id)["models"]
    assert linked["output"] == [] and [m["name"] for m in linked["input"]] == ["pretrained"]
    data(call(api, "tasks.delete_models", {"task": task_id, "models": [{"name": "pretrained", "type": "input"}]}))
    assert get_task(api, task_id)["models"]["input"] == []
    # The models themselves stay: only the task's references to them went.
    assert data(call(api, "models.get_by_id", {"model": models["best"]}))["model"]["id"] == models["best"]


def _events(lines: list[dict]) -> bytes:
    import json

    return "\n".join(json.dumps(line) for line in lines).encode()


def test_events_keep_last_iteration_and_metrics_and_read_back_consistently(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    scalars = [
        {"type": "training_stats_scalar", "task": task_id, "iter": i, "metric": "loss", "variant": "v", "value": 10 - i}
        for i in range(10)
    ]
    logs = [
        {"type": "log", "task": task_id, "msg": f"line {i}", "level": "info", "timestamp": 1000 + i} for i in range(25)
    ]
    result = data(
        api.post(
            "/events.add_batch", content=_events(scalars + logs), headers={"Content-Type": "application/json-lines"}
        )
    )
    assert result["added"] == 35 and result["errors"] == 0
    task = get_task(api, task_id)
    assert task["last_iteration"] == 9
    (metric,) = task["last_metrics"].values()
    (variant,) = metric.values()
    assert (variant["value"], variant["min_value"], variant["max_value"]) == (1, 1, 10)

    histogram = data(call(api, "events.scalar_metrics_iter_histogram", {"task": task_id, "key": "iter"}))
    assert histogram["loss"]["v"]["x"] == list(range(10))

    seen, scroll = [], None
    for _ in range(10):
        page = data(
            call(
                api,
                "events.get_task_log",
                {"task": task_id, "batch_size": 10, "navigate_earlier": True, "order": "asc", "scroll_id": scroll},
            )
        )
        assert page["total"] == 25
        if not page["returned"]:
            break
        seen = [e["msg"] for e in page["events"]] + seen
        scroll = page["scroll_id"]
    assert seen == [f"line {i}" for i in range(25)]

    got, scroll = 0, None
    for _ in range(10):
        page = data(
            call(
                api,
                "events.get_task_events",
                {"task": task_id, "event_type": "training_stats_scalar", "batch_size": 4, "scroll_id": scroll},
            )
        )
        assert page["total"] == 10
        got += page["returned"]
        if page["returned"] < 4:
            break
        scroll = page["scroll_id"]
    assert got == 10


def test_bad_event_lines_are_counted_not_stored(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    lines = [
        {"type": "training_stats_scalar", "task": task_id, "metric": "m", "variant": "v", "value": "NaN?", "iter": 1},
        {"type": "log", "task": "0" * 32, "msg": "to nowhere"},
        {"type": "log", "task": task_id, "msg": "kept"},
    ]
    result = data(api.post("/events.add_batch", content=_events(lines)))
    assert (result["added"], result["errors"]) == (1, 2)
    response = api.post("/events.add_batch", content=b'{"type": "log", "task": "x"}\n{broken')
    assert error(response)[0] == 400
    log = data(call(api, "events.get_task_log", {"task": task_id}))
    assert [e["msg"] for e in log["events"]] == ["kept"]


def test_events_batch_over_the_limit_is_refused_whole(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    from tests.conftest import TEST_MAX_EVENTS

    lines = [{"type": "log", "task": task_id, "msg": str(i)} for i in range(TEST_MAX_EVENTS + 1)]
    assert error(api.post("/events.add_batch", content=_events(lines)))[0] == 400
    assert data(call(api, "events.get_task_log", {"task": task_id}))["total"] == 0


def test_published_tasks_take_no_more_events(api: httpx.Client, project: str):
    task_id = new_task(api, project)
    data(call(api, "tasks.completed", {"task": task_id, "force": True, "publish": True}))
    result = data(api.post("/events.add_batch", content=_events([{"type": "log", "task": task_id, "msg": "late"}])))
    assert (result["added"], result["errors"]) == (0, 1)


def test_delete_and_archive(api: httpx.Client, project: str):
    keep, gone = new_task(api, project, "keep"), new_task(api, project, "gone")
    assert data(call(api, "tasks.archive", {"tasks": [keep]}))["archived"] == 1
    assert "archived" in get_task(api, keep)["system_tags"]
    artifact = {"key": "a", "type": "custom", "uri": "s3://bucket/a.bin"}
    data(call(api, "tasks.add_or_update_artifacts", {"task": gone, "artifacts": [artifact]}))
    deleted = data(call(api, "tasks.delete", {"task": gone, "return_file_urls": True}))
    assert deleted == {
        "deleted": True,
        "deleted_models": 0,
        "events": {"deleted": 0},
        "urls": {"artifact_urls": ["s3://bucket/a.bin"], "model_urls": [], "event_urls": []},
    }
    assert error(call(api, "tasks.get_by_id", {"task": gone}))[:2] == (400, 101)
    assert error(call(api, "projects.delete", {"project": project}))[0] == 400
    assert (
        data(call(api, "projects.delete", {"project": project, "force": True, "delete_contents": True}))["deleted"] == 1
    )
    assert error(call(api, "tasks.get_by_id", {"task": keep}))[:2] == (400, 101)


def test_reset_answers_what_it_did(api: httpx.Client, project: str):
    task = new_task(api, project, "queued then reset")
    queue = data(call(api, "queues.create", {"name": f"reset-{uuid.uuid4().hex[:8]}"}))["id"]
    data(call(api, "tasks.enqueue", {"task": task, "queue": queue}))
    line = {"task": task, "type": "log", "msg": "hello"}
    assert data(api.post("/events.add_batch", content=json.dumps(line)))["added"] == 1
    assert data(call(api, "tasks.reset", {"task": task})) == {
        "updated": 1,
        "fields": {"status": "created"},
        "deleted_models": 0,
        "events": {"deleted": 1},
        "dequeued": {"removed": 1},
    }
    assert data(call(api, "queues.get_num_entries", {"queue": queue}))["num"] == 0


def test_parameter_and_configuration_values_are_text(api: httpx.Client, project: str):
    """As ClearML keeps them (and the SDK's schemas say): whatever a client sends, the values come back as text."""
    hyperparams = {"Args": {"lr": {"section": "Args", "name": "lr", "value": 0.5}, "on": {"value": True}}}
    task = new_task(api, project, "typed", hyperparams=hyperparams)
    config = [{"name": "model", "value": {"layers": 2}}]
    data(call(api, "tasks.edit_configuration", {"task": task, "configuration": config}))
    doc = get_task(api, task)
    assert (doc["hyperparams"]["Args"]["lr"]["value"], doc["hyperparams"]["Args"]["on"]["value"]) == ("0.5", "True")
    assert doc["configuration"]["model"]["value"] == '{"layers": 2}'
    assert error(call(api, "tasks.edit", {"task": task, "hyperparams": {"Args": "lr=1"}}))[:2] == (400, 11)


def test_failed_close_update_and_move_forward_answer(api: httpx.Client, project: str):
    """Endpoints no SDK flow of the suite calls: their answers too go through the session's schema check."""
    task = new_task(api, project, "fails")
    data(call(api, "tasks.started", {"task": task}))
    assert data(call(api, "tasks.failed", {"task": task}))["fields"]["status"] == "failed"
    assert data(call(api, "tasks.close", {"task": task, "force": True}))["fields"]["status"] == "closed"
    model = data(call(api, "models.create", {"name": "m", "uri": "file:///m", "project": project}))["id"]
    updated = data(call(api, "models.update", {"model": model, "comment": "c"}))
    assert updated == {"updated": 1, "fields": {"comment": "c"}}
    queue = data(call(api, "queues.create", {"name": f"move-{uuid.uuid4().hex[:8]}"}))["id"]
    waiting = [new_task(api, project, f"w{i}") for i in range(2)]
    for waiting_task in waiting:
        data(call(api, "tasks.enqueue", {"task": waiting_task, "queue": queue}))
    assert data(call(api, "queues.move_task_forward", {"queue": queue, "task": waiting[1]})) == {"position": 0}
