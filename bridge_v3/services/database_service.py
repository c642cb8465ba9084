"""PostgreSQL: a threaded connection pool, migrations and fast idempotent batch upserts.

Every psycopg2 error leaving this module is a ``StorageError`` (``raise ... from``), and no
message ever carries the password. A lost or refused connection is a
``DatabaseUnavailableError`` and is reported to ``dependency`` (one WARNING per outage);
retrying is the caller's policy.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool

from bridge_v3.config.settings import PostgresSettings
from bridge_v3.exceptions import DatabaseUnavailableError, StorageError
from bridge_v3.services.copy_text import copy_text
from bridge_v3.services.dependency import Dependency
from bridge_v3.services.migrations import MIGRATIONS_DIR, MigrationRunner

logger = logging.getLogger(__name__)

WHILE_DOWN = "storing waits; every series resumes from its watermark when it answers"


class DatabaseService:
    """The bridge's one door to PostgreSQL. ``start()`` before use, ``close()`` at shutdown."""

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        application_name: str = "bridge_v3",
        connect_timeout: int = 5,
        acquire_timeout: float = 30.0,
        temp_buffers: str = "32MB",
        dependency: Dependency | None = None,
    ) -> None:
        self._settings = settings
        self.dependency = dependency or Dependency(
            "PostgreSQL", f"{settings.host}:{settings.port}", meanwhile=WHILE_DOWN
        )
        self._application_name = application_name
        self._connect_timeout = connect_timeout
        self._acquire_timeout = acquire_timeout
        self._temp_buffers = temp_buffers
        self._pool: ThreadedConnectionPool | None = None
        # The pool raises when exhausted; the semaphore makes callers wait for a connection.
        self._slots = threading.BoundedSemaphore(settings.pool_max)
        self._table_columns: dict[str, frozenset[str]] = {}
        self.commits = 0  # transactions committed since start-up (only ever grows)
        self._tick_months: set[str] = set()

    def __repr__(self) -> str:
        return f"DatabaseService({self.address}, user={self._settings.user!r})"

    @property
    def address(self) -> str:
        """host:port/db, for messages (never includes credentials)."""
        s = self._settings
        return f"{s.host}:{s.port}/{s.db}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the pool (``pool_min`` connections now). Unreachable -> StorageError."""
        if self._pool is not None:
            return
        params = self._settings.connect_params()
        params.update(
            application_name=self._application_name,
            connect_timeout=self._connect_timeout,
            # Naive timestamps mean UTC, and values read back are in UTC. A batch's stage table
            # that fits in temp_buffers never touches disk (the 8MB default holds ~80k bars).
            # Notices ("stage table already exists, skipping") would only pile up client-side.
            options=(
                f"-c timezone=UTC -c temp_buffers={self._temp_buffers}"
                " -c client_min_messages=warning"
            ),
        )
        try:
            self._pool = ThreadedConnectionPool(
                self._settings.pool_min, self._settings.pool_max, **params
            )
        except psycopg2.Error as error:
            raise self._unreachable(error, report=False) from error
        logger.info("Connected to PostgreSQL at %s", self.address)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and not pool.closed:
            pool.closeall()

    def health(self) -> bool:
        """True if a connection answers ``SELECT 1`` now."""
        if self._pool is None:
            return False
        try:
            return self.fetch_all("SELECT 1") == [(1,)]
        except StorageError:
            return False

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection in a transaction: committed on success, rolled back on error.

        Broken connections are dropped from the pool; psycopg2 errors become StorageError.
        """
        conn = self._acquire()
        broken = False
        try:
            yield conn
            conn.commit()
            self.commits += 1
        except psycopg2.Error as error:
            # A closed connection, or one that cannot even roll back, means the server is
            # gone (an outage); anything else is this statement's problem.
            broken = bool(conn.closed) or not self._rollback(conn)
            if broken:
                raise self._unreachable(error) from error
            raise StorageError(f"PostgreSQL at {self.address}: {self._scrub(error)}") from error
        except BaseException:
            broken = not self._rollback(conn)
            raise
        finally:
            self._release(conn, broken)

    def _acquire(self):
        if self._pool is None:
            raise StorageError(f"PostgreSQL at {self.address}: not started")
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise StorageError(
                f"PostgreSQL at {self.address}: no free connection within "
                f"{self._acquire_timeout:g} s (pool_max={self._settings.pool_max})"
            )
        try:
            conn = self._pool.getconn()
        except psycopg2.Error as error:
            self._slots.release()
            raise self._unreachable(error) from error
        except BaseException:
            self._slots.release()
            raise
        if conn.closed:  # the server went away since this connection was pooled
            self._release(conn, broken=True)
            return self._acquire()
        return conn

    def _release(self, conn, broken: bool) -> None:
        try:
            if self._pool is not None:
                self._pool.putconn(conn, close=broken or bool(conn.closed))
            else:
                conn.close()
        finally:
            self._slots.release()

    @staticmethod
    def _rollback(conn) -> bool:
        """Roll back; False if the connection is unusable."""
        try:
            conn.rollback()
            return True
        except psycopg2.Error:
            return False

    def _unreachable(self, error: Exception, *, report: bool = True) -> StorageError:
        """The error for a lost or refused connection; told to ``dependency`` unless this is
        start-up (whose retries say it themselves)."""
        reason = " ".join(self._scrub(error).split())  # one line, for the log
        if report:
            self.dependency.failed(reason)
        return DatabaseUnavailableError(f"PostgreSQL unreachable at {self.address}: {reason}")

    def _scrub(self, error: Exception) -> str:
        text = str(error).strip()
        password = self._settings.password.reveal()
        return text.replace(password, "***") if password else text

    # -- plain statements --------------------------------------------------------------------

    def execute(self, statement: str | sql.Composable, params=None) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(statement, params)

    def fetch_all(self, statement: str | sql.Composable, params=None) -> list[tuple]:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    # -- migrations --------------------------------------------------------------------------

    def migrate(self, directory: Path | None = None) -> list[str]:
        """Apply pending migrations (see ``MigrationRunner``); return the names applied now."""
        with self.connection() as conn:
            conn.commit()  # the runner manages its own transactions
            try:
                return MigrationRunner(conn, directory or MIGRATIONS_DIR).run()
            finally:
                conn.autocommit = False

    # -- batch upserts -----------------------------------------------------------------------

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence],
        key: Sequence[str],
        update: Sequence[str] | None = None,
        *,
        conn=None,
    ) -> int:
        """Insert or update ``rows`` (tuples in ``columns`` order); return rows inserted or changed.

        COPY into a temporary table, then ``INSERT ... ON CONFLICT (key) DO UPDATE`` of the
        ``update`` columns (default: every non-key column) only where a value differs, so
        writing the same batch twice changes nothing. ``update=[]`` means DO NOTHING.
        A key repeated within the batch: the last row wins. A table's ``updated_at`` column,
        when not given, is set to now() on rows that change. Pass ``conn`` to run inside the
        caller's transaction (e.g. bars and their watermark together).
        """
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return 0
        data = dict(zip(columns, zip(*rows, strict=True), strict=True))
        return self.upsert_columns(table, data, key, update, conn=conn)

    def upsert_columns(
        self,
        table: str,
        data: Mapping[str, Sequence],
        key: Sequence[str],
        update: Sequence[str] | None = None,
        *,
        conn=None,
    ) -> int:
        """``upsert`` for column-major data (lists or numpy arrays of equal length)."""
        columns = list(data)
        values = [data[c] for c in columns]
        if not values or len(values[0]) == 0:
            return 0
        if update is None:
            update = [c for c in columns if c not in key]
        if conn is not None:
            return self._merge(conn, _Merge(table, columns, list(key), list(update)), values)
        with self.connection() as own:
            return self._merge(own, _Merge(table, columns, list(key), list(update)), values)

    def copy_new(
        self, conn, table: str, columns: Sequence[str], payload: bytes, *, binary: bool = False
    ) -> bool:
        """COPY rows the caller knows to be new straight into ``table`` in the caller's
        transaction (no stage, no conflict check per row): True when done. False when a row
        existed after all: the COPY met a unique index and was rolled back to a savepoint,
        so the caller merges those rows instead (the outcome is the upsert's either way)."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
            sql.Identifier(table),
            _names(columns),
            sql.SQL(" WITH (FORMAT binary)" if binary else ""),
        )
        with conn.cursor() as cur:
            cur.execute("SAVEPOINT bridge_copy_new")
            try:
                cur.copy_expert(statement.as_string(cur), io.BytesIO(payload), 1 << 20)
            except psycopg2.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT bridge_copy_new")
                return False
            cur.execute("RELEASE SAVEPOINT bridge_copy_new")
        return True

    def _merge(self, conn, merge: _Merge, values: list[Sequence]) -> int:
        with conn.cursor() as cur:
            merge.touch = "updated_at" in self._columns_of(cur, merge.table)
            merge.touch = merge.touch and "updated_at" not in merge.columns
            cur.execute(merge.prepare_stage())
            data = io.BytesIO(copy_text(values))
            cur.copy_expert(merge.copy_stage().as_string(cur), data, size=1 << 20)
            return self._insert(cur, merge)

    @staticmethod
    def _insert(cur, merge: _Merge) -> int:
        """Insert from the stage; dedupe (last row wins) only if the batch repeats a key.

        Deduplicating every batch up front would cost more than the insert itself, and a
        repeated key is rare. ON CONFLICT DO UPDATE raises CardinalityViolation when a batch
        touches one row twice; that is the signal to retry from a deduplicated stage.
        """
        if not merge.update:  # DO NOTHING never raises on repeats: dedupe so the last wins
            cur.execute(merge.insert(deduplicated=True))
            return max(cur.rowcount, 0)
        cur.execute("SAVEPOINT bridge_upsert")
        try:
            cur.execute(merge.insert(deduplicated=False))
        except psycopg2.errors.CardinalityViolation:
            cur.execute("ROLLBACK TO SAVEPOINT bridge_upsert")
            cur.execute(merge.insert(deduplicated=True))
        changed = max(cur.rowcount, 0)
        cur.execute("RELEASE SAVEPOINT bridge_upsert")
        return changed

    def _columns_of(self, cur, table: str) -> frozenset[str]:
        if table not in self._table_columns:
            cur.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped",
                (sql.Identifier(table).as_string(cur),),
            )
            self._table_columns[table] = frozenset(r[0] for r in cur.fetchall())
        return self._table_columns[table]

    # -- tick partitions ---------------------------------------------------------------------

    def ensure_tick_partitions(self, start: datetime, end: datetime) -> list[str]:
        """Make sure a monthly ``ticks`` partition exists for every UTC month in [start, end].

        Returns the partition names covering the range. Rows already in ``ticks_default``
        for those months are moved into their partition.
        """
        names = []
        for month in _months(start, end):
            label = month.strftime("ticks_%Y%m")
            if label not in self._tick_months:
                rows = self.fetch_all("SELECT ensure_tick_partition(%s)", (month,))
                self._tick_months.add(rows[0][0])
            names.append(label)
        return names


