"""The databases a run measures: SQLite files under the work directory, and fresh PostgreSQL databases."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Backend:
    """``name`` is ``sqlite`` or ``postgresql``; ``admin_url`` (a libpq URL) is where PostgreSQL databases are made."""

    name: str
    admin_url: str = DEFAULT_PG_ADMIN_URL

    @contextmanager
    def database(self, directory: Path) -> Iterator[str]:
        """A new empty database, as a SQLAlchemy URL; a PostgreSQL one is dropped when the block ends."""
        if self.name == "sqlite":
            yield f"sqlite:///{directory / 'bench.db'}"
            return
        import psycopg

        name = f"clearway_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self._url(name).replace("postgresql://", "postgresql+psycopg://", 1)
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _url(self, name: str) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    def available(self) -> bool:
        if self.name == "sqlite":
            return True
        try:
            import psycopg

            with psycopg.connect(self.admin_url, connect_timeout=3):
                return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False


def connect_raw(url: str) -> Any:
    """A plain DB-API connection (sqlite3 or psycopg) to a SQLAlchemy URL, for the physical references."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # the server's default durability (CLEARWAY_SQLITE_SYNCHRONOUS)
        return conn
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))
