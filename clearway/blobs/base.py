"""The file store seam: objects by key, written as streams and read back in byte ranges.

Keys come from :func:`clearway.blobs.paths.resolve_blob_path` only. Stores know nothing of owners or access:
the domain (:mod:`clearway.domain.blobs`) decides who may touch which key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import BinaryIO

CHUNK = 1024 * 1024  # read and write granularity: big enough to keep per-chunk overhead negligible


class BlobWriter(ABC):
    """An object being written: invisible to readers until :meth:`commit`, gone without a trace on :meth:`abort`."""

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> int:
        """Make the object visible under its key, atomically replacing any previous one; its size."""

    @abstractmethod
    def abort(self) -> None:
        """Drop what was written; safe to call after a failed write or commit, and more than once."""


class OpenBlob(ABC):
    """One version of an object, opened for reading: later overwrites do not change what it yields."""

    size: int

    @abstractmethod
    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """The bytes in ``[start, stop)``, in chunks of at most :data:`CHUNK`."""

    @abstractmethod
    def close(self) -> None: ...


class BlobStore(ABC):
    @abstractmethod
    def writer(self, key: str) -> BlobWriter:
        """Start writing the object ``key``."""

    @abstractmethod
    def open(self, key: str) -> OpenBlob | None:
        """The object ``key`` for reading, or None when there is none."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def put(self, key: str, source: BinaryIO | Iterable[bytes]) -> int:
        """Write a whole object from a file object or an iterable of chunks; its size."""
        writer = self.writer(key)
        try:
            if hasattr(source, "read"):
                while chunk := source.read(CHUNK):  # type: ignore[union-attr]
                    writer.write(chunk)
            else:
                for chunk in source:
                    writer.write(chunk)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def stream(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes of ``key`` in ``[start, stop)`` (to the end when ``stop`` is None); nothing if it is missing."""
        blob = self.open(key)
        if blob is None:
            return
        try:
            yield from blob.chunks(start, blob.size if stop is None else min(stop, blob.size))
        finally:
            blob.close()
