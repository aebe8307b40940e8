"""``python -m bench``: run the sections in order, print the table, write it under bench/results/."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import signal
import subprocess
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import mlflow_env
from bench.backends import DEFAULT_PG_ADMIN_URL, Backend
from bench.common import FULL, SMOKE, Context, Result, Section
from bench.report import markdown, write

# In this order: footprint first, on a quiet machine; dispatch and files are written by other people and plug in
# here as soon as their modules exist.
SECTIONS = (
    "footprint",
    "ingest",
    "reads",
    "listing",
    "web_ui",
    "queries",
    "dispatch",
    "scheduling",
    "files",
    "scaling",
    "notify",
    "gateway",
)
HERE = Path(__file__).resolve().parent


DATABASE_SETTINGS = [
    "Clearway runs SQLite in WAL mode with synchronous FULL, in one server process (PostgreSQL: one server process,"
    " the database server's own settings).",
    "MLflow runs as `mlflow server` runs by default: SQLite with a rollback journal (no WAL), synchronous FULL, 4"
    " worker processes. Rows whose reference says 'same SQLite settings' run a second MLflow server in WAL mode"
    " with one worker process: the ratio beside it is design, not configuration.",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: checks the code, not speed")
    parser.add_argument("--runs", type=int, help="repetitions behind each median (default 5; smoke 2)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from {','.join(SECTIONS)}")
    parser.add_argument("--databases", help="comma-separated: sqlite,postgresql (default both; smoke: sqlite)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL, help="where PostgreSQL databases are made")
    parser.add_argument(
        "--mlflow",
        choices=("on", "off", "auto"),
        help="on: install on first use (default); auto: only if already installed (smoke default); off: skip",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the .md and .json go")
    args = parser.parse_args(argv)
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that every server started is stopped
    notes: list[str] = []
    backends = []
    for name in (args.databases or ("sqlite" if args.smoke else "sqlite,postgresql")).split(","):
        backend = Backend(name, args.pg_admin_url)
        if backend.available():
            backends.append(backend)
        else:
            notes.append(f"{name} skipped: not reachable at {args.pg_admin_url}")
    mlflow_mode = args.mlflow or ("auto" if args.smoke else "on")
    with_mlflow = mlflow_mode == "on" or (mlflow_mode == "auto" and mlflow_env.installed())
    if not with_mlflow:
        notes.append("MLflow skipped (--mlflow off, or auto and not installed): no MLflow references")
    notes += DATABASE_SETTINGS if with_mlflow else DATABASE_SETTINGS[:1]
    results: list[Result] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="clearway-bench-") as work:
        ctx = Context(
            sizes=SMOKE if args.smoke else FULL,
            runs=args.runs or (2 if args.smoke else 5),
            smoke=args.smoke,
            work_dir=Path(work),
            backends=backends,
            with_mlflow=with_mlflow,
        )
        with ctx.stack:
            for name in args.sections.split(","):
                if importlib.util.find_spec(f"bench.{name}") is None:
                    notes.append(f"section {name}: bench/{name}.py is not there yet")
                    continue
                print(f"== {name} ...", file=sys.stderr, flush=True)
                try:
                    section: Section = importlib.import_module(f"bench.{name}")  # type: ignore[assignment]
                    results += section.run(ctx)
                except Exception:  # noqa: BLE001 - report the section's failure, go on with the others
                    failed = True
                    traceback.print_exc()
                    notes.append(f"section {name} FAILED (traceback on stderr)")
    meta = _meta(ctx, with_mlflow, notes)
    print(markdown(results, meta))
    for path in write(results, meta, args.out):
        print(f"written: {path}", file=sys.stderr)
    return 1 if failed else 0


def _meta(ctx: Context, with_mlflow: bool, notes: list[str]) -> dict[str, Any]:
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.machine()}",
        "python": platform.python_version(),
        "clearway": commit.stdout.strip() or "unknown",
        "mlflow": mlflow_env.MLFLOW_VERSION if with_mlflow else "skipped",
        "databases": ",".join(b.name for b in ctx.backends),
        "runs": ctx.runs,
        "smoke": ctx.smoke,
        "notes": notes,
    }
