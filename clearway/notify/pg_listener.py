"""LISTEN on PostgreSQL for the other replicas' wake-ups: a thread with a connection of its own.

Each notification channel gives its :class:`~clearway.notify.signals.Signal`. A lost connection is opened again;
meanwhile the notifier's polling covers for it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import make_url

from clearway.notify.signals import Signal

log = logging.getLogger(__name__)
RECONNECT_SEC = 2.0


class PgListener:
    def __init__(self, database_url: str, channels: dict[str, Signal]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.channels = channels
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="clearway-pg-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    for channel in self.channels:
                        conn.execute(f'LISTEN "{channel}"')
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self.channels[notice.channel].set()
            except psycopg.Error:
                log.warning("LISTEN connection lost; opening it again", exc_info=True)
                self._stop.wait(RECONNECT_SEC)
