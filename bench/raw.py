"""Physical references: what the database driver alone does with the same rows, in this process, on this machine."""

from __future__ import annotations

import time
from typing import Any

from bench.backends import connect_raw

# The same columns and index as Clearway's scalar_events table, without the server around it.
_TABLE = {
    "sqlite": "CREATE TABLE raw_scalars (id INTEGER PRIMARY KEY, task VARCHAR(32) NOT NULL, metric VARCHAR(255)"
    " NOT NULL, variant VARCHAR(255) NOT NULL, iter BIGINT NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL)",
    "postgresql": "CREATE TABLE raw_scalars (id BIGSERIAL PRIMARY KEY, task VARCHAR(32) NOT NULL, metric VARCHAR(255)"
    " NOT NULL, variant VARCHAR(255) NOT NULL, iter BIGINT NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL)",
}
_INDEX = "CREATE INDEX ix_raw_scalars ON raw_scalars (task, metric, variant, iter)"


class RawScalarTable:
    """A bulk-insert target, filled as fast as the driver goes: all rows in one transaction, with SQLite's
    ``executemany`` or PostgreSQL's ``COPY``."""

    def __init__(self, url: str) -> None:
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.conn: Any = connect_raw(url)
        cur = self.conn.cursor()
        cur.execute(_TABLE[self.dialect])
        cur.execute(_INDEX)
        self.conn.commit()

    @property
    def method(self) -> str:
        return f"raw {self.dialect} " + ("executemany" if self.dialect == "sqlite" else "COPY")

    def insert_rate(self, task: str, points: list[tuple[str, str, int, float, int]]) -> float:
        """Rows per second for one transaction inserting ``points``."""
        columns = "task, metric, variant, iter, value, timestamp"
        rows = [(task, *point) for point in points]
        start = time.perf_counter()
        cur = self.conn.cursor()
        if self.dialect == "sqlite":
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO raw_scalars ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)
        else:
            with cur.copy(f"COPY raw_scalars ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.conn.commit()
        return len(rows) / (time.perf_counter() - start)

    def close(self) -> None:
        self.conn.close()


def select_seconds(url: str, sql: str, params: tuple[Any, ...], expected: int) -> float:
    """Seconds for the driver alone to fetch the rows of ``sql`` (a read reference)."""
    conn = connect_raw(url)
    try:
        if not url.startswith("sqlite"):
            sql = sql.replace("?", "%s")
        start = time.perf_counter()
        rows = conn.cursor().execute(sql, params).fetchall()
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if len(rows) != expected:
        raise RuntimeError(f"raw select returned {len(rows)} rows, expected {expected}")
    return elapsed
