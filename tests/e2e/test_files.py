"""The file server against a real server process: path safety, ranges, limits, authentication, ownership."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest

from clearway.blobs.local import PARTIAL_DIR
from tests.support.files import login, multipart, owned_prefix, raw_request, upload
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

REFUSED = (400, 403, 404)
MARKER = f"escaped-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def token(server: ServerProcess) -> str:
    return login(server, server.user("filer"))


def files_dir(server: ServerProcess) -> Path:
    return server.data_dir / "files"


def stray_files(server: ServerProcess) -> list[Path]:
    """Files named like our escape attempts outside the store: near the data dir, or at the top of /tmp."""
    near = [p for p in server.data_dir.parent.rglob(f"*{MARKER}*") if files_dir(server) not in p.parents]
    return near + list(Path("/tmp").glob(f"*{MARKER}*"))


# Request targets after /files/ that try to read the server's token secret, next to the store.
READ_ATTACKS = [
    "../token-secret",
    "a/../../token-secret",
    "%2e%2e/token-secret",
    "%2E%2E%2Ftoken-secret",
    "..%2ftoken-secret",
    ".%2e/token-secret",
    "%252e%252e/token-secret",
    "%252e%252e%252ftoken-secret",
    "%25252e%25252e%25252ftoken-secret",
    "..%5ctoken-secret",
    "..\\token-secret",
    "..;/token-secret",
    "a;/../../token-secret",
    "a/..;/..;/token-secret",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "%2F..%2Ftoken-secret",
    "C:/Windows/win.ini",
    "a%00b",
    "%c0%ae%c0%ae/token-secret",
    "%ef%bc%8e%ef%bc%8e/token-secret",
    "%ff/x",
    ".clearway-partial/x",
    "a" * 300,
    "/".join(["abcdefghij"] * 120),
]


@pytest.mark.parametrize("target", READ_ATTACKS)
def test_traversal_reads_are_refused(server: ServerProcess, token: str, target: str) -> None:
    secret = (server.data_dir / "token-secret").read_bytes()
    status, _, body = raw_request(server, "GET", f"/files/{target}", token)
    assert status in REFUSED, body
    assert secret not in body
    assert json.loads(body)["status"] == status  # a problem document


UPLOAD_ATTACKS = [
    f"../{MARKER}",
    f"/../{MARKER}",
    f"a/../../{MARKER}",
    f"%2e%2e/{MARKER}",
    f"%2e%2e%2f{MARKER}",
    f"%252e%252e/{MARKER}",
    f"..\\{MARKER}",
    f"..;/{MARKER}",
    f"//tmp/{MARKER}",
    f"/tmp/../../{MARKER}",
    f"a/./{MARKER}",
    f"a//{MARKER}",
    f"{MARKER}\x00.txt",
    f"\uff0e\uff0e/{MARKER}",
    f"{PARTIAL_DIR}/{MARKER}",
    "x" * 300,
]


@pytest.mark.parametrize("name", UPLOAD_ATTACKS)
def test_traversal_uploads_are_refused(server: ServerProcess, token: str, name: str) -> None:
    body, content_type = multipart([(name, b"should not be written")])
    status, _, answer = raw_request(server, "POST", "/files/", token, body, Content_Type=content_type)
    assert status in REFUSED, answer
    assert stray_files(server) == []
    assert not any(MARKER in str(p) for p in files_dir(server).rglob("*"))


def test_symlinks_out_of_the_store_are_refused(server: ServerProcess, token: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    link = files_dir(server) / owned_prefix(token) / f"link-{uuid.uuid4().hex[:8]}"  # among the user's own files
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    status, _, _ = raw_request(server, "GET", f"/files/{link.name}/secret.txt", token)
    assert status in REFUSED
    assert upload(server, token, [(f"/{link.name}/new.txt", b"x")]).status_code in REFUSED
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_upload_download_and_delete(server: ServerProcess, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = upload(server, token, [("/Proj X/T.1/artifacts/a b/a b.json", b'{"a": 1}'), ("/Proj X/two.bin", b"2")])
    assert response.status_code == 200
    assert response.json() == [
        {"path": "Proj X/T.1/artifacts/a b/a b.json", "size": 8},
        {"path": "Proj X/two.bin", "size": 1},
    ]
    got = httpx.get(f"{server.url}/files/Proj%20X/T.1/artifacts/a%20b/a%20b.json", headers=auth)
    assert (got.status_code, got.content, got.headers["content-length"]) == (200, b'{"a": 1}', "8")
    assert httpx.get(f"{server.url}/files/", headers=auth).text == "OK"
    assert httpx.delete(f"{server.url}/files/Proj%20X/two.bin", headers=auth).status_code == 200
    assert httpx.get(f"{server.url}/files/Proj%20X/two.bin", headers=auth).status_code == 404
    assert httpx.delete(f"{server.url}/files/Proj%20X/two.bin", headers=auth).status_code == 404


def test_odd_names_round_trip_as_the_sdk_quotes_them(server: ServerProcess, token: str) -> None:
    path = '/Proj "Q" ünï/T 1 (x)%.abc/artifacts/a b/a+b;c.json'
    assert upload(server, token, [(path, b"odd")]).status_code == 200
    got = httpx.get(f"{server.url}/files{quote(path)}", headers={"Authorization": f"Bearer {token}"})
    assert (got.status_code, got.content) == (200, b"odd")


def test_range_requests(server: ServerProcess, token: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert upload(server, token, [("/ranges/big.bin", data)]).status_code == 200
    url = f"{server.url}/files/ranges/big.bin"
    auth = {"Authorization": f"Bearer {token}"}

    part = httpx.get(url, headers={**auth, "Range": "bytes=1000-2000999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-2000999/{len(data)}"
    assert part.headers["content-length"] == "2000000"
    assert part.content == data[1000:2001000]

    tail = httpx.get(url, headers={**auth, "Range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, data[-100:])
    whole = httpx.get(url, headers=auth)
    assert (whole.status_code, whole.headers["accept-ranges"], whole.content) == (200, "bytes", data)
    head = httpx.head(url, headers=auth)
    assert (head.status_code, head.headers["content-length"], head.content) == (200, str(len(data)), b"")

    past = httpx.get(url, headers={**auth, "Range": f"bytes={len(data)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(data)}"


def test_authentication_is_required(server: ServerProcess, token: str) -> None:
    assert upload(server, token, [("/authn/file.txt", b"mine")]).status_code == 200
    for method, target, body in [
        ("GET", "/files/authn/file.txt", b""),
        ("DELETE", "/files/authn/file.txt", b""),
        ("GET", "/files/", b""),
        ("POST", "/files", multipart([("/authn/other.txt", b"x")])[0]),
    ]:
        for bad in (None, "not-a-token"):
            status, headers, answer = raw_request(server, method, target, bad, body)
            assert status == 401, (method, target, answer)
            assert json.loads(answer)["status"] == 401
            assert headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{server.url}/files/authn/file.txt", headers={"Authorization": f"Bearer {token}"}).text == "mine"


def test_other_users_files_are_out_of_reach(server: ServerProcess, token: str) -> None:
    path = f"owned-{uuid.uuid4().hex[:8]}/weights.bin"
    assert upload(server, token, [(f"/{path}", b"owner's bytes")]).status_code == 200
    url = f"{server.url}/files/{path}"
    bob = login(server, server.user(f"bob-{uuid.uuid4().hex[:6]}"))
    stranger = login(server, server.user(f"eve-{uuid.uuid4().hex[:6]}", role="admin", org="elsewhere"))
    admin = login(server, server.user(f"carol-{uuid.uuid4().hex[:6]}", role="admin"))

    for other in (bob, stranger):
        assert httpx.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
        assert httpx.delete(url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
        # The same path is the other user's own: written there, never over the owner's, and the answer says
        # nothing about whether someone else has a file at that path.
        assert upload(server, other, [(f"/{path}", b"their own")]).status_code == 200
        assert httpx.get(url, headers={"Authorization": f"Bearer {other}"}).content == b"their own"
    assert httpx.get(url, headers={"Authorization": f"Bearer {admin}"}).content == b"owner's bytes"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).content == b"owner's bytes"


def test_files_of_a_shared_task_can_be_read_but_not_changed(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    owner, friend, boss = (
        login(server, server.user(f"{who}-{tag}", role))
        for who, role in [("sharer", "user"), ("friend", "user"), ("boss", "admin")]
    )
    as_owner = {"Authorization": f"Bearer {owner}"}
    project = httpx.post(f"{server.url}/projects.create", json={"name": f"files-{tag}"}, headers=as_owner).json()
    task_body = {"name": "train", "type": "training", "project": project["data"]["id"]}
    task = httpx.post(f"{server.url}/tasks.create", json=task_body, headers=as_owner).json()["data"]["id"]
    linked, loose = f"files-{tag}/train.{task}/artifacts/a/a.json", f"files-{tag}/x.{'0' * 32}/loose.bin"
    assert upload(server, owner, [(f"/{linked}", b"shared"), (f"/{loose}", b"loose")]).status_code == 200

    def friend_reads(path: str) -> int:
        return httpx.get(f"{server.url}/files/{path}", headers={"Authorization": f"Bearer {friend}"}).status_code

    assert friend_reads(linked) == 404
    friend_id = jwt.decode(friend, options={"verify_signature": False})["identity"]["user"]
    shared = httpx.put(
        f"{server.url}/admin/api/projects/{project['data']['id']}/shares/user/{friend_id}",
        json={"mode": "read"},
        headers={"Authorization": f"Bearer {boss}"},
    )
    assert shared.status_code == 200, shared.text
    deadline = time.monotonic() + 10  # shares reach sessions within key_cache_sec
    while friend_reads(linked) != 200:
        assert time.monotonic() < deadline, "the share never reached the file server"
        time.sleep(0.1)
    assert friend_reads(loose) == 404  # not in a folder of a task the owner may change: not the task's
    assert (
        httpx.delete(f"{server.url}/files/{linked}", headers={"Authorization": f"Bearer {friend}"}).status_code
        in REFUSED
    )
    assert upload(server, friend, [(f"/{linked}", b"changed")]).status_code == 403
    assert httpx.get(f"{server.url}/files/{linked}", headers=as_owner).content == b"shared"


def test_a_truncated_upload_leaves_nothing(server: ServerProcess, token: str) -> None:
    body, content_type = multipart([("/truncated/file.bin", b"x" * 100_000)], close=False)
    status, _, _ = raw_request(server, "POST", "/files", token, body[:-10], Content_Type=content_type)
    assert status == 400
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/files/truncated/file.bin", headers=auth).status_code == 404
    assert list((files_dir(server) / PARTIAL_DIR).iterdir()) == []


LIMIT = 100_000


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("small"), CLEARWAY_MAX_UPLOAD_BYTES=str(LIMIT)) as proc:
        yield proc


def test_uploads_over_the_limit_are_refused_cleanly(small_server: ServerProcess) -> None:
    token = login(small_server, small_server.user("limited"))
    auth = {"Authorization": f"Bearer {token}"}
    assert upload(small_server, token, [("/limit/exact.bin", b"x" * LIMIT)]).status_code == 200

    over = upload(small_server, token, [("/limit/over.bin", b"x" * (LIMIT + 1))])  # refused while streaming
    assert over.status_code == 413
    assert over.json()["status"] == 413
    declared = upload(small_server, token, [("/limit/huge.bin", b"x" * (LIMIT * 3))])  # refused by its length
    assert declared.status_code == 413

    for name in ("over.bin", "huge.bin"):
        assert httpx.get(f"{small_server.url}/files/limit/{name}", headers=auth).status_code == 404
    store = small_server.data_dir / "files"
    assert sorted(p.name for p in (store / owned_prefix(token) / "limit").iterdir()) == ["exact.bin"]
    assert list((store / PARTIAL_DIR).iterdir()) == []
    # The path of a refused upload is free again.
    assert upload(small_server, token, [("/limit/over.bin", b"fits")]).status_code == 200


def _task_of(server: ServerProcess, token: str, project_name: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    project = httpx.post(f"{server.url}/projects.create", json={"name": project_name}, headers=auth).json()
    body = {"name": "train", "type": "training", "project": project["data"]["id"]}
    return httpx.post(f"{server.url}/tasks.create", json=body, headers=auth).json()["data"]["id"]


def test_paths_never_collide_across_organisations_or_users(server: ServerProcess):
    """Vulnerability 5: another organisation's user (or another user of hers) uploads a file named like her
    project; her own upload into that project's task folder is not refused, and each reads their own."""
    tag = uuid.uuid4().hex[:6]
    owner = login(server, server.user(f"nsowner-{tag}"))
    outsiders = [
        login(server, server.user(f"nsother-{tag}", org=f"ns-org-{tag}")),
        login(server, server.user(f"nscolleague-{tag}")),
    ]
    project = f"newproj-{tag}"
    for outsider in outsiders:
        assert upload(server, outsider, [(project, b"a file named like a project")]).status_code == 200
    task = _task_of(server, owner, project)
    path = f"{project}/train.{task}/artifacts/a/a.json"
    assert upload(server, owner, [(path, b"{}")]).status_code == 200
    assert httpx.get(f"{server.url}/files/{path}", headers={"Authorization": f"Bearer {owner}"}).content == b"{}"
    for outsider in outsiders:
        got = httpx.get(f"{server.url}/files/{project}", headers={"Authorization": f"Bearer {outsider}"})
        assert got.content == b"a file named like a project"
        got = httpx.get(f"{server.url}/files/{path}", headers={"Authorization": f"Bearer {outsider}"})
        assert got.status_code == 404
    assert httpx.get(f"{server.url}/files/{project}", headers={"Authorization": f"Bearer {owner}"}).status_code == 404


