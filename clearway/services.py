"""Everything a request handler may use, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from clearway.auth.authenticator import Authenticator
from clearway.domain.events import Events
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

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        db = database or Database(settings.resolved_database_url)
        stores = SqlStores(db)
        return cls(
            settings=settings,
            stores=stores,
            auth=Authenticator(stores.identity, settings),
            projects=Projects(stores),
            tasks=Tasks(stores),
            events=Events(stores, settings.max_events_per_batch),
        )
