"""The file server under ``/files`` (CLEARML_FILES_HOST): upload, download with ranges, delete.

Wire shape (contract, section 4): ``POST /files`` with one multipart part whose field name is the storage
path; ``GET /files/<url-quoted path>``; ``DELETE /files/<path>``. Every route needs a Bearer token, the same
as the API's (checked by :class:`~clearway.auth.middleware.IdentityMiddleware` before a route runs). Bodies
stream through in chunks in both directions; the store work runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from clearway.auth.middleware import request_identity
from clearway.blobs.base import CHUNK, OpenBlob
from clearway.blobs.paths import resolve_blob_path
from clearway.domain.blobs import Upload
from clearway.domain.identity import Identity
from clearway.errors import BadRequest, InvalidBlobPath, MethodNotAllowed, RangeNotSatisfiable, UploadTooLarge
from clearway.files_api.multipart import PartData, PartEnd, PartStart, boundary_of, read_parts
from clearway.files_api.ranges import parse_range
from clearway.problems import guarded, problem
from clearway.services import Services

PREFIX = "/files"
MAX_PARTS = 100  # files in one upload request
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers on top of the file itself
# Every method reaches our handlers, so that unsupported ones get a problem document too.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class FileServer:
    def __init__(self, services: Services) -> None:
        self.services = services

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, guarded(self.root), methods=METHODS),
            Route(PREFIX + "/", guarded(self.root), methods=METHODS),
            Route(PREFIX + "/{path:path}", guarded(self.item), methods=METHODS),
        ]

    async def root(self, request: Request) -> Response:
        identity = request_identity(request)
        if request.method == "POST":
            return await self._upload(request, identity)
        if request.method in ("GET", "HEAD"):
            return PlainTextResponse("OK")
        raise MethodNotAllowed(f"{request.method} is not supported on {PREFIX}/")

    async def item(self, request: Request) -> Response:
        identity = request_identity(request)
        key = resolve_blob_path(_requested_path(request))
        if request.method in ("GET", "HEAD"):
            return await self._download(request, identity, key)
        if request.method == "DELETE":
            await run_in_threadpool(self.services.blobs.delete, identity, key)
            return JSONResponse({"deleted": key})
        raise MethodNotAllowed(f"{request.method} is not supported on files; upload with POST {PREFIX}/")

    async def _upload(self, request: Request, identity: Identity) -> Response:
        limit = self.services.blobs.max_upload_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
            raise UploadTooLarge(f"Upload of {declared} bytes is over the limit of {limit} bytes")
        boundary = boundary_of(request.headers.get("content-type"))
        body = _Body(request)
        try:
            saved = await self._receive(body, identity, boundary)
        except UploadTooLarge:
            await body.drain(limit + MULTIPART_OVERHEAD)  # so that the client gets to read our answer
            raise
        return JSONResponse(saved)

    async def _receive(self, body: _Body, identity: Identity, boundary: bytes) -> list[dict[str, Any]]:
        saved: list[dict[str, Any]] = []
        upload: Upload | None = None
        pending = bytearray()
        try:
            async for event in read_parts(body.chunks(), boundary):
                if isinstance(event, PartStart):
                    if len(saved) >= MAX_PARTS:
                        raise BadRequest(f"More than {MAX_PARTS} files in one upload")
                    key = resolve_blob_path(event.name)
                    blobs = self.services.blobs
                    content_type = event.content_type if len(event.content_type or "") <= 255 else None
                    upload = await run_in_threadpool(blobs.begin_upload, identity, key, content_type)
                elif isinstance(event, PartData) and upload is not None:
                    pending += event.data
                    if len(pending) >= CHUNK:
                        await run_in_threadpool(upload.write, bytes(pending))
                        pending.clear()
                elif isinstance(event, PartEnd) and upload is not None:
                    if pending:
                        await run_in_threadpool(upload.write, bytes(pending))
                        pending.clear()
                    size = await run_in_threadpool(upload.commit)
                    saved.append({"path": upload.key, "size": size})
                    upload = None
        except BaseException:
            if upload is not None:
                await run_in_threadpool(upload.abort)
            raise
        return saved

    async def _download(self, request: Request, identity: Identity, key: str) -> Response:
        record, blob = await run_in_threadpool(self.services.blobs.open, identity, key)
        try:
            span = None if "if-range" in request.headers else parse_range(request.headers.get("range"), blob.size)
        except RangeNotSatisfiable as exc:
            blob.close()
            return problem(exc, headers={"Content-Range": f"bytes */{blob.size}"})
        start, stop = span or (0, blob.size)
        headers = {
            "Content-Length": str(stop - start),
            "Accept-Ranges": "bytes",
            # Files are user content: never let a browser run them, whatever type they claim.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{blob.size}"
        if "download" in request.query_params:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(key.rsplit('/', 1)[-1])}"
        status = 206 if span is not None else 200
        media_type = record.content_type or "application/octet-stream"
        if request.method == "HEAD":
            blob.close()
            return Response(status_code=status, headers=headers, media_type=media_type)
        return StreamingResponse(_body(blob, start, stop), status_code=status, headers=headers, media_type=media_type)


def _requested_path(request: Request) -> str:
    """The path after ``/files/``, percent-decoded exactly once from what the client sent."""
    raw = request.scope.get("raw_path")
    if raw is None:
        return request.path_params.get("path", "")
    try:
        text = raw.decode("utf-8")
        path = text[len(PREFIX) + 1 :] if text.startswith(PREFIX + "/") else ""
        return unquote(path, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidBlobPath("The file path is not valid UTF-8") from exc


def _body(blob: OpenBlob, start: int, stop: int) -> Iterator[bytes]:
    try:
        yield from blob.chunks(start, stop)
    finally:
        blob.close()


class _Body:
    """The request body in chunks, knowing whether all of it has arrived (then there is nothing left to drain)."""

    def __init__(self, request: Request) -> None:
        self._receive = request.receive
        self.complete = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.complete:
            message = await self._receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            self.complete = not message.get("more_body", False)
            if message.get("body"):
                yield message["body"]

    async def drain(self, limit: int) -> None:
        """Read and drop what is left, up to ``limit`` bytes."""
        seen = 0
        async for chunk in self.chunks():
            seen += len(chunk)
            if seen > limit:
                return
