"""Applies numbered SQL migrations in order and records them in ``schema_migrations``.

Each file runs in its own transaction, so a failing file leaves the schema as the previous
one left it. A session advisory lock serialises bridges starting together on one database.
An applied file whose text changed, or a numbering gap, stops start-up (MigrationError):
the schema is public and must never drift silently.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from bridge_v3.exceptions import MigrationError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
_FILE_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every bridge sharing the database.
_LOCK_KEY = 0x62726964_67653376  # "bridge3v"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name, e.g. "001_initial.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """The migration files of ``directory`` by version; numbering must run 1, 2, 3, ..."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name!r} is not named NNN_name.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration numbering has a gap or duplicate: expected {expected:03d}, "
                f"found {migration.name}"
            )
    return found


class MigrationRunner:
    """Brings one database up to date. ``conn`` is a psycopg2 connection owned by the caller."""

    def __init__(self, conn, directory: Path = MIGRATIONS_DIR) -> None:
        self._conn = conn
        self._directory = directory

    def run(self) -> list[str]:
        """Apply every pending migration; return the file names applied now (in order)."""
        migrations = load_migrations(self._directory)
        self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            self._in_transaction(lambda cur: cur.execute(_CREATE_TABLE))
            pending = self._pending(migrations, self._applied())
            for migration in pending:
                self._apply(migration)
            return [m.name for m in pending]
        finally:
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))

    def _applied(self) -> dict[int, tuple[str, str]]:
        with self._conn.cursor() as cur:
            cur.execute("SELECT version, name, checksum FROM schema_migrations")
            return {version: (name, checksum) for version, name, checksum in cur.fetchall()}

    @staticmethod
    def _pending(migrations: list[Migration], applied: dict) -> list[Migration]:
        known = {m.version: m for m in migrations}
        for version, (name, checksum) in sorted(applied.items()):
            migration = known.get(version)
            if migration is None:
                raise MigrationError(
                    f"database has migration {name} that this bridge does not know: "
                    "the database is newer than the code"
                )
            if migration.checksum != checksum:
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied "
                    f"(checksum {checksum[:12]}... in the database, "
                    f"{migration.checksum[:12]}... on disk); add a new migration instead"
                )
        pending = [m for m in migrations if m.version not in applied]
        if applied and pending and pending[0].version < max(applied):
            raise MigrationError(
                f"migration {pending[0].name} is older than the newest applied one "
                f"({max(applied):03d}): migrations must be added at the end"
            )
        return pending

    def _apply(self, migration: Migration) -> None:
        def apply(cur) -> None:
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )

        try:
            self._in_transaction(apply)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            raise  # the database went away: a storage problem, not a bad migration
        except psycopg2.Error as error:
            raise MigrationError(f"migration {migration.name} failed: {error}") from error
        logger.info("Applied database migration %s", migration.name)

    def _in_transaction(self, body) -> None:
        self._conn.autocommit = False
        try:
            with self._conn.cursor() as cur:
                body(cur)
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        finally:
            self._conn.autocommit = True
