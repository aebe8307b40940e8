"""The locks processes sharing a database take: one holder at a time, free again when the holder lets go (or dies:
its connection, or its file descriptor, closes with it)."""

from __future__ import annotations

import threading
from pathlib import Path

from clearway.store import migrations
from clearway.store.sql.locks import HeldLock, exclusive
from tests.support.databases import fresh_database


def test_one_holder_at_a_time_and_the_next_takes_over(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url)
        first, second = HeldLock(url, "watchdog"), HeldLock(url, "watchdog")
        other = HeldLock(url, "something-else")
        try:
            assert first.hold() and first.hold()  # held, and still held
            assert not second.hold()
            assert other.hold()  # another name is another lock
            first.release()  # as when its process dies
            assert second.hold()
            assert not first.hold()
        finally:
            for lock in (first, second, other):
                lock.release()


def test_exclusive_blocks_make_others_wait(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        order: list[str] = []
        inside = threading.Event()

        def later() -> None:
            inside.wait(10)
            with exclusive(url, "schema"):
                order.append("second")

        thread = threading.Thread(target=later)
        thread.start()
        with exclusive(url, "schema"):
            inside.set()
            thread.join(0.3)  # it cannot get in meanwhile
            order.append("first")
        thread.join(10)
        assert order == ["first", "second"]
