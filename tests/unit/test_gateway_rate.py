"""A gateway token's calls per minute, counted in the process's memory (no Redis configured)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from clearway.domain.gateway.tokens import GatewayTokens
from clearway.errors import TooManyRequests
from clearway.gateway.callers import Caller, count_call
from clearway.store.process_counters import ProcessSlidingCounters
from tests.support.counters import shared_counters

WINDOW = 60.0


def test_counts_each_key_within_its_window():
    counters = ProcessSlidingCounters()
    assert [counters.add("a", 120.0 + i, WINDOW) for i in range(3)] == [1, 2, 3]
    assert counters.add("b", 125.0, WINDOW) == 1
    assert counters.count("a", 130.0, WINDOW) == 3


def test_the_previous_window_weighs_as_much_of_it_as_still_slides_in():
    counters = ProcessSlidingCounters()
    for _ in range(10):
        counters.add("a", 150.0, WINDOW)  # window [120, 180)
    assert counters.count("a", 180.0, WINDOW) == 10  # all of the previous window still counts
    assert counters.count("a", 210.0, WINDOW) == 5  # half of it
    assert counters.add("a", 210.0, WINDOW) == 6
    assert counters.count("a", 300.0, WINDOW) == 0  # two windows later: nothing


def test_clear_forgets_a_key():
    counters = ProcessSlidingCounters()
    counters.add("a", 10.0, WINDOW)
    counters.clear("a")
    assert counters.count("a", 10.0, WINDOW) == 0


def test_a_token_over_its_limit_is_refused_until_the_window_slides_on():
    now = [1000.0]
    tokens = GatewayTokens(
        None,  # type: ignore[arg-type] - counting calls reads no store
        ProcessSlidingCounters(),
        rate_per_minute=600,
        daily_runs=100,
        cache_sec=2,
        counted_in_process=True,
        clock=lambda: now[0],
    )
    record = {"id": "t1", "rate_per_minute": 2}
    tokens.count_call(record)
    tokens.count_call(record)
    with pytest.raises(TooManyRequests) as refused:
        tokens.count_call(record)
    assert refused.value.data["retry_after"] == 60
    tokens.count_call({"id": "t2", "rate_per_minute": 2})  # another token counts apart
    now[0] += 120  # two windows on
    tokens.count_call(record)


def test_with_redis_the_processes_count_on_its_shared_counters(tmp_path: Path):
    """Two processes' token counts (two GatewayTokens) add up in Redis; the count leaves the event loop."""
    with shared_counters("redis", tmp_path) as counters:
        replicas = [
            GatewayTokens(
                None,  # type: ignore[arg-type] - counting calls reads no store
                counters,
                rate_per_minute=600,
                daily_runs=100,
                cache_sec=2,
                counted_in_process=False,
            )
            for _ in range(2)
        ]
        caller = Caller(None, {"id": "t1", "rate_per_minute": 3})  # type: ignore[arg-type]

        async def calls() -> None:
            for tokens in (*replicas, *replicas):
                await count_call(SimpleNamespace(gateway=SimpleNamespace(tokens=tokens)), caller)  # type: ignore[arg-type]

        with pytest.raises(TooManyRequests):
            asyncio.run(calls())
        assert counters.count("gateway:t1", time.time(), WINDOW) == 4