def _names(columns: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


@dataclass
class _Merge:
    """The statements of one upsert: stage table, COPY into it, INSERT ... ON CONFLICT."""

    table: str
    columns: list[str]
    key: list[str]
    update: list[str]
    touch: bool = False  # set updated_at = now() on changed rows
    stage: str = field(init=False)

    def __post_init__(self) -> None:
        # One stage table per session, table and column list, made once and kept: creating
        # and dropping one per upsert would churn the system catalogs for as long as the
        # bridge runs. ON COMMIT DELETE ROWS empties it in place at every commit.
        digest = hashlib.sha1(",".join(self.columns).encode()).hexdigest()[:10]
        self.stage = f"_bridge_stage_{self.table[:40]}_{digest}"

    @property
    def stage_id(self) -> sql.Identifier:
        return sql.Identifier(self.stage)

    def prepare_stage(self) -> sql.Composable:
        """Create the stage if this session has none yet, and empty it (a second upsert of the
        same shape in one transaction must not see the first one's rows)."""
        return sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {s} ON COMMIT DELETE ROWS AS SELECT {c} FROM {t}"
            " WITH NO DATA; DELETE FROM {s}"
        ).format(s=self.stage_id, c=_names(self.columns), t=sql.Identifier(self.table))

    def copy_stage(self) -> sql.Composable:
        return sql.SQL("COPY {} ({}) FROM STDIN").format(self.stage_id, _names(self.columns))

    def insert(self, *, deduplicated: bool) -> sql.Composable:
        source = sql.SQL("SELECT {} FROM {}").format(_names(self.columns), self.stage_id)
        if deduplicated:
            # The stage is filled by one COPY into a fresh heap, so ctid order is batch order.
            source = sql.SQL(
                "SELECT DISTINCT ON ({k}) {c} FROM {s} ORDER BY {k}, ctid DESC"
            ).format(k=_names(self.key), c=_names(self.columns), s=self.stage_id)
        head = sql.SQL("INSERT INTO {} AS t ({}) {} ON CONFLICT ({}) ").format(
            sql.Identifier(self.table), _names(self.columns), source, _names(self.key)
        )
        return head + self._action()

    def _action(self) -> sql.Composable:
        if not self.update:
            return sql.SQL("DO NOTHING")
        sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in self.update]
        if self.touch:
            sets.append(sql.SQL("updated_at = now()"))
        olds = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in self.update)
        news = sql.SQL(", ").join(
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in self.update
        )
        return sql.SQL("DO UPDATE SET {} WHERE ROW({}) IS DISTINCT FROM ROW({})").format(
            sql.SQL(", ").join(sets), olds, news
        )


def _names(columns: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def _months(start: datetime, end: datetime) -> Iterator[datetime]:
    month = start.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = end.astimezone(timezone.utc)
    while month <= last:
        yield month
        month = (month + timedelta(days=32)).replace(day=1)
