"""The server's start-up check compares the database with ``migrations.HEAD``: it must be alembic's own head."""

from pathlib import Path

from clearway.store import migrations


def test_head_constant_is_alembics_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert migrations.HEAD == migrations.head_revision(url)
    assert migrations.current_revision(url) is None
    migrations.upgrade(url)
    assert migrations.current_revision(url) == migrations.HEAD
    assert migrations.is_current(url)
