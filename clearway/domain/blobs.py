"""Who may store, read and delete which file: the file server's rules, over any :class:`BlobStore`.

Every path a client uses is one user's: paths never collide across users or organisations. The SDK puts a task's
files under ``…/<task name>.<task id>/…``; a path in the folder of a task the caller may see is among the files of
that task's owner, whoever writes it, so that the task's writers always own its folder and its readers (a project
share, an agent running it, an agent acting for its owner) reach its files by the URL the SDK was given. Any other
path is among the caller's own files. So an upload never meets someone else's file: a path another user holds,
or one in the folder of a task the caller cannot see, is simply the caller's own, and the answer is the same
whether or not someone else has a file there.

Reading needs the task (for a task's folder) or the file to be the caller's; an admin also reads the
organisation's other files by path (of several users' files at one path, the first stored). Writing into a task's
folder needs write access to the task. An agent acting for a task's owner writes only into task folders (its
task's and those in its project). A path is recorded before its bytes are written, and a failed upload gives the
record back.
"""

from __future__ import annotations

import re

from clearway.blobs.base import BlobStore, BlobWriter, OpenBlob
from clearway.domain.access import read_scope, write_scope
from clearway.domain.identity import Identity
from clearway.errors import Forbidden, NotFound, UploadTooLarge
from clearway.store.base import BlobRecord, Claim, Doc, Stores

_TASK_FOLDER = re.compile(r"\.([0-9a-f]{32})$")
# Where the files of each user of each organisation are kept in the file store. Clients' paths cannot start with
# ".clearway" (clearway.blobs.paths), so these keys never meet the plain keys of files stored before namespaces.
OWNED_ROOT = ".clearway-owners"


def storage_key(org_id: str, namespace: str, path: str) -> str:
    return f"{OWNED_ROOT}/{org_id}/{namespace}/{path}"


class Blobs:
    def __init__(self, stores: Stores, files: BlobStore, max_upload_bytes: int) -> None:
        self.stores = stores
        self.files = files
        self.max_upload_bytes = max_upload_bytes

    def begin_upload(self, identity: Identity, path: str, content_type: str | None) -> Upload:
        record = self._place(identity, path)
        claim = self.stores.blobs.claim(record)
        try:
            writer = self.files.writer(record.key)
        except BaseException:
            if claim is Claim.CREATED:
                self.stores.blobs.delete(record.key)
            raise
        return Upload(self, identity, record, content_type, writer, claimed=claim is Claim.CREATED)

    def open(self, identity: Identity, path: str) -> tuple[BlobRecord, OpenBlob]:
        record = self._find(identity, path)
        blob = self.files.open(record.key) if record is not None else None
        if record is None or blob is None:
            raise NotFound(f"No such file: {path}")
        return record, blob

    def delete(self, identity: Identity, path: str) -> None:
        record = self._find(identity, path)
        if record is None:
            raise NotFound(f"No such file: {path}")
        if not self._may_change(identity, record):
            raise Forbidden(f"You may read {path} but not delete it")
        self.files.delete(record.key)
        self.stores.blobs.delete(record.key)

    def _place(self, identity: Identity, path: str) -> BlobRecord:
        """Where an upload of ``path`` goes: the folder of a task the caller may change, or the caller's own."""
        task = self._task_of(identity, path)
        if task is not None:
            if self.stores.tasks.get(write_scope(identity), task["id"]) is None:
                raise Forbidden(f"{path} is in the folder of a task you may read but not change")
            namespace = task["user"]
        elif write_scope(identity).allows_owner(identity.user_id):
            namespace = identity.user_id
        else:
            raise Forbidden("Acting for a task's owner, files are written only into the folders of its tasks")
        key = storage_key(identity.org_id, namespace, path)
        return BlobRecord(key, identity.org_id, namespace, path, identity.user_id, task=task and task["id"])

    def _find(self, identity: Identity, path: str) -> BlobRecord | None:
        """The file the caller means by ``path``: in the folder of a task it may see, else its own; an admin
        also reaches the organisation's other files by path (the first stored, when several users have one)."""
        task = self._task_of(identity, path)
        found = self.stores.blobs.get(identity.org_id, task["user"], path) if task is not None else None
        found = found or self.stores.blobs.get(identity.org_id, identity.user_id, path)
        if found is None and read_scope(identity).owner_ids is None:
            found = self.stores.blobs.first(identity.org_id, path)
        return found

    def _may_change(self, identity: Identity, record: BlobRecord) -> bool:
        scope = write_scope(identity)
        if record.task is not None and self.stores.tasks.get(scope, record.task) is not None:
            return True
        return scope.allows_owner(record.namespace) and scope.org_id == record.org_id

    def _task_of(self, identity: Identity, path: str) -> Doc | None:
        """The task whose folder ``path`` is in, when the caller may see that task."""
        scope = read_scope(identity)
        for segment in path.split("/")[:-1]:
            found = _TASK_FOLDER.search(segment)
            task = self.stores.tasks.get(scope, found.group(1)) if found else None
            if task is not None:
                return task
        return None


class Upload:
    """One file being uploaded: bounded in size, committed whole or not at all."""

    def __init__(
        self,
        blobs: Blobs,
        identity: Identity,
        record: BlobRecord,
        content_type: str | None,
        writer: BlobWriter,
        claimed: bool,
    ) -> None:
        self.blobs = blobs
        self.identity = identity
        self.record = record
        self.key = record.path  # what the client named it
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
        self.blobs.stores.blobs.finish(self.record.key, self.identity.user_id, size, self.content_type)
        return size

    def abort(self) -> None:
        self._writer.abort()
        # Give a fresh record back, unless a concurrent upload of the same path has completed meanwhile.
        if self._claimed and not self.blobs.files.exists(self.record.key):
            self.blobs.stores.blobs.delete(self.record.key)
        self._claimed = False
