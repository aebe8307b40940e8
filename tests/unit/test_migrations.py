"""Applying every migration gives exactly the schema the code declares."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from clearway.store import migrations
from clearway.store.sql.schema import metadata
from tests.support.databases import fresh_database


def test_migrations_produce_the_declared_schema(tmp_path: Path):
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url)
        assert migrations.is_current(url)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, metadata)
        finally:
            engine.dispose()
    assert diff == []
