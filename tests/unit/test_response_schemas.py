"""The session-end check of recorded ClearML answers names the endpoint and the field of each mismatch."""

from pathlib import Path

from clearway.clearml_api.recorder import ResponseRecorder
from tests.support.response_schemas import check, check_recorded, schema_for

TASK = {"id": "t1", "name": "n", "status": "created", "last_update": "2024-05-01T10:00:00.123456+00:00"}


def test_each_client_version_gets_the_schema_it_parses_with():
    assert schema_for("tasks.get_all", "2.31")[0] == (2, 23)  # unversioned calls are routed as 2.31
    assert schema_for("tasks.get_all", "2.14")[0] == (2, 13)
    assert schema_for("tasks.get_all", "2.5")[0] == (2, 5)  # clearml-agent's own services
    assert schema_for("tasks.get_hyper_params", "2.5")[0] == (2, 9)  # the oldest that knows it
    assert schema_for("serving.register_container", "2.23") is None


def test_mismatches_name_endpoint_field_and_value():
    report = check(
        [
            ("tasks.delete", "2.23", {"deleted": 1}),
            ("tasks.get_by_id", "2.23", {"task": {**TASK, "last_update": "2024-05-01T10:00:00.123Z"}}),
            ("tasks.get_all", "2.23", {"tasks": [TASK, {**TASK, "status": 3}]}),
            ("tasks.get_all", "2.23", {"tasks": [TASK]}),
            ("models.archive", "2.23", {}),
        ]
    )
    found = sorted(str(m) for m in report.mismatches.values())
    assert found == [
        "tasks.delete (schema v2.23) data.deleted: 1 is not of type 'boolean', 'null' [1 answer(s)]",
        "tasks.get_all (schema v2.23) data.tasks[1].status: 3 is not one of ['created', 'queued', 'in_progress', "
        "'stopped', 'published', 'publishing', 'closed', 'failed', 'completed', 'unknown'] [1 answer(s)]",
        "tasks.get_by_id (schema v2.23) data.task.last_update: '2024-05-01T10:00:00.123Z' does not parse with the "
        "SDK's datetime_from_isoformat [1 answer(s)]",
    ]
    assert report.checked == 4
    assert report.unknown == {"models.archive": 1}


def test_a_server_records_what_it_answers(tmp_path: Path):
    recorder = ResponseRecorder(tmp_path)
    recorder.record("tasks.delete", "2.23", b'{"meta":{},"data":{"deleted":true}}')
    recorder.record("tasks.delete", "2.23", b'{"meta":{},"data":{"deleted":"yes"}}')
    report = check_recorded(tmp_path)
    assert [m.field for m in report.mismatches.values()] == ["data.deleted"]
