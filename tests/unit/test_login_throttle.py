"""The login throttle counts failures per key and per address in a sliding window (with an injected clock)."""

import pytest

from clearway.auth.throttle import LoginThrottle
from clearway.errors import LoginThrottled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_refused_after_its_limit_and_allowed_again_after_the_window():
    clock = Clock()
    throttle = LoginThrottle(per_key=3, per_address=100, window_sec=60, clock=clock)
    for _ in range(2):
        throttle.check("KEY", "10.0.0.1")
        assert throttle.failed("KEY", "10.0.0.1") == []
    assert throttle.failed("KEY", "10.0.0.1") == ["key"]
    with pytest.raises(LoginThrottled):
        throttle.check("KEY", "10.0.0.1")
    throttle.check("OTHER", "10.0.0.1")  # another key from the same address is fine
    clock.now += 61
    throttle.check("KEY", "10.0.0.1")


def test_a_strangers_failures_never_lock_the_key_out_from_its_owners_address():
    throttle = LoginThrottle(per_key=3, per_address=100, window_sec=60, clock=Clock())
    for _ in range(10):
        throttle.failed("VICTIM", "203.0.113.66")
    with pytest.raises(LoginThrottled):
        throttle.check("VICTIM", "203.0.113.66")
    throttle.check("VICTIM", "10.0.0.1")  # the owner, from her own address
    throttle.check("VICTIM", None)


def test_an_ipv6_client_counts_per_64_block():
    throttle = LoginThrottle(per_key=2, per_address=3, window_sec=60, clock=Clock())
    throttle.failed("KEY", "2001:db8:1:2::1")
    throttle.failed("KEY", "2001:db8:1:2::ffff")  # same /64: same client
    with pytest.raises(LoginThrottled):
        throttle.check("KEY", "2001:db8:1:2:abcd::9")
    throttle.check("KEY", "2001:db8:1:3::1")
    throttle.failed("OTHER", "2001:db8:1:2::7")
    with pytest.raises(LoginThrottled):  # the block is over its per-address limit for any key
        throttle.check("THIRD", "2001:db8:1:2::8")


def test_an_address_is_refused_whatever_key_it_tries():
    throttle = LoginThrottle(per_key=100, per_address=2, window_sec=60, clock=Clock())
    throttle.failed("A", "10.0.0.1")
    throttle.failed("B", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        throttle.check("C", "10.0.0.1")
    throttle.check("C", "10.0.0.2")


def test_success_clears_the_keys_count():
    throttle = LoginThrottle(per_key=2, per_address=100, window_sec=60, clock=Clock())
    throttle.failed("KEY", "10.0.0.1")
    throttle.succeeded("KEY", "10.0.0.1")
    throttle.failed("KEY", "10.0.0.1")
    throttle.check("KEY", "10.0.0.1")
