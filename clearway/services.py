"""Everything a request handler may use, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from clearway.auth.authenticator import Authenticator
from clearway.blobs import open_blob_store
from clearway.domain.blobs import Blobs
from clearway.domain.events import Events
from clearway.domain.models import Models
from clearway.domain.projects import Projects
from clearway.domain.tasks import Tasks
from clearway.settings import Settings
from clearway.store.base import Stores
from clearway.store.sql.database import Database
from clearway.store.sql.stores import SqlStores


@dataclass
class Services:
    settings: Settings
    stores: Stores
    auth: Authenticator
    projects: Projects
    tasks: Tasks
    events: Events
    models: Models
    blobs: Blobs

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        db = database or Database(settings.resolved_database_url)
        stores = SqlStores(db)
        tasks = Tasks(stores)
        return cls(
            settings=settings,
            stores=stores,
            auth=Authenticator(stores.identity, settings),
            projects=Projects(stores),
            tasks=tasks,
            events=Events(stores, settings.max_events_per_batch),
            models=Models(stores, tasks),
            blobs=Blobs(stores, open_blob_store(settings), settings.max_upload_bytes),
        )
