"""A streaming reader of ``multipart/form-data`` bodies: parts come out as they arrive, never held whole.

The ClearML SDK sends one part per upload, whose field name is the storage path (wire contract, section 4).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from clearway.errors import BadRequest, InvalidBlobPath


@dataclass(frozen=True)
class PartStart:
    name: str  # the form field name, as sent
    content_type: str | None


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("Expected a multipart/form-data body with a boundary")
    return boundary


async def read_parts(body: AsyncIterator[bytes], boundary: bytes) -> AsyncIterator[Event]:
    """The parts of ``body`` as start/data/end events; a body that stops mid-part is refused."""
    collector = _Collector()
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        async for chunk in body:
            parser.write(chunk)
            for event in collector.take():
                yield event
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"Malformed multipart body: {exc}") from exc
    for event in collector.take():
        yield event
    if not collector.finished:
        raise BadRequest("The multipart body ended before its closing boundary")


class _Collector:
    """Turns the parser's callbacks into events, collected per ``write``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.headers: dict[bytes, bytes] = {}
        self.field = bytearray()
        self.value = bytearray()
        self.finished = False

    def callbacks(self) -> dict:  # type: ignore[type-arg]
        return {
            "on_part_begin": self.headers.clear,
            "on_header_field": lambda data, start, end: self.field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self.events.append(PartData(data[start:end])),
            "on_part_end": lambda: self.events.append(PartEnd()),
            "on_end": self._end,
        }

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def _header_end(self) -> None:
        self.headers[bytes(self.field).strip().lower()] = bytes(self.value).strip()
        self.field.clear()
        self.value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        raw_name = options.get(b"name")
        if raw_name is None:
            raise BadRequest("A multipart part has no field name")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidBlobPath("The file path is not valid UTF-8") from exc
        # HTML5 form encoding, which the SDK's encoder follows: '"', CR and LF in names arrive percent-encoded.
        name = name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
        content_type = self.headers.get(b"content-type", b"").decode("latin-1") or None
        self.events.append(PartStart(name, content_type))

    def _end(self) -> None:
        self.finished = True
