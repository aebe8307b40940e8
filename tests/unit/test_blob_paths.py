"""The one function that turns a requested path into a store key, and the local store's containment check."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearway.blobs.paths import MAX_KEY_BYTES, contained_file, resolve_blob_path
from clearway.errors import InvalidBlobPath


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/Snap4ParkingCML/Training.abc/models/model.pth", "Snap4ParkingCML/Training.abc/models/model.pth"),
        ("P/.datasets/D/D.1/artifacts/state/state.json", "P/.datasets/D/D.1/artifacts/state/state.json"),
        ("/My Proj/Train 1 (x).t/artifacts/my art/a.json", "My Proj/Train 1 (x).t/artifacts/my art/a.json"),
        ("/100%/file", "100%/file"),
        ("/a/file.", "a/file."),
        ("/a/..b/c..", "a/..b/c.."),
        ("/ünï/cödé.bin", "ünï/cödé.bin"),
        ("/x:y/z", "x:y/z"),
    ],
)
def test_accepted_paths_map_to_one_canonical_key(path: str, key: str) -> None:
    assert resolve_blob_path(path) == key


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "../etc/passwd",
        "/a/../../etc/passwd",
        "/a/./b",
        "/a/..",
        "/..",
        "/a/%2e%2e/b",
        "/a/%2E%2E/b",
        "/a/%252e%252e/b",
        "/a/%25252e%25252e/b",
        "/a/.%2e/b",
        "/a;/../b",
        "/..;/etc",
        "/a/..;x=1/b",
        "/a\\..\\b",
        "/a%5c..%5cb",
        "//etc/passwd",
        "/%2fetc/passwd",
        "C:/Windows/win.ini",
        "/C:/x",
        "~/x",
        "/a\x00b",
        "/a%00b",
        "/a\nb",
        "/a//b",
        "/a/b/",
        "/a/\uff0e\uff0e/b",
        "/a/%c0%ae%c0%ae/b",
        "/.clearway-partial/upload-x",
        "/" + "a" * 256,
        "/" + "/".join(["abcdefgh"] * (MAX_KEY_BYTES // 9 + 1)),
    ],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidBlobPath):
        resolve_blob_path(path)


def test_contained_file_resolves_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    assert contained_file(root, "a/b.txt") == (root / "a" / "b.txt").resolve()


def test_symlinks_leaving_the_store_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "files"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "evil").symlink_to(outside)
    (root / "inner").symlink_to(root / "real")
    with pytest.raises(InvalidBlobPath):
        contained_file(root, "evil/secret.txt")
    assert contained_file(root, "inner/x") == (root / "real" / "x").resolve()
