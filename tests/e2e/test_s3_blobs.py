"""The file server on an S3-compatible store (moto's server mode, a real process), through HTTP and the SDK."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearway.domain.blobs import OWNED_ROOT
from tests.support.files import login, multipart, owned_prefix, upload
from tests.support.moto import S3Server, moto_server
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

BUCKET = "clearway-test"
PREFIX = "blobs/v1"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def s3_server(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("s3-clearway"), **s3.clearway_env(BUCKET, PREFIX)) as proc:
        yield proc


def objects(client: Any) -> dict[str, int]:
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listing}


def test_upload_download_range_delete_on_s3(s3: S3Server, s3_server: ServerProcess) -> None:
    token = login(s3_server, s3_server.user("s3user"))
    auth = {"Authorization": f"Bearer {token}"}
    small = b"hello s3"
    big = os.urandom(20 * 1024 * 1024 + 5)  # more than two multipart parts
    response = upload(s3_server, token, [("/P/T.1/artifacts/s/small.txt", small), ("/P/T.1/models/big.bin", big)])
    assert response.status_code == 200, response.text

    client = s3.client()
    mine = f"{PREFIX}/{owned_prefix(token)}"  # each user's files under their own organisation and user
    expected = {f"{mine}/P/T.1/artifacts/s/small.txt": len(small), f"{mine}/P/T.1/models/big.bin": len(big)}
    assert objects(client) == expected
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    whole = httpx.get(f"{s3_server.url}/files/P/T.1/models/big.bin", headers=auth, timeout=120)
    assert (whole.status_code, whole.headers["content-length"]) == (200, str(len(big)))
    assert whole.content == big
    part = httpx.get(f"{s3_server.url}/files/P/T.1/models/big.bin", headers={**auth, "Range": "bytes=9000000-9000099"})
    assert (part.status_code, part.content) == (206, big[9_000_000:9_000_100])

    bob = login(s3_server, s3_server.user("s3bob"))
    assert (
        httpx.get(
            f"{s3_server.url}/files/P/T.1/artifacts/s/small.txt", headers={"Authorization": f"Bearer {bob}"}
        ).status_code
        == 404
    )

    assert httpx.delete(f"{s3_server.url}/files/P/T.1/models/big.bin", headers=auth).status_code == 200
    assert objects(client) == {f"{mine}/P/T.1/artifacts/s/small.txt": len(small)}
    assert httpx.get(f"{s3_server.url}/files/P/T.1/models/big.bin", headers=auth).status_code == 404


ARTIFACTS = """
import json
from clearml import Task

task = Task.init(project_name="S3 project", task_name="s3 artifacts")
task.upload_artifact("metrics", artifact_object={"accuracy": 0.9})
task.upload_artifact("losses", artifact_object=[0.3, 0.2])
task.close()
again = Task.get_task(task_id=task.id)
print("RESULT", json.dumps([again.artifacts["metrics"].get(), again.artifacts["losses"].get()]))
"""


def test_sdk_artifacts_on_s3(s3: S3Server, s3_server: ServerProcess, tmp_path: Path) -> None:
    out = run_sdk(ARTIFACTS, s3_server.user("s3sdk"), tmp_path)
    assert json.loads(last_line_value(out.stdout, "RESULT")) == [{"accuracy": 0.9}, [0.3, 0.2]]
    keys = objects(s3.client())
    in_task_folder = f"{PREFIX}/{OWNED_ROOT}/"  # then the organisation, the owner, and the SDK's path
    assert any(
        key.startswith(in_task_folder) and "/S3 project/s3 artifacts." in key and key.endswith("metrics.json")
        for key in keys
    )
    assert not list((s3_server.data_dir / "files").rglob("*.json"))  # nothing went to local disk


UPLOAD_LIMIT = 12 * 1024 * 1024  # past one part (8 MiB): an upload over it has a multipart upload open


@pytest.fixture(scope="module")
def s3_limited(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**s3.clearway_env(BUCKET, "limited"), "CLEARWAY_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    with running_server(tmp_path_factory.mktemp("s3-limited"), **env) as proc:
        yield proc


def _open_uploads(client: Any) -> list[str]:
    return [item["Key"] for item in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_an_upload_over_the_limit_aborts_its_multipart_upload(s3: S3Server, s3_limited: ServerProcess) -> None:
    """Streamed without a length, the upload is refused once past the limit, after its first part went to S3:
    the multipart upload is aborted, and no object (nor any part of one) is left in the bucket."""
    token = login(s3_limited, s3_limited.user("s3limited"))
    body, content_type = multipart([("/P/T.1/models/too-big.bin", os.urandom(UPLOAD_LIMIT + 4 * 1024 * 1024))])
    chunks = (body[i : i + 1024 * 1024] for i in range(0, len(body), 1024 * 1024))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    response = httpx.post(f"{s3_limited.url}/files", content=chunks, headers=headers, timeout=120)
    assert response.status_code == 413, response.text
    client = s3.client()
    assert _open_uploads(client) == []
    assert not [key for key in objects(client) if key.startswith("limited/")]


def test_a_dropped_upload_aborts_its_multipart_upload(s3: S3Server, s3_limited: ServerProcess) -> None:
    """The client goes away in the middle of an upload whose parts are already in S3: the upload is aborted."""
    token = login(s3_limited, s3_limited.user("s3dropper"))
    body, content_type = multipart([("/P/T.1/models/dropped.bin", os.urandom(UPLOAD_LIMIT - 1024 * 1024))])
    client = s3.client()
    with socket.create_connection(("127.0.0.1", s3_limited.port), timeout=30) as sock:
        head = (
            f"POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: 10 * 1024 * 1024])  # past the first part, short of the end
        _until(lambda: _open_uploads(client) != [], "the first part never started a multipart upload")
    _until(lambda: _open_uploads(client) == [], "the multipart upload of a dropped request was left open")
    assert not [key for key in objects(client) if key.endswith("dropped.bin")]
