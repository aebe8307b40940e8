"""Which database the suite runs on: ``CLEARWAY_TEST_DATABASE=sqlite`` (default) or ``postgresql``.

For PostgreSQL a fresh database is created per use on the server at ``CLEARWAY_TEST_PG_URL``
(default: the local server, trust auth) and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN_URL = os.environ.get("CLEARWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def backend() -> str:
    return os.environ.get("CLEARWAY_TEST_DATABASE", "sqlite")


@contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    if backend() == "sqlite":
        yield f"sqlite:///{tmp_dir / 'clearway.db'}"
        return
    name = f"clearway_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
