"""In-process fixtures: the domain and the stores on a fresh database of the kind CLEARWAY_TEST_DATABASE names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clearway.domain.identity import Identity
from clearway.services import Services
from clearway.settings import Settings
from clearway.store import migrations
from tests.support.databases import fresh_database


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    with fresh_database(data_dir) as url:
        migrations.upgrade(url)
        built = Services.build(Settings(data_dir=data_dir, database_url=url))
        try:
            yield built
        finally:
            built.stores.db.dispose()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def make_user(services: Services) -> Callable[..., Identity]:
    """A new user of the given role in the given organisation, as an Identity."""

    def make(name: str, role: str = "user", org: str = "default") -> Identity:
        org_doc = services.stores.identity.ensure_org(org)
        user = services.stores.identity.create_user(org_doc["id"], name, role)
        identity = services.stores.identity.identity_of(user["id"])
        assert identity is not None
        return identity

    return make
