"""Notifications: what they cost the write path, and how soon a webhook hears of a status change.

* Write path: ``events.add_batch`` (1,000 scalar points a request) and ``tasks.*`` (create, then started,
  completed: three events a task) per second, interleaved in one server, in three phases: no subscription; 99
  active subscriptions of 10 other users, every one asking for every task event it may see (``task.*``,
  ``scope: all``), none of whom may read the bench user's tasks (every event is routed against them, the owners'
  access checked, and nothing delivered); and those plus the bench user's own webhook (100: every event is also
  delivered once, to a receiver in a process of its own). Target: at most 5% slower.
* Latency: ``tasks.stopped`` on one task at a time (paced), from the call's start to the webhook's arrival at the
  receiver: p50 and p99.

Standalone: ``python bench/notify.py [--database sqlite|postgresql|both] [--rounds N] [--smoke]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dispatch import api, own_server  # noqa: E402
from bench.workload import scalar_lines, scalar_points  # noqa: E402

if TYPE_CHECKING:
    from bench.common import Context, Result

TITLE = "Notifications"
USERS, PER_USER = 10, 10
BATCH = 1000
LATENCY_GAP_SEC = 0.02


RECEIVER = """
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        task = (body["data"].get("task") or {}).get("id")
        if body["type"] == "task.stopped" and task:
            with lock:  # one whole line at a time, whatever the threads
                print(task, time.time(), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """A webhook endpoint in a process of its own (so that it takes no time from this one's client), noting when
    each task's ``task.stopped`` arrived (wall clock: the same machine's)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.process = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            task, at = line.split()
            self.arrived.setdefault(task, float(at))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def subscribe_all(url: str, own_token: str, others: list[str], hook: str) -> list[tuple[str, str]]:
    """100 subscriptions (token, id): the bench user's webhook, and 99 of the other users (none of whom may read the
    bench user's tasks, so the router checks and drops each)."""
    owners = [own_token] + [token for token in others for _ in range(PER_USER)][: USERS * PER_USER - 1]
    made = []
    for n, token in enumerate(owners):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            target = hook if n == 0 else f"{hook}-{n}"
            body = {"channel": "webhook", "url": target, "kinds": ["task.*"], "scope": "all"}
            made.append((token, client.post("/events/subscriptions", json=body).json()["id"]))
    return made


def switch(url: str, subscriptions: list[tuple[str, str]], enabled: bool) -> None:
    for token, sub in subscriptions:
        response = httpx.patch(
            f"{url}/events/subscriptions/{sub}", json={"enabled": enabled}, headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()


def batches_per_sec(client: httpx.Client, task: str, requests: int) -> float:
    bodies = [scalar_lines(task, scalar_points(i * BATCH, BATCH)) for i in range(requests)]
    started = time.perf_counter()
    for body in bodies:
        client.post("/events.add_batch", content=body, headers={"Content-Type": "application/json-lines"})
    return requests * BATCH / (time.perf_counter() - started)


def task_calls_per_sec(client: httpx.Client, tasks: int) -> float:
    started = time.perf_counter()
    for i in range(tasks):
        task = api(client, "tasks.create", {"name": f"n-{i}", "type": "training"})["id"]
        api(client, "tasks.started", {"task": task, "force": True})
        api(client, "tasks.completed", {"task": task, "force": True})
    return 3 * tasks / (time.perf_counter() - started)


def latencies_ms(client: httpx.Client, receiver: Receiver, count: int) -> list[float]:
    sent: dict[str, float] = {}
    for i in range(count):
        task = api(client, "tasks.create", {"name": f"lat-{i}", "type": "training"})["id"]
        sent[task] = time.time()
        api(client, "tasks.stopped", {"task": task, "force": True})
        time.sleep(LATENCY_GAP_SEC)
    deadline = time.monotonic() + 60
    while any(task not in receiver.arrived for task in sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [1000 * (receiver.arrived[task] - at) for task, at in sent.items() if task in receiver.arrived]


def drained(client: httpx.Client) -> None:
    """Until no delivery of the bench user waits: the next phase starts without the last one's backlog."""
    deadline = time.monotonic() + 120
    while client.get("/events/deliveries", params={"state": "pending", "limit": 1}).json():
        if time.monotonic() > deadline:
            raise TimeoutError("webhook deliveries did not drain")
        time.sleep(0.05)


def measure(kind: str, work: Path, rounds: int, smoke: bool) -> dict[str, Any]:
    receiver = Receiver()
    env = {"CLEARWAY_WEBHOOK_ALLOW_PRIVATE": "true", "CLEARWAY_NOTIFY_RETRY_HOURS": "0.01"}
    users = [f"notify-{n}" for n in range(USERS)]
    requests, tasks, latency_count = (3, 10, 20) if smoke else (20, 100, 200)
    phases = ("off", "routed", "delivered")
    figures: dict[str, list[float]] = {f"{what}_{phase}": [] for what in ("batch", "tasks") for phase in phases}
    try:
        with own_server(work, kind, extra_env=env, extra_users=users) as cluster:
            own, *others = subscribe_all(cluster.url, cluster.user_token, cluster.extra_tokens, receiver.url)
            with cluster.client(cluster.user_token) as client:
                task = api(client, "tasks.create", {"name": "scalars", "type": "training"})["id"]
                for _ in range(rounds):  # interleaved, so the machine's noise hits every phase alike
                    for phase in phases:
                        switch(cluster.url, others, phase != "off")
                        switch(cluster.url, [own], phase == "delivered")
                        figures[f"batch_{phase}"].append(batches_per_sec(client, task, requests))
                        figures[f"tasks_{phase}"].append(task_calls_per_sec(client, tasks))
                        drained(client)
                latency = latencies_ms(client, receiver, latency_count)
    finally:
        receiver.close()
    return {"database": kind, **figures, "latency_ms": latency, "latency_expected": latency_count}


def summary(f: dict[str, Any]) -> dict[str, float]:
    med = statistics.median
    latency = sorted(f["latency_ms"])
    out = {"latency_p50_ms": latency[len(latency) // 2] if latency else float("nan"),
           "latency_p99_ms": latency[min(len(latency) - 1, int(len(latency) * 0.99))] if latency else float("nan"),
           "webhooks_arrived": len(latency)}  # fmt: skip
    for what in ("batch", "tasks"):
        for phase in ("off", "routed", "delivered"):
            out[f"{what}_{phase}"] = med(f[f"{what}_{phase}"])
        for phase in ("routed", "delivered"):
            out[f"{what}_{phase}_slower_pct"] = 100 * (1 - out[f"{what}_{phase}"] / out[f"{what}_off"])
    return out


def run(ctx: Context) -> list[Result]:
    from bench.common import Result, Target

    results = []
    five_percent = Target("ratio", ">=", 0.95, "at most 5% slower")
    for backend in ctx.backends:
        f = measure(backend.name, ctx.fresh_dir(f"notify-{backend.name}"), 2 if ctx.smoke else 5, ctx.smoke)
        s = summary(f)
        db = backend.name
        without = "the same without subscriptions"
        for phase, label in (("routed", "99 routed, none delivering"), ("delivered", "100, one delivering")):
            results += [
                Result("notify", f"events.add_batch, subscriptions: {label} [{db}]", "points/s",
                       f[f"batch_{phase}"], reference=without, reference_samples=f["batch_off"], target=five_percent),
                Result("notify", f"tasks.*, subscriptions: {label} [{db}]", "calls/s", f[f"tasks_{phase}"],
                       reference=without, reference_samples=f["tasks_off"], target=five_percent),
            ]  # fmt: skip
        results.append(
            Result("notify", f"status change to webhook arrival, p50 [{db}]", "ms", [s["latency_p50_ms"]],
                   higher_is_better=False, note=f"p99 {s['latency_p99_ms']:.0f} ms, "
                   f"{s['webhooks_arrived']} of {f['latency_expected']} arrived")
        )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds with and without subscriptions")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code, not the speed")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print("| database | add_batch points/s: none / 99 routed / 100, one delivering | tasks.* calls/s: the same "
          "| status change -> webhook p50 / p99 ms |")  # fmt: skip
    print("|---|---|---|---|")
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="clearway-bench-notify-") as tmp:
            s = summary(measure(kind, Path(tmp), args.rounds, args.smoke))
        cells = [
            f"{s[f'{what}_off']:.0f} / {s[f'{what}_routed']:.0f} ({-s[f'{what}_routed_slower_pct']:+.1f}%) / "
            f"{s[f'{what}_delivered']:.0f} ({-s[f'{what}_delivered_slower_pct']:+.1f}%)"
            for what in ("batch", "tasks")
        ]
        latency = f"{s['latency_p50_ms']:.1f} / {s['latency_p99_ms']:.1f} ({s['webhooks_arrived']} arrived)"
        print(f"| {kind} | {cells[0]} | {cells[1]} | {latency} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
