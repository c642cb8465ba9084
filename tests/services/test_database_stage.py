"""Upserts without catalog churn and from many threads, and tick partitions made by two
sessions at once: defects found in long runs, each reproduced here first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import psycopg2
import pytest

from bridge_v3.services.database_service import DatabaseService, _Merge
from tests.services.test_database_service import BAR_COLUMNS, BAR_KEY, bars, settings_for

ACCOUNT = 4242


@pytest.fixture(scope="module")
def one_connection(pg_database: dict) -> Iterator[DatabaseService]:
    """A service with a single pooled connection, so every call uses the same session."""
    db = DatabaseService(settings_for(pg_database, pool_min=1, pool_max=1))
    db.start()
    db.migrate()
    yield db
    db.close()


def stage_tables(db: DatabaseService) -> list[int]:
    return [
        oid
        for (oid,) in db.fetch_all(
            "SELECT oid FROM pg_class WHERE relname LIKE '\\_bridge\\_stage%%'"
            " AND relpersistence = 't' AND pg_table_is_visible(oid) ORDER BY oid"
        )
    ]


def test_small_upserts_reuse_one_stage_table_per_session(one_connection: DatabaseService) -> None:
    snapshot = ("account", "time", "balance", "equity")
    row = (ACCOUNT, datetime(2026, 1, 5, 10, tzinfo=timezone.utc), 1000.0, 1000.0)

    one_connection.upsert("account_snapshots", snapshot, [row], ("account", "time"))
    first = stage_tables(one_connection)
    for minute in range(1, 4):
        later = (ACCOUNT, row[1].replace(minute=minute), 1000.0, 999.0 + minute)
        one_connection.upsert("account_snapshots", snapshot, [later], ("account", "time"))

    assert len(first) == 1 and stage_tables(one_connection) == first  # made once, kept
    stored = one_connection.fetch_all(
        "SELECT count(*) FROM account_snapshots WHERE account = %s", (ACCOUNT,)
    )
    assert stored == [(4,)]


def test_two_upserts_of_one_shape_in_one_transaction_do_not_mix(
    one_connection: DatabaseService,
) -> None:
    first, second = bars(ACCOUNT + 1, 3), bars(ACCOUNT + 2, 2)

    with one_connection.connection() as conn:
        counts = [
            one_connection.upsert("bars", BAR_COLUMNS, batch, BAR_KEY, conn=conn)
            for batch in (first, second)
        ]

    assert counts == [3, 2]
    rows = one_connection.fetch_all(
        "SELECT account, count(*) FROM bars WHERE account IN (%s, %s) GROUP BY 1 ORDER BY 1",
        (ACCOUNT + 1, ACCOUNT + 2),
    )
    assert rows == [(ACCOUNT + 1, 3), (ACCOUNT + 2, 2)]


def test_upserts_from_many_threads_at_once(pg_database: dict) -> None:
    db = DatabaseService(settings_for(pg_database, pool_min=1, pool_max=4))
    db.start()
    errors: list[BaseException] = []

    def write(account: int) -> None:
        try:
            for n in range(5):
                db.upsert("bars", BAR_COLUMNS, bars(account, n + 1), BAR_KEY)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=write, args=(ACCOUNT + 10 + t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = db.fetch_all(
        "SELECT count(*) FROM bars WHERE account BETWEEN %s AND %s", (ACCOUNT + 10, ACCOUNT + 17)
    )
    db.close()

    assert errors == [] and stored == [(8 * 5,)]


def test_stage_names_are_made_safely_from_many_threads() -> None:
    """A shared generator raised 'generator already executing' under four threads."""
    errors: list[BaseException] = []

    def make() -> None:
        try:
            for _ in range(50_000):
                _Merge("bars", BAR_COLUMNS, BAR_KEY, BAR_COLUMNS[4:])
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []


def test_two_sessions_making_the_same_tick_partition(pg_database: dict) -> None:
    db = DatabaseService(settings_for(pg_database, pool_min=1, pool_max=2))
    db.start()
    month = datetime(2040, 11, 10, tzinfo=timezone.utc)  # no other test uses it
    first = psycopg2.connect(**pg_database)
    outcome: list[object] = []
    with first.cursor() as cur:
        cur.execute("SELECT ensure_tick_partition(%s)", (month,))  # made, not yet committed
    second = threading.Thread(
        target=lambda: outcome.append(_attempt(lambda: db.ensure_tick_partitions(month, month)))
    )
    second.start()
    _wait_for_a_waiting_advisory_lock(db)
    first.commit()
    second.join(timeout=30)
    first.close()
    db.close()

    assert outcome == [["ticks_204011"]]


def _attempt(action):
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - the outcome is asserted
        return error


def _wait_for_a_waiting_advisory_lock(db: DatabaseService) -> None:
    deadline = time.monotonic() + 20
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    while db.fetch_all(query) != [(1,)]:
        assert time.monotonic() < deadline, "the second session never waited for the lock"
        time.sleep(0.02)
