"""The local-directory blob store: atomic writes, clean failures, consistent reads."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest

from clearway.blobs.local import PARTIAL_DIR, LocalBlobStore
from clearway.errors import InsufficientStorage, InvalidBlobPath


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "files")


def visible_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and PARTIAL_DIR not in p.parts)


def partial_files(store: LocalBlobStore) -> list[Path]:
    return list(store.partial.iterdir())


def test_put_open_ranges_and_delete(store: LocalBlobStore) -> None:
    data = bytes(range(256)) * 10_000
    assert store.put("a/b/c.bin", io.BytesIO(data)) == len(data)
    assert store.size("a/b/c.bin") == len(data)
    assert b"".join(store.stream("a/b/c.bin")) == data
    assert b"".join(store.stream("a/b/c.bin", 1000, 1_500_000)) == data[1000:1_500_000]
    assert store.delete("a/b/c.bin")
    assert not store.exists("a/b/c.bin")
    assert not store.delete("a/b/c.bin")
    assert store.open("a/b") is None  # a folder is not an object


def test_nothing_is_visible_until_commit(store: LocalBlobStore) -> None:
    writer = store.writer("x/y.bin")
    writer.write(b"half of it")
    assert not store.exists("x/y.bin")
    assert visible_files(store.root) == []
    writer.abort()
    assert partial_files(store) == []
    assert visible_files(store.root) == []


def test_overwrite_is_atomic_for_readers(store: LocalBlobStore) -> None:
    store.put("k", [b"old contents"])
    reader = store.open("k")
    assert reader is not None
    store.put("k", [b"new"])
    assert b"".join(reader.chunks(0, reader.size)) == b"old contents"
    reader.close()
    assert b"".join(store.stream("k")) == b"new"


def test_a_full_disk_fails_cleanly(store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.writer("big/file.bin")
    writer.write(b"some bytes")

    def no_space(_data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer._handle, "write", no_space)  # type: ignore[attr-defined]
    with pytest.raises(InsufficientStorage):
        writer.write(b"more bytes")
    assert partial_files(store) == []
    assert visible_files(store.root) == []


def test_a_full_disk_at_fsync_fails_cleanly(store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.writer("f.bin")
    writer.write(b"data")

    def no_space(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("clearway.blobs.local.os.fsync", no_space)
    with pytest.raises(InsufficientStorage):
        writer.commit()
    assert partial_files(store) == []
    assert not store.exists("f.bin")


def test_a_file_where_a_folder_is_needed_is_refused(store: LocalBlobStore) -> None:
    store.put("a", [b"file"])
    with pytest.raises(InvalidBlobPath):
        store.put("a/b", [b"under a file"])
    assert partial_files(store) == []
    assert b"".join(store.stream("a")) == b"file"


def test_symlinked_folders_cannot_lead_out(store: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (store.root / "evil").symlink_to(outside)
    with pytest.raises(InvalidBlobPath):
        store.open("evil/secret.txt")
    with pytest.raises(InvalidBlobPath):
        store.put("evil/new.txt", [b"x"])
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
