"""What every benchmark section shares: the result row, the run context, and the section protocol.

A section is a module of this package with a ``run(ctx: Context) -> list[Result]`` function (and an optional
``TITLE``). It asks the context for servers (``ctx.clearway(backend)``, ``ctx.mlflow()``), measures each figure
several times, and returns rows whose reference was measured in the same run: an absolute figure is never
judged alone. The runner (:mod:`bench.runner`) calls the sections in order and writes the report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bench.backends import Backend
    from bench.clearway_server import ClearwayServer
    from bench.mlflow_server import MlflowServer


@dataclass(frozen=True)
class Target:
    """A goal on the ratio to the reference (``on="ratio"``) or on the value itself (``on="value"``)."""

    on: str  # "ratio" or "value"
    op: str  # ">=" or "<="
    bound: float
    label: str

    def met(self, value: float, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        return subject >= self.bound if self.op == ">=" else subject <= self.bound


@dataclass
class Result:
    """One measured figure (the median of ``samples``), optionally beside a reference measured in the same run.

    ``ratio`` is always "times better than the reference": value/reference when higher is better,
    reference/value when lower is better (so a ratio above 1 means Clearway wins).
    """

    section: str
    name: str
    unit: str
    samples: list[float]
    higher_is_better: bool = True
    reference: str | None = None
    reference_samples: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""

    @property
    def value(self) -> float:
        return statistics.median(self.samples)

    @property
    def reference_value(self) -> float | None:
        return statistics.median(self.reference_samples) if self.reference_samples else None

    @property
    def ratio(self) -> float | None:
        ref = self.reference_value
        if ref is None or ref <= 0 or self.value <= 0:
            return None
        return self.value / ref if self.higher_is_better else ref / self.value

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value, self.ratio) if self.target else None

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "value": self.value,
            "reference_value": self.reference_value,
            "ratio": self.ratio,
            "met": self.met,
        }


def at_least(times: float, of: str) -> Target:
    label = f">= {times:g}x {of}" if times >= 1 else f">= {times:.0%} of {of}"
    return Target("ratio", ">=", times, label)


def at_most(bound: float, unit: str) -> Target:
    return Target("value", "<=", bound, f"<= {bound:g} {unit}")


@dataclass(frozen=True)
class Sizes:
    """How much work each section does; ``SMOKE`` keeps the whole run to seconds."""

    batch: int  # events (or MLflow metrics) per request
    batches_one_client: int  # batches a single client sends per run
    clients: int  # concurrent clients
    batches_per_client: int  # batches each concurrent client sends per run
    sdk_points: int  # scalars reported through the real SDK per run
    series_points: int  # points of the scalar series read back
    log_lines: int  # console lines read back
    log_page: int  # lines per get_task_log page
    tasks: int  # tasks in the store for the listing section
    latency_requests: int  # requests timed per latency figure
    starts: int  # server starts timed by the footprint section
    mlflow_starts: int  # MLflow starts (each takes seconds)


FULL = Sizes(
    batch=1000,
    batches_one_client=20,
    clients=8,
    batches_per_client=5,
    sdk_points=20_000,
    series_points=10_000,
    log_lines=100_000,
    log_page=10_000,
    tasks=100_000,
    latency_requests=30,
    starts=5,
    mlflow_starts=3,
)
SMOKE = Sizes(
    batch=100,
    batches_one_client=3,
    clients=2,
    batches_per_client=2,
    sdk_points=200,
    series_points=300,
    log_lines=500,
    log_page=200,
    tasks=3000,
    latency_requests=3,
    starts=1,
    mlflow_starts=1,
)


@dataclass
class Context:
    """The run: its sizes, where it may write, the databases to measure, and the servers it has started."""

    sizes: Sizes
    runs: int  # repetitions behind every median
    smoke: bool
    work_dir: Path
    backends: list[Backend]
    with_mlflow: bool
    stack: ExitStack = field(default_factory=ExitStack)
    _clearway: dict[str, ClearwayServer] = field(default_factory=dict)
    _mlflow: dict[bool, MlflowServer] = field(default_factory=dict)

    def clearway(self, backend: Backend) -> ClearwayServer:
        """A Clearway server on ``backend``, started on first use and stopped when the run ends."""
        if backend.name not in self._clearway:
            from bench.clearway_server import ClearwayServer

            server = self.stack.enter_context(
                ClearwayServer.running(self.fresh_dir(f"clearway-{backend.name}"), backend)
            )
            self._clearway[backend.name] = server
        return self._clearway[backend.name]

    def mlflow(self, *, same_sqlite: bool = False) -> MlflowServer | None:
        """The MLflow tracking server, started on first use; None when MLflow is skipped in this run.
        ``same_sqlite``: a second one, on the SQLite settings Clearway runs with (see ``MlflowServer``)."""
        if not self.with_mlflow:
            return None
        if same_sqlite not in self._mlflow:
            from bench.mlflow_server import MlflowServer

            where = self.fresh_dir("mlflow-same-sqlite" if same_sqlite else "mlflow")
            self._mlflow[same_sqlite] = self.stack.enter_context(MlflowServer.running(where, same_sqlite=same_sqlite))
        return self._mlflow[same_sqlite]

    def fresh_dir(self, name: str) -> Path:
        """A new empty directory under the run's work directory."""
        n = 0
        while (path := self.work_dir / f"{name}-{n}").exists():
            n += 1
        path.mkdir(parents=True)
        return path


class Section(Protocol):
    """The shape of a section module."""

    def run(self, ctx: Context) -> list[Result]: ...


def interleave(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    """Run the measures in turn (A B A B ...) so drift in the machine's speed hits them alike."""
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for i, measure in enumerate(measures):
            samples[i].append(measure())
    return samples


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...``; ``elapsed()`` gives seconds, frozen when the block ends."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
