"""A serving machine's health as the gateway's calls see it: down after N failures in a row, answered 503 without a
try until the probe interval passes, one probe at a time, up again after a good answer."""

import pytest

from clearway.domain.gateway.health import MachineHealth
from clearway.errors import MachineUnavailable

MACHINE = {"id": "m1", "org_id": "o", "name": "box", "health": "unknown"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_down_after_failures_in_a_row_then_probed_then_up():
    clock = Clock()
    health = MachineHealth(stores=None, failures_before_down=3, probe_interval_sec=10, clock=clock)  # type: ignore[arg-type]
    health.admit(MACHINE)
    assert health.succeeded(MACHINE) is False  # first answer: record it up (it was not down)
    assert health.succeeded(MACHINE) is None  # nothing more to record
    assert health.failed(MACHINE) is False and health.failed(MACHINE) is False
    assert health.succeeded(MACHINE) is None  # a success in between: the count starts again
    assert [health.failed(MACHINE) for _ in range(3)] == [False, False, True]  # now down: record it once
    with pytest.raises(MachineUnavailable, match="down"):
        health.admit(MACHINE)
    clock.now += 10
    health.admit(MACHINE)  # this call is the probe...
    with pytest.raises(MachineUnavailable):
        health.admit(MACHINE)  # ...and the others wait for it
    assert health.failed(MACHINE) is False  # a failed probe: still down, announced already
    clock.now += 10
    health.admit(MACHINE)
    assert health.succeeded(MACHINE) is True  # back: record it up and announce it
    health.admit(MACHINE)


def test_down_as_another_process_recorded_it_until_an_answer_here_is_newer():
    clock = Clock()
    health = MachineHealth(stores=None, failures_before_down=3, probe_interval_sec=10, clock=clock)  # type: ignore[arg-type]
    marked = {**MACHINE, "health": "down", "health_changed": "1970-01-01T00:16:35+00:00"}  # 995 s
    with pytest.raises(MachineUnavailable):
        health.admit(marked)
    clock.now = 1006.0
    health.admit(marked)  # the probe
    assert health.succeeded(marked) is True
    health.admit(marked)  # the stale record no longer counts: this process saw it answer since
