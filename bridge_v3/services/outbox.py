"""The local outbox: one SQLite file (WAL) where every message waits, numbered, until Redis
has it.

Items come back in the order they were appended (ids only grow) and stay until acked, so
delivery is at-least-once: a crash between sending and acking sends an item again, with
the same envelope and ``seq``. Appending an item, the last ``seq`` handed out and the ids of
the PostgreSQL rows it came from happen in one SQLite transaction, so a crash never loses
or doubles a transfer. WAL with ``synchronous=NORMAL`` keeps every commit across a crash of
the process (only a power loss may cost the last commits, never the file).

One process at a time: the file is locked (``<path>.lock``) while open. A file that is not a
database, or is damaged, is moved aside for a person to look at and a new one is started.
Every problem opening it is a ``SpoolError`` naming the path and the problem; every later
SQLite error is a ``SpoolError`` too. Thread-safe: one connection, one lock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bridge_v3.exceptions import SpoolError
from bridge_v3.services.file_lock import FileLock, FileLockHeld, held_by

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        channel   TEXT NOT NULL,
        type      TEXT NOT NULL,
        envelope  TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # PostgreSQL rows already moved here but maybe not yet deleted there.
    """CREATE TABLE IF NOT EXISTS transferred (
        source    TEXT NOT NULL,
        staged_id INTEGER NOT NULL,
        PRIMARY KEY (source, staged_id)
    )""",
)
# Columns added after the first release; spools written before it lack them.
_ADDED_COLUMNS = {"seq": "INTEGER", "queued_at": "REAL"}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    type: str
    envelope: str  # the message as it goes on the wire (compact JSON)
    seq: int | None = None  # None only for items spooled by an older version
    queued_at: float | None = None  # unix seconds


class Outbox:
    """``Outbox(path)``: append numbered envelopes, peek in order, ack what was delivered."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self._path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._file_lock = FileLock(self._path.with_name(self._path.name + ".lock"))
        self._take_file()
        try:
            self._db = self._open_or_replace()
        except BaseException:
            self._file_lock.release()
            raise

    def __repr__(self) -> str:
        return f"Outbox({str(self._path)!r})"

    @property
    def path(self) -> Path:
        return self._path

    # -- opening -----------------------------------------------------------------------------

    def _take_file(self) -> None:
        if self._path.is_dir():
            raise SpoolError(f"{self._path} is a directory, not a file")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file_lock.acquire()
        except FileLockHeld as held:
            raise SpoolError(
                f"{self._path} is in use by another bridge (process {held.holder or '?'}); "
                "give each bridge its own SPOOL_PATH"
            ) from None
        except OSError as error:
            raise SpoolError(f"{self._path} cannot be created ({error.strerror})") from None

    def _open_or_replace(self) -> sqlite3.Connection:
        try:
            return _open(self._path)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise SpoolError(f"{self._path} cannot be opened ({error})") from None
            kept = _move_aside(self._path, self._clock())
            logger.error(
                "Outbox %s is damaged (%s): kept as %s for inspection; messages in it are "
                "not sent. A new outbox is started",
                self._path,
                error,
                kept,
            )
        try:
            return _open(self._path)
        except sqlite3.DatabaseError as error:
            raise SpoolError(f"{self._path} cannot be opened ({error})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._file_lock.release()

    # -- items -------------------------------------------------------------------------------

    def append(
        self,
        rows: Sequence[tuple[str, str, str, int]],
        *,
        meta: Mapping[str, str] | None = None,
        forget: Iterable[str] = (),
        transferred: tuple[str, Iterable[int]] | None = None,
    ) -> int:
        """In one transaction: spool ``(channel, type, envelope, seq)`` rows after those already
        here, set ``meta`` keys, delete the ``forget`` keys, and record ``transferred`` =
        (source, PostgreSQL row ids). Returns the id of the last row spooled (0 if none)."""
        now = self._clock()
        last_id = 0
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO outbox (channel, type, envelope, seq, queued_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(c, t, e, s, now) for c, t, e, s in rows],
            )
            if rows:
                (last_id,) = db.execute("SELECT last_insert_rowid()").fetchone()
            self._write_meta(db, meta or {}, forget)
            if transferred is not None:
                source, ids = transferred
                db.executemany(
                    "INSERT OR IGNORE INTO transferred (source, staged_id) VALUES (?, ?)",
                    [(source, i) for i in ids],
                )
        return last_id

    @staticmethod
    def _write_meta(db: sqlite3.Connection, meta: Mapping[str, str], forget: Iterable[str]):
        for key, value in meta.items():
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        db.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in forget])

    def peek(self, limit: int = 500) -> list[OutboxItem]:
        """The oldest ``limit`` items, oldest first (they stay until acked)."""
        rows = self._read(
            "SELECT id, channel, type, envelope, seq, queued_at FROM outbox ORDER BY id LIMIT ?",
            (limit,),
        )
        return [_item(row) for row in rows]

    def ack(self, ids: Sequence[int]) -> None:
        """Forget delivered items."""
        if ids:
            with self._transaction() as db:
                db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def ack_through(self, last_id: int) -> None:
        """Forget every item up to ``last_id``: what one in-order sender just delivered."""
        with self._transaction() as db:
            db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))

    def rewrite(
        self,
        change: Callable[[OutboxItem], tuple[str, int] | None],
        *,
        meta: Mapping[str, str] | None = None,
        forget: Iterable[str] = (),
    ) -> int:
        """Give waiting items a new (envelope, seq) where ``change`` returns one, set ``meta``
        keys and delete the ``forget`` keys, all in one transaction (a crash leaves all of it
        or none); returns how many items changed. Only for items never sent."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, channel, type, envelope, seq, queued_at FROM outbox ORDER BY id"
            ).fetchall()
            changes = [(new, item.id) for item in map(_item, rows) if (new := change(item))]
            db.executemany(
                "UPDATE outbox SET envelope = ?, seq = ? WHERE id = ?",
                [(envelope, seq, id_) for (envelope, seq), id_ in changes],
            )
            self._write_meta(db, meta or {}, forget)
        return len(changes)

    def __len__(self) -> int:
        return self._read("SELECT count(*) FROM outbox")[0][0]

    def oldest_queued_at(self) -> float | None:
        """When the oldest waiting item was queued (unix seconds), None if none waits."""
        rows = self._read("SELECT queued_at FROM outbox ORDER BY id LIMIT 1")
        return rows[0][0] if rows else None

    # -- transfers from PostgreSQL -----------------------------------------------------------

    def transferred(self, source: str) -> set[int]:
        """Ids of ``source``'s PostgreSQL rows already moved here."""
        rows = self._read("SELECT staged_id FROM transferred WHERE source = ?", (source,))
        return {row[0] for row in rows}

    def forget_transferred(self, source: str, ids: Iterable[int]) -> None:
        """Those PostgreSQL rows are deleted: their ids can never come back."""
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM transferred WHERE source = ? AND staged_id = ?",
                [(source, i) for i in ids],
            )

    # -- key/value state ---------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self.append([], meta={key: value})

    # -- SQLite ------------------------------------------------------------------------------

    def _read(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(statement, params).fetchall()
            except sqlite3.Error as error:
                raise SpoolError(f"outbox {self._path}: {error}") from error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN ... COMMIT under the lock (ROLLBACK on error); SQLite errors become
        ``SpoolError``."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                if self._db.in_transaction:  # a failed COMMIT leaves the transaction open
                    self._db.execute("ROLLBACK")
                raise SpoolError(f"outbox {self._path}: {error}") from error


def _item(row: tuple) -> OutboxItem:
    return OutboxItem(*row)


def _open(path: Path) -> sqlite3.Connection:
    """Connect, check the file is a sound database, and bring its schema up to date."""
    # Autocommit mode with explicit BEGIN: each call is exactly one transaction.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints (which sync to disk) every ~40 MB of log instead of every 4 MB: each
        # message is written and deleted once, so the default would sync every few batches.
        db.execute("PRAGMA wal_autocheckpoint=10000")
        (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
        for statement in _SCHEMA:
            db.execute(statement)
        present = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE outbox ADD COLUMN {column} {kind}")
    except BaseException:
        db.close()
        raise
    return db


def _move_aside(path: Path, now: float) -> Path:
    """Rename a damaged spool (and its WAL files) to ``<name>.damaged-<UTC time>``."""
    stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            os.replace(part, f"{kept}{suffix}")
    return kept


def inspect_outbox(path: str | Path) -> str:
    """What ``--check`` says about an outbox file, changing nothing; ``SpoolError`` when the
    bridge could not use it."""
    path = Path(path)
    if path.is_dir():
        raise SpoolError(f"{path} is a directory, not a file")
    if not path.exists():
        _check_creatable(path)
        return f"{path}: created at the first start"
    try:
        holder = held_by(path.with_name(path.name + ".lock"))
    except OSError as error:
        raise SpoolError(f"{path}.lock cannot be read ({error.strerror})") from None
    if holder is not None:
        return f"{path}: in use by a running bridge (process {holder or '?'})"
    return f"{path}: {_waiting(path)} message(s) waiting"


def _check_creatable(path: Path) -> None:
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise SpoolError(f"{path} cannot be created ({error.strerror})") from None


def _waiting(path: Path) -> int:
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
            has_table = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone()
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0] if has_table else 0
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise SpoolError(
            f"{path} is damaged ({error}); the bridge will keep it aside and start a new one"
        ) from None
