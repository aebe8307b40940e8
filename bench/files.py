"""Files: upload and download throughput through the file server, beside a plain local copy of the same file.

Each figure is MB/s moving one file from disk to disk: ``POST /files`` (multipart, as the SDK sends it) from a local
file into the server's store, ``GET /files/...`` from the store into a local file, and ``shutil.copyfile`` of the
same file on the same disk as the reference (ratio = server / copy). The server fsyncs every upload before it
answers (a plain copy does not), so upload ratios include the price of durability.

A section of ``python -m bench``, and runnable alone: ``python bench/files.py [--runs N] [--smoke]`` starts its
own server on SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bench.common import Context, Result

TITLE = "Files"
MB = 1024 * 1024
SIZES_MB = (1, 100)
SMOKE_SIZES_MB = (1, 8)
ROOT = Path(__file__).resolve().parents[1]


class Measurement:
    """Throughput samples (MB/s) of one file size, and the server's peak resident memory while it moved."""

    def __init__(self, size_mb: int) -> None:
        self.size_mb = size_mb
        self.upload: list[float] = []
        self.download: list[float] = []
        self.copy: list[float] = []
        self.peak_rss_mb = 0.0


def measure(url: str, token: str, work: Path, size_mb: int, runs: int, server_pid: int | None) -> Measurement:
    """Interleave copy, upload and download ``runs`` times each (A B C A B C ...), so drift hits them alike."""
    source = work / f"source-{size_mb}.bin"
    with open(source, "wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(MB))
    result = Measurement(size_mb)
    key = f"bench/files/{size_mb}MB.bin"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        with _peak_rss(server_pid) as peak:
            for _ in range(runs):
                result.copy.append(_rate(size_mb, lambda: shutil.copyfile(source, work / "copy.bin")))
                result.upload.append(_rate(size_mb, lambda: _upload(client, source, key)))
                result.download.append(_rate(size_mb, lambda: _download(client, key, work / "download.bin")))
        result.peak_rss_mb = peak()
    if (work / "download.bin").read_bytes() != source.read_bytes():
        raise RuntimeError("the downloaded file differs from the uploaded one")
    for name in ("copy.bin", "download.bin", source.name):
        (work / name).unlink()
    return result


def _rate(size_mb: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return size_mb / (time.perf_counter() - started)


def _upload(client: httpx.Client, source: Path, key: str) -> None:
    with open(source, "rb") as handle:
        response = client.post("/files", files={f"/{key}": (f"/{key}", handle, "application/octet-stream")})
    response.raise_for_status()


def _download(client: httpx.Client, key: str, target: Path) -> None:
    with client.stream("GET", f"/files/{key}") as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_raw(MB):
            out.write(chunk)


@contextmanager
def _peak_rss(pid: int | None) -> Iterator[Callable[[], float]]:
    """Sample the server's resident memory (MiB) every 20 ms; 0 when psutil or the pid is missing."""
    peak = [0.0]
    stop = threading.Event()
    try:
        import psutil

        process = psutil.Process(pid) if pid else None
    except ImportError:
        process = None

    def sample() -> None:
        while process is not None and not stop.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss / MB)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0]
    finally:
        stop.set()
        thread.join()


# As a section of ``python -m bench``.
def run(ctx: Context) -> list[Result]:
    from bench.common import Result

    backend = ctx.backends[0]  # file throughput barely touches the database: one backend is enough
    server = ctx.clearway(backend)
    with server.client() as client:
        token = client.headers["Authorization"].removeprefix("Bearer ")
    pid = server.process.popen.pid if server.process is not None else None
    results = []
    for size_mb in SMOKE_SIZES_MB if ctx.smoke else SIZES_MB:
        m = measure(server.url, token, ctx.fresh_dir(f"files-{size_mb}"), size_mb, ctx.runs, pid)
        note = f"server peak RSS {m.peak_rss_mb:.0f} MiB" if m.peak_rss_mb else ""
        for direction, samples in (("upload", m.upload), ("download", m.download)):
            results.append(
                Result(
                    "files",
                    f"{direction} {size_mb} MB through /files [{backend.name}]",
                    "MB/s",
                    samples,
                    reference=f"shutil.copyfile {size_mb} MB",
                    reference_samples=m.copy,
                    note=note,
                )
            )
    return results


# Standalone.
@contextmanager
def _own_server(work: Path) -> Iterator[tuple[str, str, int]]:
    """A ``clearway server`` on SQLite under ``work``: its URL, a token, its pid."""
    env = {**os.environ, "CLEARWAY_DATA_DIR": str(work / "server")}
    cli = [sys.executable, "-m", "clearway"]

    def clearway(*args: str) -> str:
        return subprocess.run([*cli, *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout

    clearway("db", "upgrade")
    clearway("users", "create", "bench")
    with socket_port() as port:
        url = f"http://127.0.0.1:{port}"
    creds = dict(
        line.removeprefix("export ").split("=", 1) for line in clearway("env", "bench", "--url", url).splitlines()
    )
    auth = (shlex.split(creds["CLEARML_API_ACCESS_KEY"])[0], shlex.split(creds["CLEARML_API_SECRET_KEY"])[0])
    with open(work / "server.log", "ab") as log:
        process = subprocess.Popen(
            [*cli, "server", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                token = httpx.get(f"{url}/auth.login", auth=auth, timeout=5).json()["data"]["token"]
                break
            except (httpx.TransportError, KeyError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / "server.log").read_text()[-2000:]) from None
                time.sleep(0.05)
        yield url, token, process.pid
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions behind each median")
    parser.add_argument("--smoke", action="store_true", help=f"sizes {SMOKE_SIZES_MB} MB instead of {SIZES_MB} MB")
    args = parser.parse_args(argv)
    print("| file | direction | through /files MB/s | local copy MB/s | ratio | server peak RSS |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="clearway-bench-files-") as tmp, _own_server(Path(tmp)) as server:
        url, token, pid = server
        for size_mb in SMOKE_SIZES_MB if args.smoke else SIZES_MB:
            work = Path(tmp) / f"work-{size_mb}"
            work.mkdir()
            m = measure(url, token, work, size_mb, args.runs, pid)
            copy = statistics.median(m.copy)
            for direction, samples in (("upload", m.upload), ("download", m.download)):
                value = statistics.median(samples)
                row = f"| {size_mb} MB | {direction} | {value:.0f} | {copy:.0f} | {value / copy:.2f} |"
                print(f"{row} {m.peak_rss_mb:.0f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
