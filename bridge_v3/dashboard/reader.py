"""Read-only PostgreSQL for the dashboard: a pool opened on first use, reopened after outages.

The dashboard must start, and keep serving its page, while PostgreSQL is down; so nothing is
connected at construction, and every read that fails raises ``StorageError`` (the panel
shows it) and leaves the next read to try again.
"""

from __future__ import annotations

import threading

from bridge_v3.config.settings import PostgresSettings
from bridge_v3.exceptions import StorageError
from bridge_v3.services.database_service import DatabaseService

STATEMENT_TIMEOUT_MS = 5000  # a page must never hang on a slow query


class ReadDatabase:
    def __init__(self, settings: PostgresSettings, *, connect_timeout: int = 3) -> None:
        self._database = DatabaseService(
            settings,
            application_name="bridge_v3.dashboard",
            connect_timeout=connect_timeout,
            acquire_timeout=5.0,
        )
        self._lock = threading.Lock()
        self._started = False

    def __repr__(self) -> str:
        return f"ReadDatabase({self._database.address})"

    @property
    def address(self) -> str:
        return self._database.address

    def rows(self, statement: str, params: tuple = ()) -> list[dict]:
        """The rows of one query as dicts (column name -> value). StorageError on any failure."""
        self._start()
        with self._database.connection() as conn, conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (STATEMENT_TIMEOUT_MS,))
            cur.execute(statement, params)
            names = [column.name for column in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def ping(self) -> None:
        """Raise StorageError unless PostgreSQL answers now."""
        self.rows("SELECT 1 AS one")

    def close(self) -> None:
        with self._lock:
            self._database.close()
            self._started = False

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                self._database.start()
                self._started = True


__all__ = ["ReadDatabase", "StorageError"]
