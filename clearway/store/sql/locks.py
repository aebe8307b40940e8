"""Locks shared by every process that uses one database: replicas on PostgreSQL, worker processes on SQLite.

On PostgreSQL a lock is a session-level advisory lock held by one dedicated connection: when the process holding
it dies, its connection closes and PostgreSQL releases the lock at once. On SQLite (one machine by nature) it is
an ``flock`` on a file beside the database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


def _key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(f"clearway:{name}".encode()).digest()[:8], "big", signed=True)


def _lock_file(url: str, name: str) -> Path:
    database = make_url(url).database or ""
    return Path(f"{database}.{name}.lock")


class HeldLock:
    """A lock that one process holds for as long as it lives (e.g. "run the watchdog"), taken without waiting.

    :meth:`hold` answers whether this process holds it now, taking it when it is free; call it before each piece
    of work that only one process may do. A lost connection loses the lock, and a later call takes it again.
    """

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._conn: Connection | None = None
        self._file: int | None = None
        # The application name shows in pg_stat_activity which process holds the lock.
        self._engine = (
            None
            if url.startswith("sqlite")
            else create_engine(
                url, poolclass=NullPool, connect_args={"application_name": f"clearway {name} pid {os.getpid()}"}
            )
        )

    def hold(self) -> bool:
        if self._engine is None:
            return self._hold_file()
        return self._hold_advisory()

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing the descriptor releases the flock
            self._file = None
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()

    def _hold_file(self) -> bool:
        if self._file is not None:
            return True
        path = _lock_file(self.url, self.name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._file = fd
        return True

    def _hold_advisory(self) -> bool:
        assert self._engine is not None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))  # still connected, so still holding
                self._conn.rollback()
                return True
            except Exception:  # noqa: BLE001 - the connection broke: the lock went with it
                log.warning("lost the %s lock with its database connection; taking it again", self.name)
                self._conn.invalidate()
                self._conn = None
        try:
            conn = self._engine.connect()
        except Exception:  # noqa: BLE001 - the database is unreachable: nobody runs the work now
            log.warning("cannot reach the database to take the %s lock", self.name)
            return False
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(self.name)}).scalar_one()
        conn.commit()
        if not taken:
            conn.close()
            return False
        self._conn = conn
        return True


@contextmanager
def exclusive(url: str, name: str) -> Iterator[None]:
    """Wait for the named lock and hold it for the block (e.g. creating the schema when replicas start together)."""
    if url.startswith("sqlite"):
        path = _lock_file(url, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(name)})
                conn.commit()
    finally:
        engine.dispose()

