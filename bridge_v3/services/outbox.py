"""A durable local spool (one SQLite file, WAL) for messages that could not be published.

Items come back in the order they were appended (ids only grow), and stay until acked, so
delivery is at-least-once: a crash between sending and ``ack`` sends an item again, which
subscribers recognise by its envelope's ``seq``. Thread-safe: one connection, one lock.
A small key/value table keeps state that must outlive the process (the last seq handed out).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        channel   TEXT NOT NULL,
        type      TEXT NOT NULL,
        envelope  TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    type: str
    envelope: str  # the message as it will go on the wire (compact JSON)


class Outbox:
    """``Outbox(path)``: append, peek in order, ack what was delivered."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit mode with explicit BEGIN: each call is exactly one transaction.
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process; power loss may lose the last
        # commits but never corrupts the file.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def __repr__(self) -> str:
        return f"Outbox({str(self._path)!r})"

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, items: Iterable[tuple[str, str, str]]) -> int:
        """Spool ``(channel, type, envelope_json)`` items after those already there."""
        rows = [(channel, type_, envelope) for channel, type_, envelope in items]
        if rows:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO outbox (channel, type, envelope) VALUES (?, ?, ?)", rows
                )
        return len(rows)

    def peek(self, limit: int = 500) -> list[OutboxItem]:
        """The oldest ``limit`` items, oldest first (they stay until acked)."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT id, channel, type, envelope FROM outbox ORDER BY id LIMIT ?", (limit,)
            )
            return [OutboxItem(*row) for row in cursor.fetchall()]

    def ack(self, ids: Sequence[int]) -> None:
        """Forget delivered items."""
        if ids:
            with self._transaction() as db:
                db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN ... COMMIT under the lock (ROLLBACK on error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
