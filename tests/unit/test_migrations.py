"""Applying every migration gives exactly the schema the code declares."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, select

from clearway.store import migrations
from clearway.store.sql.schema import metadata, organizations, tasks, users
from clearway.timeutil import utcnow
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


def test_old_zulu_timestamps_are_rewritten_in_the_sdk_shape(tmp_path: Path):
    """0008: documents written before it ended their timestamps in Z, which the clearml SDK cannot parse."""
    old = "2024-05-01T10:00:00.123Z"
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url, "0001")
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(insert(organizations).values(id="o", name="o", created=utcnow()))
                conn.execute(insert(users).values(id="u", org_id="o", name="u", role="user", created=utcnow()))
                doc = {
                    "id": "t",
                    "created": old,
                    "status_changed": old,
                    "comment": old,  # user text is left alone
                    "hyperparams": {"Args": {"when": {"value": old}}},
                    "models": {"output": [{"name": "m", "model": "m", "updated": old}], "input": []},
                }
                row = {"org_id": "o", "owner_id": "u", "name": "t", "created": utcnow(), "last_update": utcnow()}
                conn.execute(
                    insert(tasks).values(
                        id="t", doc=doc, tags=[], system_tags=[], type="training", status="created", **row
                    )
                )
            migrations.upgrade(url)
            with engine.connect() as conn:
                stored = conn.execute(select(tasks.c.doc)).scalar_one()
        finally:
            engine.dispose()
    new = "2024-05-01T10:00:00.123000+00:00"
    assert (stored["created"], stored["status_changed"], stored["models"]["output"][0]["updated"]) == (new, new, new)
    assert stored["comment"] == old
    assert stored["hyperparams"]["Args"]["when"]["value"] == old
