"""The login throttle counts failures per key and per address in a sliding window (with an injected clock), in
the counters every replica shares: the database (of the suite's kind) and Redis."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearway.auth.throttle import LoginThrottle
from clearway.errors import LoginThrottled
from clearway.store.base import SlidingCounters
from clearway.store.sql.sliding_counters import SqlSlidingCounters
from tests.support.counters import shared_counters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["database", "redis"])
def counters(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SlidingCounters]:
    with shared_counters(request.param, tmp_path) as made:
        yield made


def test_a_key_is_refused_after_its_limit_and_allowed_again_after_the_window(counters: SlidingCounters):
    clock = Clock()
    throttle = LoginThrottle(counters, per_key=3, per_address=100, window_sec=60, clock=clock)
    for _ in range(2):
        throttle.check("KEY", "10.0.0.1")
        assert throttle.failed("KEY", "10.0.0.1") == []
    assert throttle.failed("KEY", "10.0.0.1") == ["key"]
    with pytest.raises(LoginThrottled):
        throttle.check("KEY", "10.0.0.2")  # from another address too
    throttle.check("OTHER", "10.0.0.1")  # another key from the same address is fine
    clock.now += 61
    throttle.check("KEY", "10.0.0.1")


def test_an_address_is_refused_whatever_key_it_tries(counters: SlidingCounters):
    throttle = LoginThrottle(counters, per_key=100, per_address=2, window_sec=60, clock=Clock())
    throttle.failed("A", "10.0.0.1")
    throttle.failed("B", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        throttle.check("C", "10.0.0.1")
    throttle.check("C", "10.0.0.2")


def test_success_clears_the_keys_count(counters: SlidingCounters):
    throttle = LoginThrottle(counters, per_key=2, per_address=100, window_sec=60, clock=Clock())
    throttle.failed("KEY", None)
    throttle.succeeded("KEY")
    throttle.failed("KEY", None)
    throttle.check("KEY", None)


def test_two_replicas_share_the_counts(counters: SlidingCounters):
    """Two throttles over the same store (two replicas) see each other's failures."""
    clock = Clock()
    first, second = (LoginThrottle(counters, per_key=2, per_address=100, window_sec=60, clock=clock) for _ in "ab")
    first.failed("KEY", "10.0.0.1")
    second.failed("KEY", "10.0.0.2")
    with pytest.raises(LoginThrottled):
        first.check("KEY", "10.0.0.3")
    clock.now += 61
    counters.prune(clock.now)  # the watchdog's pass (Redis expires them itself)
    first.check("KEY", "10.0.0.3")
    assert counters.count("login:key:KEY", clock.now, 3600) == 0 or not isinstance(counters, SqlSlidingCounters)
