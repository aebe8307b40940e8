"""Who may store, read and delete which file: the file server's rules, over any :class:`BlobStore`.

Every stored path has an ownership record. Reading needs the record in the caller's read scope, so another
user's (or organisation's) files look missing; overwriting or deleting a path owned outside the caller's write
scope is refused. A path is claimed before its bytes are written, so two users racing for a new path cannot
both win, and a failed upload gives the claim back.

The SDK puts a task's files under ``…/<task name>.<task id>/…``. When the uploader may change that task, the file
is recorded as the task's, and whoever may read the task (a project share, an agent running it) may read the
file too; changing it stays with its owner.
"""

from __future__ import annotations

import re

from clearway.blobs.base import BlobStore, BlobWriter, OpenBlob
from clearway.domain.access import read_scope, write_scope
from clearway.domain.identity import Identity
from clearway.errors import Forbidden, NotFound, UploadTooLarge
from clearway.store.base import BlobRecord, Claim, Stores

_TASK_FOLDER = re.compile(r"\.([0-9a-f]{32})$")


class Blobs:
    def __init__(self, stores: Stores, files: BlobStore, max_upload_bytes: int) -> None:
        self.stores = stores
        self.files = files
        self.max_upload_bytes = max_upload_bytes

    def begin_upload(self, identity: Identity, key: str, content_type: str | None) -> Upload:
        scope = write_scope(identity)
        claim = self.stores.blobs.claim(scope, identity.org_id, identity.user_id, key, self._task_of(identity, key))
        if claim is Claim.TAKEN:
            raise Forbidden(f"The path {key} belongs to another user")
        try:
            writer = self.files.writer(key)
        except BaseException:
            if claim is Claim.CREATED:
                self.stores.blobs.delete(scope, key)
            raise
        return Upload(self, identity, key, content_type, writer, claimed=claim is Claim.CREATED)

    def open(self, identity: Identity, key: str) -> tuple[BlobRecord, OpenBlob]:
        record = self.stores.blobs.get(read_scope(identity), key)
        blob = self.files.open(key) if record is not None else None
        if record is None or blob is None:
            raise NotFound(f"No such file: {key}")
        return record, blob

    def delete(self, identity: Identity, key: str) -> None:
        scope = write_scope(identity)
        record = self.stores.blobs.get(scope, key)
        if record is None:
            raise NotFound(f"No such file: {key}")
        if not scope.allows_owner(record.owner_id):
            raise Forbidden(f"Only the owner of {key} may delete it")
        self.files.delete(key)
        self.stores.blobs.delete(scope, key)

    def _task_of(self, identity: Identity, key: str) -> str | None:
        """The task whose folder ``key`` is in, when the caller may change that task."""
        for segment in key.split("/")[:-1]:
            found = _TASK_FOLDER.search(segment)
            if found and self.stores.tasks.get(write_scope(identity), found.group(1)) is not None:
                return found.group(1)
        return None


class Upload:
    """One file being uploaded: bounded in size, committed whole or not at all."""

    def __init__(
        self, blobs: Blobs, identity: Identity, key: str, content_type: str | None, writer: BlobWriter, claimed: bool
    ) -> None:
        self.blobs = blobs
        self.identity = identity
        self.key = key
        self.content_type = content_type
        self.size = 0
        self._writer = writer
        self._claimed = claimed

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.blobs.max_upload_bytes:
            self.abort()
            raise UploadTooLarge(f"{self.key} is larger than the limit of {self.blobs.max_upload_bytes} bytes")
        try:
            self._writer.write(chunk)
        except BaseException:
            self.abort()
            raise

    def commit(self) -> int:
        try:
            size = self._writer.commit()
        except BaseException:
            self.abort()
            raise
        self.blobs.stores.blobs.finish(write_scope(self.identity), self.key, size, self.content_type)
        return size

    def abort(self) -> None:
        self._writer.abort()
        # Give a fresh claim back, unless a concurrent upload of the same path has completed meanwhile.
        if self._claimed and not self.blobs.files.exists(self.key):
            self.blobs.stores.blobs.delete(write_scope(self.identity), self.key)
        self._claimed = False
