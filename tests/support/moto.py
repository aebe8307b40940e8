"""A real S3-compatible server (moto's server mode) on a free port, for testing the S3 blob store."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

REGION = "us-east-1"
KEY_ID = "testing"
SECRET = "testing"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
        )

    def clearway_env(self, bucket: str, prefix: str) -> dict[str, str]:
        return {
            "CLEARWAY_BLOB_URL": f"s3://{bucket}/{prefix}",
            "CLEARWAY_S3_ENDPOINT_URL": self.endpoint,
            "CLEARWAY_S3_REGION": REGION,
            "CLEARWAY_S3_ACCESS_KEY_ID": KEY_ID,
            "CLEARWAY_S3_SECRET_ACCESS_KEY": SECRET,
        }


@contextmanager
def moto_server(log_dir: Path, timeout: float = 30) -> Iterator[S3Server]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log_dir / "moto.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto exited: {(log_dir / 'moto.log').read_text()[-2000:]}")
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not start in time") from None
                time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