def test_a_task_folder_is_always_its_writers(server: ServerProcess):
    """Vulnerability 6: someone who knows her task's id uploads into its folder first; her upload still works and
    she never sees theirs. Their answer is the same whether or not the path exists: nothing is learnt from it."""
    tag = uuid.uuid4().hex[:6]
    owner = login(server, server.user(f"folder-owner-{tag}"))
    intruder = login(server, server.user(f"folder-intruder-{tag}", org=f"folder-org-{tag}"))
    colleague = login(server, server.user(f"folder-colleague-{tag}"))
    task = _task_of(server, owner, f"proj-{tag}")
    checkpoint = f"proj-{tag}/train.{task}/models/checkpoint.pt"
    taken = upload(server, colleague, [(checkpoint, b"planted first")])
    assert upload(server, intruder, [(checkpoint, b"planted first")]).json() == taken.json()
    assert upload(server, owner, [(checkpoint, b"her weights")]).status_code == 200
    assert httpx.get(f"{server.url}/files/{checkpoint}", headers={"Authorization": f"Bearer {owner}"}).content == (
        b"her weights"
    )
    # An existing path and a free one answer alike.
    free = f"proj-{tag}/train.{task}/models/free-{tag}.pt"
    existing, fresh = (upload(server, colleague, [(p, b"x")]) for p in (checkpoint, free))
    assert (existing.status_code, fresh.status_code) == (200, 200)
    assert existing.json()[0].keys() == fresh.json()[0].keys()
    assert httpx.get(f"{server.url}/files/{free}", headers={"Authorization": f"Bearer {owner}"}).status_code == 404
