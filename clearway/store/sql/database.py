"""Engine, transactions and the single SQLite writer.

A transaction opened with :meth:`Database.transaction` is shared by every store call made inside it (it is
kept in a context variable), so a domain operation that touches several aggregates commits or fails as one.
On SQLite, write transactions are serialised by one process-wide lock and start with ``BEGIN IMMEDIATE``
(one writer, WAL for concurrent readers); on PostgreSQL they run concurrently and rows are locked with
``SELECT ... FOR UPDATE`` where a read-modify-write needs it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event

from clearway.domain.query import name_pattern

_current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar("clearway_conn", default=None)
_AFTER_COMMIT = "clearway_after_commit"


class Database:
    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, echo, sqlite_synchronous)
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._write_lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, joined by nested calls; commits when the outermost block ends."""
        conn = _current.get()
        if conn is not None:
            yield conn
            return
        with self._writer():
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                token = _current.set(conn)
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
                finally:
                    _current.reset(token)
                    callbacks = conn.info.pop(_AFTER_COMMIT, {})
        for callback in callbacks.values():  # reached only when it committed
            callback()

    def after_commit(self, key: str, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once the current transaction has committed (at once outside one). Only the first
        callback with a given ``key`` in a transaction is kept: the answer says whether this one was."""
        conn = _current.get()
        if conn is None:
            callback()
            return True
        callbacks = conn.info.setdefault(_AFTER_COMMIT, {})
        if key in callbacks:
            return False
        callbacks[key] = callback
        return True

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection, or the current transaction when inside one."""
        conn = _current.get()
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        if self.is_sqlite:
            with self._write_lock:
                yield
        else:
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def _regexp(pattern: str, value: str | None) -> bool | None:
    return None if value is None else name_pattern(pattern).search(value) is not None


def _sqlite_engine(url: str, echo: bool, synchronous: str) -> Engine:
    """WAL (readers never wait for the writer) and ``synchronous`` FULL by default: each commit is on disk before
    it is acknowledged, so it survives an OS crash or a power cut too; NORMAL skips that fsync and may lose the last
    commits then (a crash of the server process alone loses nothing either way)."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
    # LIFO: reuse the connection used last, whose page cache is warm (each SQLite connection has its own cache,
    # and a write by another connection empties it): about 15% more events per second through add_batch.
    engine = create_engine(url, echo=echo, pool_use_lifo=True, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # BEGIN is issued explicitly (see Database.transaction/read)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        # REGEXP with RE2 (linear time) instead of SQLAlchemy's default, Python's re (exponential in the worst case,
        # holding the GIL: one bad pattern froze every request).
        dbapi_conn.create_function("regexp", 2, _regexp, deterministic=True)

    return engine
