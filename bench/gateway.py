"""Gateway: what the on-demand route adds to a call of the official clearml-serving app.

One run trains and publishes a scikit-learn model with the real SDK, declares it with the real ``clearml-serving``
CLI and starts the unmodified inference app (``tests/support/serving.py``, shared with the end-to-end tests), then
registers the app with ``clearway gateway machines add`` and ``endpoints add``. The same JSON body then goes to the
same app, interleaved run by run:
* directly, ``POST <app>/serve/<endpoint>`` (the reference);
* through the gateway, ``POST /gateway/v1/ondemand/<machine>/<endpoint>`` with a gateway token of the user (as
  applications call it: each call counted against the token's rate limit, set high enough not to refuse any).
With 1 client (sequential calls) and with 32 concurrent clients, each a thread with its own kept-alive connection:
p50 and p99 latency, and requests per second. Targets: at most 1 ms added at p50 (1 client), at least 70% of the
direct throughput. Beside them, the CPU time the Clearway server spends per call through the gateway, next to the
serving app's own per direct call: unlike latency on a shared machine, it hardly depends on what else runs. An
answer other than 200 does not stop the run: it is counted, and noted beside the req/s figures.

Standalone: ``python bench/gateway.py [--database sqlite|postgresql|both] [--runs N] [--smoke]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backends import Backend  # noqa: E402
from bench.clearway_server import USER, ClearwayServer  # noqa: E402
from tests.support.serving import PREDICTION, SAMPLE, served_model  # noqa: E402

if TYPE_CHECKING:
    from bench.common import Context, Result

TITLE = "Gateway"
CONCURRENT = 32


@dataclass(frozen=True)
class Load:
    """How many calls: ``sequential`` by one client; ``per_client`` by each of the concurrent clients."""

    sequential: int
    per_client: int


FULL_LOAD = Load(sequential=1000, per_client=60)
SMOKE_LOAD = Load(sequential=20, per_client=2)


@dataclass(frozen=True)
class Figures:
    """One measurement: latency percentiles in ms, requests per second, and CPU ms per call of the target's
    process (the serving app called directly; the Clearway server through the gateway)."""

    p50_ms: float
    p99_ms: float
    per_sec: float  # answered with 200
    cpu_ms: float
    failed: int  # answers other than 200: counted in the latencies, not in per_sec
    first_failure: str = ""


@dataclass(frozen=True)
class Target:
    """Where to send the body, with which headers, and the process that answers there."""

    url: str
    headers: dict[str, str]
    pid: int


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Timed:
    seconds: float
    failure: str  # empty when the answer was a 200


def _call(client: httpx.Client, target: Target) -> Timed:
    started = time.perf_counter()
    response = client.post(target.url, json=SAMPLE)
    elapsed = time.perf_counter() - started
    return Timed(elapsed, "" if response.status_code == 200 else f"{response.status_code} {response.text[:200]}")


def _open(client: httpx.Client, target: Target) -> None:
    """One call before the clock starts, so that the connection is open: it must succeed."""
    failure = _call(client, target).failure
    if failure:
        raise RuntimeError(f"{target.url} answered {failure}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants so far."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def sequential(target: Target, calls: int) -> Figures:
    with httpx.Client(headers=target.headers, timeout=30) as client:
        _open(client, target)
        cpu = cpu_seconds(target.pid)
        started = time.perf_counter()
        calls_made = [_call(client, target) for _ in range(calls)]
        wall = time.perf_counter() - started
        cpu = cpu_seconds(target.pid) - cpu
    return _figures(calls_made, wall, cpu)


def concurrent(target: Target, clients: int, per_client: int) -> Figures:
    """``clients`` threads, each with its own kept-alive connection, start together and make ``per_client`` calls."""
    calls_made: list[Timed] = []
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client_loop() -> None:
        try:
            with httpx.Client(headers=target.headers, timeout=60) as client:
                _open(client, target)
                ready.wait()
                mine = [_call(client, target) for _ in range(per_client)]
            with lock:
                calls_made.extend(mine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    cpu = cpu_seconds(target.pid)
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = cpu_seconds(target.pid) - cpu
    if errors:
        raise errors[0]
    return _figures(calls_made, wall, cpu)


def _figures(calls: list[Timed], wall: float, cpu: float) -> Figures:
    latencies = [c.seconds for c in calls]
    failures = [c.failure for c in calls if c.failure]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    per_sec = (len(calls) - len(failures)) / wall
    return Figures(1000 * p50, 1000 * p99, per_sec, 1000 * cpu / len(calls), len(failures), next(iter(failures), ""))


def gateway_cli(server: ClearwayServer, *args: str) -> str:
    """``clearway gateway ARGS`` as the operator of ``server``; the new id, which it prints on its last line."""
    env = {"CLEARWAY_DATA_DIR": str(server.data_dir), "CLEARWAY_DATABASE_URL": server.database_url, **server.env}
    done = subprocess.run(
        [sys.executable, "-m", "clearway", "gateway", *args],
        env={**_environ(), **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"clearway gateway {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1].strip()


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")}


@contextmanager
def targets(work: Path, backend: Backend) -> Iterator[tuple[Target, Target]]:
    """A server on ``backend`` and a served model registered with its gateway: (direct, through the gateway)."""
    (work / "server").mkdir(parents=True, exist_ok=True)
    with ClearwayServer.running(work / "server", backend) as server:
        with served_model(server.credentials, work / "serving") as served:
            machine = gateway_cli(
                server, "machines", "add", "--serving-task", served.service_id, "--url", served.app.url
            )
            gateway_cli(server, "endpoints", "add", "--machine", machine, "--endpoint", served.endpoint)
            token = gateway_cli(server, "tokens", "create", "--user", USER, "--rate", "1000000")
            headers = {"Authorization": f"Bearer {token}"}
            assert served.app.process is not None and server.process is not None
            direct = Target(served.app.serve_url, {}, served.app.process.pid)
            url = f"{server.url}/gateway/v1/ondemand/{machine}/{served.endpoint}"
            proxied = Target(url, headers, server.process.popen.pid)
            for target in (direct, proxied):
                with httpx.Client(headers=target.headers, timeout=30) as check:
                    answer = check.post(target.url, json=SAMPLE)
                if answer.status_code != 200 or answer.json() != PREDICTION:
                    raise RuntimeError(f"{target.url} answered {answer.status_code}: {answer.text[:300]}")
            yield direct, proxied


def measure(work: Path, backend: Backend, runs: int, load: Load) -> dict[str, list[Figures]]:
    """Per kind (``direct_1``, ``gateway_1``, ``direct_32``, ``gateway_32``): one Figures per run, interleaved."""
    figures: dict[str, list[Figures]] = {f"{side}_{n}": [] for n in (1, CONCURRENT) for side in ("direct", "gateway")}
    with targets(work, backend) as (direct, proxied):
        for _ in range(runs):
            for side, target in (("direct", direct), ("gateway", proxied)):
                figures[f"{side}_1"].append(sequential(target, load.sequential))
                figures[f"{side}_{CONCURRENT}"].append(concurrent(target, CONCURRENT, load.per_client))
    return figures


def run(ctx: Context) -> list[Result]:
    from bench.common import Result, at_least, at_most

    load = SMOKE_LOAD if ctx.smoke else FULL_LOAD
    results = []
    for backend in ctx.backends:
        f = measure(ctx.fresh_dir(f"gateway-{backend.name}"), backend, ctx.runs, load)
        db = backend.name
        for n in (1, CONCURRENT):
            direct, through = f[f"direct_{n}"], f[f"gateway_{n}"]
            clients = "1 client" if n == 1 else f"{n} clients"
            added = [g.p50_ms - d.p50_ms for g, d in zip(through, direct, strict=True)]
            note = failures(direct, through)
            results += [
                Result("gateway", f"on-demand p50, {clients} [{db}]", "ms", [g.p50_ms for g in through],
                       higher_is_better=False, reference="direct /serve", reference_samples=[d.p50_ms for d in direct]),
                Result("gateway", f"on-demand p99, {clients} [{db}]", "ms", [g.p99_ms for g in through],
                       higher_is_better=False, reference="direct /serve", reference_samples=[d.p99_ms for d in direct]),
                Result("gateway", f"added at p50, {clients} [{db}]", "ms", added, higher_is_better=False,
                       target=at_most(1, "ms") if n == 1 else None),
                Result("gateway", f"on-demand req/s, {clients} [{db}]", "req/s", [g.per_sec for g in through],
                       reference="direct /serve", reference_samples=[d.per_sec for d in direct],
                       target=at_least(0.7, "direct"), note=note),
                Result("gateway", f"Clearway CPU per on-demand call, {clients} [{db}]", "ms",
                       [g.cpu_ms for g in through], higher_is_better=False,
                       reference="the serving app's CPU per direct call", reference_samples=[d.cpu_ms for d in direct]),
            ]  # fmt: skip
    return results


def failures(direct: list[Figures], through: list[Figures]) -> str:
    """A note on the answers other than 200, if any (the first of each side as an example)."""
    parts = []
    for side, figures in (("direct", direct), ("gateway", through)):
        failed = sum(f.failed for f in figures)
        if failed:
            parts.append(f"{side}: {failed} not 200 ({next(f.first_failure for f in figures if f.failed)[:120]})")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds, direct and through the gateway")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code, not the speed")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    load = SMOKE_LOAD if args.smoke else FULL_LOAD
    print("| database | clients | p50 ms: direct / gateway (added) | p99 ms: direct / gateway "
          "| req/s: direct / gateway | CPU ms per call: app (direct) / Clearway (gateway) |"
          "\n|---|---:|---|---|---|---|")  # fmt: skip
    med = statistics.median
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="clearway-bench-gateway-") as tmp:
            f = measure(Path(tmp), Backend(kind), args.runs, load)
        for n in (1, CONCURRENT):
            d, g = f[f"direct_{n}"], f[f"gateway_{n}"]
            p50 = med(x.p50_ms for x in d), med(x.p50_ms for x in g)
            p99 = med(x.p99_ms for x in d), med(x.p99_ms for x in g)
            rps = med(x.per_sec for x in d), med(x.per_sec for x in g)
            cpu = med(x.cpu_ms for x in d), med(x.cpu_ms for x in g)
            print(f"| {kind} | {n} | {p50[0]:.2f} / {p50[1]:.2f} ({p50[1] - p50[0]:+.2f}) | {p99[0]:.2f} / "
                  f"{p99[1]:.2f} | {rps[0]:.0f} / {rps[1]:.0f} ({rps[1] / rps[0]:.0%}) | {cpu[0]:.2f} / {cpu[1]:.2f} |",
                  flush=True)  # fmt: skip
            if note := failures(d, g):
                print(f"  {kind}, {n} clients: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
