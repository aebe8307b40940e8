"""What deleting or resetting a task does to what the task made, as ClearML documents ``tasks.delete`` and
``tasks.reset``:

- its draft output models are deleted (``delete_output_models``, default true), except those another task uses as
  input; published ones stay, and a task with published output models is neither deleted nor reset without
  ``force``;
- its events are deleted;
- ``return_file_urls``: the addresses of the files it made are returned: its output artifacts, the weights of the
  models deleted, its debug images;
- ``delete_external_artifacts`` (default true), when the server is configured to (``CLEARWAY_DELETE_TASK_FILES``,
  as ClearML's ``async_urls_delete``): those of the files kept by this server's file store (addresses under
  ``files_url``) are deleted too, each only when the caller may delete it; others are left to the client.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote

from clearway.blobs.paths import resolve_blob_path
from clearway.domain.access import system_scope, write_scope
from clearway.domain.blobs import Blobs
from clearway.domain.identity import Identity
from clearway.domain.query import InList, ListQuery, parse_tag_filter
from clearway.domain.task_status import Status
from clearway.domain.tasks import Tasks
from clearway.errors import ClearwayError, InvalidTaskStatus, TaskCannotBeDeleted
from clearway.store.base import Doc, Stores

log = logging.getLogger(__name__)
DEBUG_IMAGE = "training_debug_image"
_PAGE = 1000


@dataclass(frozen=True)
class Options:
    delete_output_models: bool = True
    return_file_urls: bool = False
    files_url: str | None = None  # delete the files under this address (this server's /files/), when set


@dataclass
class Outcome:
    deleted_models: int
    deleted_events: int
    urls: dict[str, list[str]] | None  # only when asked for: artifact_urls, model_urls, event_urls
    dequeued: bool = False


class TaskOutputs:
    def __init__(self, stores: Stores, tasks: Tasks, blobs: Blobs) -> None:
        self.stores = stores
        self.tasks = tasks
        self.blobs = blobs

    def delete(self, identity: Identity, task_id: str, *, force: bool, options: Options) -> Outcome:
        with self.stores.transaction():
            doc = self.tasks.get_writable(identity, task_id)
            if doc["status"] == Status.IN_PROGRESS and not force:
                raise InvalidTaskStatus("Task is in progress; pass force to delete it", status=doc["status"])
            outcome, files = self._clean(identity, doc, force, options)
            self.tasks.remove(identity, task_id)
        self._delete_files(identity, files)
        return outcome

    def reset(self, identity: Identity, task_id: str, *, force: bool, clear_all: bool, options: Options) -> Outcome:
        with self.stores.transaction():
            doc = self.tasks.get_writable(identity, task_id)
            self.tasks.check_resettable(doc, force=force)
            outcome, files = self._clean(identity, doc, force, options)
            self.tasks.reset(identity, task_id, force=force, clear_all=clear_all)
        outcome.dequeued = doc["status"] == Status.QUEUED
        self._delete_files(identity, files)
        return outcome

    def _clean(self, identity: Identity, task: Doc, force: bool, options: Options) -> tuple[Outcome, list[str]]:
        """Delete the task's draft output models and its events; the addresses of its files."""
        models = self._output_models(identity, task)
        published = [m["id"] for m in models if m.get("ready")]
        if published and not force:
            raise TaskCannotBeDeleted("The task has published output models; pass force", task=task["id"])
        drafts = [m for m in models if not m.get("ready") and m["id"] not in self._used_as_input(identity, models)]
        deleted = []
        if options.delete_output_models:
            scope = write_scope(identity)
            deleted = [m for m in drafts if self.stores.models.delete(scope, m["id"])]
        artifacts = [
            a["uri"]
            for a in (task.get("execution") or {}).get("artifacts") or []
            if a.get("mode", "output") == "output" and isinstance(a.get("uri"), str) and a["uri"]
        ]
        urls = {
            "artifact_urls": sorted(set(artifacts)),
            "model_urls": sorted({m["uri"] for m in deleted if isinstance(m.get("uri"), str) and m["uri"]}),
            "event_urls": sorted(self._image_urls(task["id"])),
        }
        events = self.stores.events.delete_task_events(task["id"])
        outcome = Outcome(len(deleted), events, urls if options.return_file_urls else None)
        prefix = options.files_url
        files = [u for found in urls.values() for u in found if prefix and u.startswith(prefix)]
        return outcome, files

    def _output_models(self, identity: Identity, task: Doc) -> list[Doc]:
        """The models the task made: those naming it as their task, and those in its ``models.output``."""
        listed = [m.get("model") for m in (task.get("models") or {}).get("output") or []]
        query = ListQuery(equals={"task": [task["id"]]}, search_hidden=True)
        found = {m["id"]: m for m in self.stores.models.query(write_scope(identity), query)}
        for model_id in listed:
            if isinstance(model_id, str) and model_id not in found:
                doc = self.stores.models.get(write_scope(identity), model_id)
                if doc is not None:
                    found[model_id] = doc
        return list(found.values())

    def _used_as_input(self, identity: Identity, models: list[Doc]) -> set[str]:
        """Which of the models some other task of the organisation uses as input. Every task is looked at (not only
        those the caller sees): the answer only ever keeps a model that would have been deleted."""
        ids = [m["id"] for m in models]
        if not ids:
            return set()
        terms = parse_tag_filter(ids)
        assert terms is not None
        used = InList(("models", "input", "*", "model"), terms)
        tasks = self.stores.tasks.query(system_scope(identity.org_id), ListQuery(where=[used], search_hidden=True))
        return {m.get("model") for t in tasks for m in (t.get("models") or {}).get("input") or []} & set(ids)

    def _image_urls(self, task_id: str) -> set[str]:
        urls: set[str] = set()
        after = 0
        while page := self.stores.events.other_page(task_id, [DEBUG_IMAGE], after, _PAGE, False):
            urls.update(e["url"] for e in page if isinstance(e.get("url"), str) and e["url"])
            after = page[-1]["id"]
        return urls

    def _delete_files(self, identity: Identity, urls: list[str]) -> None:
        """Best effort, after the commit: a file already gone, or not the caller's to delete, stays as it is."""
        for url in urls:
            try:
                key = resolve_blob_path(unquote(url.split("/files/", 1)[1].split("?", 1)[0], errors="strict"))
                self.blobs.delete(identity, key)
            except (ClearwayError, IndexError, UnicodeDecodeError) as exc:
                log.info("kept %s: %s", url, exc)

