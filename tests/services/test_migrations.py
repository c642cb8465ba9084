"""Migrations on a fresh real database: apply, re-run, checksums, numbering, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings
from bridge_v3.exceptions import MigrationError
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.migrations import MIGRATIONS_DIR

DOCUMENTED_TABLES = {
    "symbols", "bars", "bar_watermarks", "bar_quarantine", "ticks", "tick_watermarks",
    "account_snapshots", "positions", "orders", "deals", "signals", "order_intents",
    "risk_events", "daily_performance", "bridge_state", "schema_migrations",
}  # fmt: skip
SHIPPED = sorted(path.name for path in MIGRATIONS_DIR.glob("*.sql"))
EXTRA = f"{len(SHIPPED) + 1:03d}_extra.sql"  # the next free number after the shipped files


@pytest.fixture
def db(fresh_database: dict) -> Iterator[DatabaseService]:
    service = DatabaseService(
        PostgresSettings(
            host=fresh_database["host"],
            port=fresh_database["port"],
            db=fresh_database["dbname"],
            user=fresh_database["user"],
            password=Secret(fresh_database["password"]),
            pool_min=1,
            pool_max=3,
        )  # fmt: skip
    )
    service.start()
    yield service
    service.close()


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped migrations that a test may edit."""
    target = tmp_path / "migrations"
    target.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, target / path.name)
    return target


def tables(db: DatabaseService) -> set[str]:
    rows = db.fetch_all(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT LIKE 'ticks\\_%%'"
    )
    return {name for (name,) in rows}


def test_fresh_database_gets_every_documented_table(db: DatabaseService) -> None:
    applied = db.migrate()

    assert applied == SHIPPED and SHIPPED[0] == "001_initial.sql"
    assert tables(db) >= DOCUMENTED_TABLES


def test_applied_file_is_recorded_with_its_sha256(db: DatabaseService) -> None:
    db.migrate()

    rows = db.fetch_all("SELECT version, name, checksum, applied_at FROM schema_migrations")

    expected = [
        (n, name, hashlib.sha256((MIGRATIONS_DIR / name).read_bytes()).hexdigest())
        for n, name in enumerate(SHIPPED, start=1)
    ]
    assert sorted((v, n, c) for v, n, c, _ in rows) == expected
    assert rows[0][3] is not None


def test_rerun_is_a_no_op(db: DatabaseService) -> None:
    db.migrate()
    before = db.fetch_all("SELECT * FROM schema_migrations")

    assert db.migrate() == []
    assert db.fetch_all("SELECT * FROM schema_migrations") == before


def test_new_file_is_applied_after_the_others(db: DatabaseService, migrations_copy: Path) -> None:
    db.migrate(migrations_copy)
    (migrations_copy / EXTRA).write_text("CREATE TABLE extra (id int PRIMARY KEY);")

    applied = db.migrate(migrations_copy)

    assert applied == [EXTRA]
    assert "extra" in tables(db)
    versions = db.fetch_all("SELECT version FROM schema_migrations ORDER BY 1")
    assert versions == [(n,) for n in range(1, len(SHIPPED) + 2)]


def test_changed_applied_file_raises(db: DatabaseService, migrations_copy: Path) -> None:
    db.migrate(migrations_copy)
    edited = migrations_copy / "001_initial.sql"
    edited.write_text(edited.read_text() + "\n-- edited after release\n")

    with pytest.raises(MigrationError, match="001_initial.sql changed"):
        db.migrate(migrations_copy)


def test_numbering_gap_raises(db: DatabaseService, migrations_copy: Path) -> None:
    (migrations_copy / f"{len(SHIPPED) + 2:03d}_skipped_one.sql").write_text("SELECT 1;")

    with pytest.raises(MigrationError, match="gap"):
        db.migrate(migrations_copy)

    assert "bars" not in tables(db)


def test_unknown_applied_version_raises(db: DatabaseService, migrations_copy: Path) -> None:
    (migrations_copy / EXTRA).write_text("SELECT 1;")
    db.migrate(migrations_copy)
    (migrations_copy / EXTRA).unlink()

    with pytest.raises(MigrationError, match="newer than the code"):
        db.migrate(migrations_copy)


def test_failing_file_is_rolled_back_whole(db: DatabaseService, migrations_copy: Path) -> None:
    db.migrate(migrations_copy)
    broken = EXTRA.replace("extra", "broken")
    (migrations_copy / broken).write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_column FROM bars;"
    )

    with pytest.raises(MigrationError, match=broken):
        db.migrate(migrations_copy)

    assert "half_done" not in tables(db)
    assert db.fetch_all("SELECT max(version) FROM schema_migrations") == [(len(SHIPPED),)]


def test_concurrent_runs_apply_once(db: DatabaseService) -> None:
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(db.migrate())) for _ in range(2)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [[], SHIPPED]


MIGRATE_CHILD = """
import json, sys
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings
from bridge_v3.services.database_service import DatabaseService
params = json.loads(sys.argv[1])
service = DatabaseService(PostgresSettings(
    host=params["host"], port=params["port"], db=params["dbname"], user=params["user"],
    password=Secret(params["password"]), pool_min=1, pool_max=2))
service.start()
print(json.dumps(service.migrate()))
service.close()
"""


def test_bridges_starting_together_in_processes_migrate_once(fresh_database: dict) -> None:
    """Six processes, each its own connections, migrate one fresh database at once: every
    one succeeds, exactly one applies the files, and each file is recorded once."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_CHILD, json.dumps(fresh_database)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outcomes = [child.communicate(timeout=120) for child in children]

    assert [child.returncode for child in children] == [0] * 6, [err for _, err in outcomes]
    applied = sorted(json.loads(out) for out, _ in outcomes)
    assert applied == [[]] * 5 + [SHIPPED]
    db = DatabaseService(
        PostgresSettings(
            host=fresh_database["host"],
            port=fresh_database["port"],
            db=fresh_database["dbname"],
            user=fresh_database["user"],
            password=Secret(fresh_database["password"]),
            pool_min=1,
            pool_max=1,
        )
    )
    db.start()
    try:
        recorded = db.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        assert recorded == [(n,) for n in range(1, len(SHIPPED) + 1)]
        assert tables(db) >= DOCUMENTED_TABLES
    finally:
        db.close()
