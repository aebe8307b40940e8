"""Raw HTTP to the file server, below any client library that would normalise or re-encode what we send."""

from __future__ import annotations

import http.client
import uuid

import httpx
import jwt

from clearway.domain.blobs import OWNED_ROOT
from tests.support.server import ServerProcess


def login(server: ServerProcess, creds: dict[str, str]) -> str:
    response = httpx.get(
        f"{server.url}/auth.login", auth=(creds["CLEARML_API_ACCESS_KEY"], creds["CLEARML_API_SECRET_KEY"])
    )
    return response.json()["data"]["token"]


def owned_prefix(token: str) -> str:
    """Where the files of the user a token is of live in the file store: ``.clearway-owners/<org>/<user>``."""
    identity = jwt.decode(token, options={"verify_signature": False})["identity"]
    return f"{OWNED_ROOT}/{identity['company']}/{identity['user']}"


def multipart(parts: list[tuple[str, bytes]], boundary: str | None = None, close: bool = True) -> tuple[bytes, str]:
    """A multipart/form-data body whose field names (the storage paths) are sent exactly as given."""
    boundary = boundary or uuid.uuid4().hex
    body = bytearray()
    for name, data in parts:
        quoted = name.replace('"', "%22").encode("utf-8", "surrogateescape")
        body += f"--{boundary}\r\n".encode()
        body += b'Content-Disposition: form-data; name="' + quoted + b'"; filename="' + quoted + b'"\r\n'
        body += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    if close:
        body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


def raw_request(
    server: ServerProcess, method: str, target: str, token: str | None, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """Send ``target`` byte for byte (no dot-segment removal, no re-quoting); status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        all_headers = {**headers, "Content-Length": str(len(body))}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        conn.putrequest(method, target, skip_accept_encoding=True)
        for key, value in all_headers.items():
            conn.putheader(key.replace("_", "-"), value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def upload(server: ServerProcess, token: str | None, parts: list[tuple[str, bytes]]) -> httpx.Response:
    body, content_type = multipart(parts)
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(f"{server.url}/files", content=body, headers=headers, timeout=120)
