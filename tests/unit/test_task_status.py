import pytest

from clearway.domain.task_status import Status, apply_status, check_transition
from clearway.errors import InvalidTaskStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("created", Status.IN_PROGRESS),
        ("in_progress", Status.IN_PROGRESS),  # the SDK inside an agent run calls started again
        ("in_progress", Status.COMPLETED),
        ("completed", Status.COMPLETED),  # close() after mark_completed()
        ("completed", Status.PUBLISHED),
        ("completed", Status.IN_PROGRESS),
        ("in_progress", Status.STOPPED),
        ("stopped", Status.QUEUED),
    ],
)
def test_allowed_transitions(current, target):
    check_transition(current, target, force=False)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("created", Status.COMPLETED),
        ("created", Status.PUBLISHED),
        ("published", Status.IN_PROGRESS),
        ("published", Status.CREATED),
        ("queued", Status.COMPLETED),
    ],
)
def test_forbidden_transitions_need_force(current, target):
    with pytest.raises(InvalidTaskStatus):
        check_transition(current, target, force=False)
    check_transition(current, target, force=True)


def test_apply_status_stamps_entry_times_once():
    doc = apply_status({"status": "created"}, Status.IN_PROGRESS, reason="go")
    assert doc["status"] == "in_progress" and doc["status_reason"] == "go"
    started = doc["started"]
    again = apply_status(doc, Status.IN_PROGRESS)
    assert again["started"] == started
