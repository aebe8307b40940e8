"""Path safety, in one place: what a client asks for becomes a canonical store key, or is refused.

A key is a relative, ``/``-separated path with no empty, ``.`` or ``..`` segments, no control characters and
no backslashes; every key names exactly one object, so ownership records cannot be aliased. Decoding is done
once by the caller (the URL path, or the multipart field name as sent); anything that would still turn into
a traversal after further decoding (``%2e%2e``, ``%252e%252e``) is refused as well, as are Unicode
look-alikes of dots. The local store also resolves symlinks and checks the result stays inside its root
(:func:`contained_file`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from clearway.errors import InvalidBlobPath

# A client's path: with the owner folders in front of it (clearway.domain.blobs.storage_key, 83 bytes) and an S3
# prefix of up to 41 bytes, a stored key stays within S3's limit of 1024 bytes.
MAX_KEY_BYTES = 900
MAX_SEGMENT_BYTES = 255  # the usual file-name limit
RESERVED_PREFIX = ".clearway"  # first segments the stores keep for themselves (partial uploads)
_DECODE_ROUNDS = 4  # a path still changing after this many decodings is refused
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")


def resolve_blob_path(path: str) -> str:
    """The store key for ``path`` (one leading ``/`` is the protocol's and is dropped), or InvalidBlobPath."""
    if not isinstance(path, str) or not path:
        raise InvalidBlobPath("Empty file path")
    key = path[1:] if path.startswith("/") else path
    if not key:
        raise InvalidBlobPath("Empty file path")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidBlobPath(f"File path longer than {MAX_KEY_BYTES} bytes")
    _check_decodings(key)
    segments = key.split("/")
    for segment in segments:
        _check_segment(segment)
    if segments[0].startswith(RESERVED_PREFIX):
        raise InvalidBlobPath(f"Paths starting with {RESERVED_PREFIX} are reserved")
    return key


def _check_decodings(key: str) -> None:
    """Refuse what is unsafe as sent, or would become unsafe if some layer decoded it again."""
    form = key
    for _ in range(_DECODE_ROUNDS):
        _check_form(form)
        try:
            decoded = unquote(form, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidBlobPath("File path is not valid UTF-8 once decoded") from exc
        if decoded == form:
            return
        form = decoded
    raise InvalidBlobPath("File path is percent-encoded too many times")


def _check_form(form: str) -> None:
    if form.startswith(("/", "~")) or _DRIVE.match(form):
        raise InvalidBlobPath("Absolute file paths are not allowed")
    if "\\" in form or _CONTROL.search(form):
        raise InvalidBlobPath("Backslashes and control characters are not allowed in file paths")
    if any(_is_dots(part.split(";", 1)[0]) for part in form.split("/")):
        raise InvalidBlobPath("Relative path segments ('.', '..') are not allowed")


def _check_segment(segment: str) -> None:
    if not segment:
        raise InvalidBlobPath("Empty path segments ('//', trailing '/') are not allowed")
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        raise InvalidBlobPath(f"A path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    try:
        segment.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidBlobPath("File path is not valid UTF-8") from exc


def _is_dots(segment: str) -> bool:
    """``.``, ``..`` and longer runs, also spelled with Unicode look-alikes (NFKC folds U+FF0E and friends)."""
    folded = unicodedata.normalize("NFKC", segment).strip()
    return bool(folded) and set(folded) <= {"."}


def contained_file(root: Path, key: str) -> Path:
    """The file of ``key`` under ``root``, with symlinks resolved; refused when it would land outside ``root``."""
    real_root = root.resolve()
    target = (real_root / key).resolve()
    if target == real_root or not target.is_relative_to(real_root):
        raise InvalidBlobPath("File path leaves the store")
    return target
