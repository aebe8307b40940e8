"""Gateway: what the on-demand route adds to a call of the official clearml-serving app.

One run trains and publishes a scikit-learn model with the real SDK, declares it with the real ``clearml-serving``
CLI and starts the unmodified inference app (``tests/support/serving.py``, shared with the end-to-end tests), then
registers the app with ``clearway gateway machines add`` and ``endpoints add``. The same JSON body then goes to the
same app, interleaved run by run:
* directly, ``POST <app>/serve/<endpoint>`` (the reference);
* through the gateway, ``POST /gateway/v1/ondemand/<machine>/<endpoint>`` with the user's Bearer token.
With 1 client (sequential calls) and with 32 concurrent clients, each a thread with its own kept-alive connection:
p50 and p99 latency, and requests per second. Targets: at most 1 ms added at p50 (1 client), at least 70% of the
direct throughput.

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

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backends import Backend  # noqa: E402
from bench.clearway_server import ClearwayServer  # noqa: E402
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
    """One measurement: latency percentiles in ms and requests per second."""

    p50_ms: float
    p99_ms: float
    per_sec: float


@dataclass(frozen=True)
class Target:
    """Where to send the body, with which headers."""

    url: str
    headers: dict[str, str]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _call(client: httpx.Client, target: Target) -> float:
    started = time.perf_counter()
    response = client.post(target.url, json=SAMPLE)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{target.url} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def sequential(target: Target, calls: int) -> Figures:
    with httpx.Client(headers=target.headers, timeout=30) as client:
        _call(client, target)  # the connection is open before the clock starts
        started = time.perf_counter()
        latencies = [_call(client, target) for _ in range(calls)]
        wall = time.perf_counter() - started
    return _figures(latencies, calls / wall)


def concurrent(target: Target, clients: int, per_client: int) -> Figures:
    """``clients`` threads, each with its own kept-alive connection, start together and make ``per_client`` calls."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client_loop() -> None:
        try:
            with httpx.Client(headers=target.headers, timeout=60) as client:
                _call(client, target)
                ready.wait()
                mine = [_call(client, target) for _ in range(per_client)]
            with lock:
                latencies.extend(mine)
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
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return _figures(latencies, len(latencies) / wall)


def _figures(latencies: list[float], per_sec: float) -> Figures:
    return Figures(1000 * percentile(latencies, 0.5), 1000 * percentile(latencies, 0.99), per_sec)


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
            with server.client() as client:
                headers = {"Authorization": client.headers["Authorization"]}
            direct = Target(served.app.serve_url, {})
            proxied = Target(f"{server.url}/gateway/v1/ondemand/{machine}/{served.endpoint}", headers)
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
            results += [
                Result("gateway", f"on-demand p50, {clients} [{db}]", "ms", [g.p50_ms for g in through],
                       higher_is_better=False, reference="direct /serve", reference_samples=[d.p50_ms for d in direct]),
                Result("gateway", f"on-demand p99, {clients} [{db}]", "ms", [g.p99_ms for g in through],
                       higher_is_better=False, reference="direct /serve", reference_samples=[d.p99_ms for d in direct]),
                Result("gateway", f"added at p50, {clients} [{db}]", "ms", added, higher_is_better=False,
                       target=at_most(1, "ms") if n == 1 else None),
                Result("gateway", f"on-demand req/s, {clients} [{db}]", "req/s", [g.per_sec for g in through],
                       reference="direct /serve", reference_samples=[d.per_sec for d in direct],
                       target=at_least(0.7, "direct")),
            ]  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds, direct and through the gateway")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code, not the speed")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    load = SMOKE_LOAD if args.smoke else FULL_LOAD
    print("| database | clients | p50 ms: direct / gateway (added) | p99 ms: direct / gateway "
          "| req/s: direct / gateway |\n|---|---:|---|---|---|")  # fmt: skip
    med = statistics.median
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="clearway-bench-gateway-") as tmp:
            f = measure(Path(tmp), Backend(kind), args.runs, load)
        for n in (1, CONCURRENT):
            d, g = f[f"direct_{n}"], f[f"gateway_{n}"]
            p50 = med(x.p50_ms for x in d), med(x.p50_ms for x in g)
            p99 = med(x.p99_ms for x in d), med(x.p99_ms for x in g)
            rps = med(x.per_sec for x in d), med(x.per_sec for x in g)
            print(f"| {kind} | {n} | {p50[0]:.2f} / {p50[1]:.2f} ({p50[1] - p50[0]:+.2f}) | {p99[0]:.2f} / "
                  f"{p99[1]:.2f} | {rps[0]:.0f} / {rps[1]:.0f} ({rps[1] / rps[0]:.0%}) |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
