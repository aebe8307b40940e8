"""The streaming multipart reader, fed the way uvicorn feeds it: in arbitrary chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from clearway.errors import BadRequest
from clearway.files_api.multipart import Event, PartData, PartEnd, PartStart, boundary_of, read_parts
from tests.support.files import multipart


def parse(body: bytes, content_type: str, chunk: int) -> list[Event]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    async def collect() -> list[Event]:
        return [event async for event in read_parts(chunks(), boundary_of(content_type))]

    return asyncio.run(collect())


@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_parts_stream_out_whole(chunk: int) -> None:
    body, content_type = multipart([("/a/x.bin", b"\r\n--" + bytes(range(256)) * 40), ("/b", b"")])
    events = parse(body, content_type, chunk)
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [s.name for s in starts] == ["/a/x.bin", "/b"]
    assert starts[0].content_type == "application/octet-stream"
    first_end = next(i for i, e in enumerate(events) if isinstance(e, PartEnd))
    data = b"".join(e.data for e in events[:first_end] if isinstance(e, PartData))
    assert data == b"\r\n--" + bytes(range(256)) * 40


def test_names_are_utf8_and_html5_unescaped() -> None:
    body, content_type = multipart([('/my "best" ünï/x', b"1")])  # the helper sends '"' as %22, like the SDK
    assert [e.name for e in parse(body, content_type, 100) if isinstance(e, PartStart)] == ['/my "best" ünï/x']


def test_a_body_without_its_closing_boundary_is_refused() -> None:
    body, content_type = multipart([("/a", b"x" * 1000)], close=False)
    with pytest.raises(BadRequest):
        parse(body, content_type, 64)


def test_only_multipart_is_accepted() -> None:
    with pytest.raises(BadRequest):
        boundary_of("application/json")
