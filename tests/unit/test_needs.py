"""What tasks declare and what workers report, read the way the scheduler reads them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clearway.domain.scheduling.needs import Capacity, Needs, task_needs, worker_capacity, worker_total
from clearway.errors import ValidationFailed
from clearway.timeutil import iso, utcnow

GB = 1024.0


def task(**properties: object) -> dict:
    return {"hyperparams": {"properties": {k: {"name": k, "value": v} for k, v in properties.items()}}}


def test_declared_needs_and_queue_defaults():
    assert task_needs({}) == Needs()
    assert task_needs(task(**{"clearway.gpus": "2", "clearway.memory_gb": "16.5"})) == Needs(2, 0.0, 16.5)
    defaults = Needs(1, 8.0, 4.0)
    assert task_needs(task(**{"clearway.gpus": "0"}), defaults) == Needs(0, 0.0, 4.0)  # no GPU, no GPU memory
    assert task_needs(task(**{"clearway.gpu_memory_gb": "20"})) == Needs(1, 20.0, 0.0)  # GPU memory implies a GPU
    assert task_needs(task(**{"clearway.priority": "-3"})).priority == -3
    assert task_needs(task(**{"clearway.gpus": ""})) == Needs()  # an emptied property declares nothing


@pytest.mark.parametrize("bad", [{"clearway.gpus": "two"}, {"clearway.gpus": "1.5"}, {"clearway.gpus": "-1"},
                                 {"clearway.memory_gb": "inf"}, {"clearway.gpus": "65"}])  # fmt: skip
def test_nonsense_is_refused(bad):
    with pytest.raises(ValidationFailed):
        task_needs(task(**bad))


def worker(age_sec: float = 0, **stats: object) -> dict:
    return {"last_report_time": iso(utcnow() - timedelta(seconds=age_sec)), "machine_stats": stats}


def test_a_worker_offers_its_idle_gpus_and_free_memory():
    doc = worker(gpu_usage=[0, 95, 10], gpu_memory_free=[8 * GB, 40 * GB, 24 * GB], memory_free=32 * GB)
    capacity = worker_capacity(doc, utcnow(), stale_sec=60, busy_percent=50)
    assert capacity == Capacity((24.0, 8.0), 32.0, True)  # the busy GPU is left out, the largest first
    assert capacity.fits(Needs(2, 8.0)) and not capacity.fits(Needs(2, 10.0)) and capacity.fits(Needs(1, 20.0))
    assert not capacity.fits(Needs(memory_gb=33))


def test_a_stale_or_missing_report_is_unknown():
    stale = worker_capacity(worker(120, gpu_usage=[0]), utcnow(), stale_sec=60, busy_percent=50)
    assert not stale.known and stale.fits(Needs()) and not stale.fits(Needs(memory_gb=1))
    assert not worker_capacity(None, utcnow(), 60, 50).known


def test_a_machine_total_counts_busy_gpus_and_used_memory():
    doc = worker(gpu_usage=[100], gpu_memory_free=[1 * GB], gpu_memory_used=[79 * GB], memory_free=GB,
                 memory_used=63 * GB)  # fmt: skip
    assert worker_total(doc) == Capacity((80.0,), 64.0, True)
