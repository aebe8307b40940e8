"""Objects as files under one directory; writes go to a partial file in the same directory tree, then are
fsynced and renamed into place, so a reader (or a crash) never sees half an object."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

from clearway.blobs.base import CHUNK, BlobStore, BlobWriter, OpenBlob
from clearway.blobs.paths import RESERVED_PREFIX, contained_file
from clearway.errors import InsufficientStorage, InvalidBlobPath

PARTIAL_DIR = f"{RESERVED_PREFIX}-partial"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.partial = root / PARTIAL_DIR
        self.partial.mkdir(parents=True, exist_ok=True)

    def file(self, key: str) -> Path:
        return contained_file(self.root, key)

    def writer(self, key: str) -> BlobWriter:
        return _LocalWriter(self, key)

    def open(self, key: str) -> OpenBlob | None:
        try:
            handle = open(self.file(key), "rb")  # noqa: SIM115 - closed by _LocalBlob.close
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            handle.close()
            return None
        return _LocalBlob(handle, info.st_size)

    def size(self, key: str) -> int | None:
        try:
            info = self.file(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def delete(self, key: str) -> bool:
        path = self.file(key)
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                return False
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True


class _LocalBlob(OpenBlob):
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self.size = size

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        fd = self._handle.fileno()
        position = start
        while position < stop:
            data = os.pread(fd, min(CHUNK, stop - position), position)
            if not data:
                return
            position += len(data)
            yield data

    def close(self) -> None:
        self._handle.close()


class _LocalWriter(BlobWriter):
    def __init__(self, store: LocalBlobStore, key: str) -> None:
        self._store = store
        self._key = key
        store.file(key)  # refuse a bad key before anything is written
        fd, name = tempfile.mkstemp(dir=store.partial, prefix="upload-")
        self._temp = Path(name)
        self._handle: BinaryIO | None = os.fdopen(fd, "wb")
        self._size = 0

    def write(self, chunk: bytes) -> None:
        assert self._handle is not None, "writer already finished"
        try:
            self._handle.write(chunk)
        except OSError as exc:
            self._fail(exc)
        self._size += len(chunk)

    def commit(self) -> int:
        assert self._handle is not None, "writer already finished"
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
            target = self._store.file(self._key)  # again: a symlink may have appeared meanwhile
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._temp, target)
            _fsync_dir(target.parent)
        except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
            self.abort()
            raise InvalidBlobPath("The path, or one of its parents, is a folder where a file is expected") from exc
        except OSError as exc:
            self._fail(exc)
        return self._size

    def abort(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # a full disk can fail the final flush too
                self._handle.close()
            self._handle = None
        self._temp.unlink(missing_ok=True)

    def _fail(self, exc: OSError) -> NoReturn:
        self.abort()
        if exc.errno in _NO_SPACE:
            raise InsufficientStorage("Not enough space left in the file store") from exc
        raise exc


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
