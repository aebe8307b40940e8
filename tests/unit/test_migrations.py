"""Applying every migration gives exactly the schema the code declares."""

import uuid
from datetime import UTC, datetime, timedelta
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


def test_upgrading_makes_user_names_unique_across_organisations(tmp_path: Path):
    """Before 0002 a name was unique per organisation: the oldest user keeps it, later ones get ``@organisation``."""
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url, "0001")
        engine = create_engine(url)
        try:
            now = datetime.now(UTC)
            with engine.begin() as conn:
                for org in ("A", "B", "C"):
                    conn.execute(organizations.insert().values(id=org * 32, name=org, created=now))
                people = [("A", "alice"), ("B", "alice"), ("C", "alice"), ("B", "alice@A"), ("A", "bob")]
                for i, (org, name) in enumerate(people):
                    row = {"id": uuid.uuid4().hex, "org_id": org * 32, "name": name, "role": "user"}
                    conn.execute(users.insert().values(**row, created=now + timedelta(seconds=i)))
            migrations.upgrade(url)
            with engine.connect() as conn:
                names = dict(conn.execute(select(users.c.name, users.c.org_id)).all())
        finally:
            engine.dispose()
    assert names == {"alice": "A" * 32, "alice@A": "B" * 32, "alice@B": "B" * 32, "alice@C": "C" * 32, "bob": "A" * 32}


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
