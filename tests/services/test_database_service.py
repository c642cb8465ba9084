"""DatabaseService against a real PostgreSQL: pool, errors, idempotent upserts, tick partitions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings
from bridge_v3.exceptions import StorageError
from bridge_v3.services.database_service import DatabaseService

BAR_COLUMNS = [
    "account", "symbol", "timeframe", "time", "open", "high", "low", "close",
    "tick_volume", "spread", "real_volume",
]  # fmt: skip
BAR_KEY = ["account", "symbol", "timeframe", "time"]
T0 = datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)
_accounts = itertools.count(1000)


def settings_for(params: dict, **overrides) -> PostgresSettings:
    values = dict(
        host=params["host"], port=params["port"], db=params["dbname"], user=params["user"],
        password=Secret(params["password"]), pool_min=1, pool_max=4,
    )  # fmt: skip
    values.update(overrides)
    return PostgresSettings(**values)


@pytest.fixture(scope="module")
def database(pg_database: dict) -> Iterator[DatabaseService]:
    db = DatabaseService(settings_for(pg_database))
    db.start()
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def account() -> int:
    """Each test writes under its own account, so tests sharing the database never collide."""
    return next(_accounts)


def bars(account: int, count: int, close: float = 1.1) -> list[tuple]:
    return [
        (account, "EURUSD", "M15", T0 + timedelta(minutes=15 * i),
         1.1, 1.2, 1.0, close + i / 1000, 100 + i, 2, 0)
        for i in range(count)
    ]  # fmt: skip


def stored_bars(db: DatabaseService, account: int) -> list[tuple]:
    return db.fetch_all(
        f"SELECT {', '.join(BAR_COLUMNS)} FROM bars WHERE account = %s ORDER BY time", (account,)
    )


def test_same_batch_twice_changes_nothing(database: DatabaseService, account: int) -> None:
    batch = bars(account, 5)

    first = database.upsert("bars", BAR_COLUMNS, batch, BAR_KEY)
    before = database.fetch_all("SELECT updated_at FROM bars WHERE account = %s", (account,))
    second = database.upsert("bars", BAR_COLUMNS, batch, BAR_KEY)

    assert (first, second) == (5, 0)
    assert stored_bars(database, account) == batch
    assert (
        database.fetch_all("SELECT updated_at FROM bars WHERE account = %s", (account,)) == before
    )


def test_changed_bar_is_updated_and_counted(database: DatabaseService, account: int) -> None:
    batch = bars(account, 4)
    database.upsert("bars", BAR_COLUMNS, batch, BAR_KEY)
    corrected = list(batch)
    corrected[2] = batch[2][:7] + (1.5,) + batch[2][8:]

    changed = database.upsert("bars", BAR_COLUMNS, corrected, BAR_KEY)

    assert changed == 1
    assert stored_bars(database, account) == corrected
    (moved,) = database.fetch_all(
        "SELECT count(*) FROM bars WHERE account = %s AND updated_at > inserted_at", (account,)
    )
    assert moved == (1,)


def test_update_subset_leaves_other_columns(database: DatabaseService, account: int) -> None:
    database.upsert("bars", BAR_COLUMNS, bars(account, 1), BAR_KEY)
    changed_row = bars(account, 1, close=2.0)[0][:4] + (9.0, 9.0, 9.0, 2.0, 1, 1, 1)

    database.upsert("bars", BAR_COLUMNS, [changed_row], BAR_KEY, update=["close"])

    (row,) = stored_bars(database, account)
    assert row[4:7] == (1.1, 1.2, 1.0) and row[7] == 2.0


def test_do_nothing_keeps_existing_rows(database: DatabaseService, account: int) -> None:
    database.upsert("bars", BAR_COLUMNS, bars(account, 2), BAR_KEY)

    inserted = database.upsert("bars", BAR_COLUMNS, bars(account, 3, close=5.0), BAR_KEY, update=[])

    assert inserted == 1
    assert [row[7] for row in stored_bars(database, account)] == [1.1, 1.101, 5.002]


@pytest.mark.parametrize("update", [None, []], ids=["do_update", "do_nothing"])
def test_repeated_key_in_batch_last_wins(database: DatabaseService, account: int, update) -> None:
    first, second = bars(account, 1, close=1.0)[0], bars(account, 1, close=3.0)[0]
    other = bars(account, 2)[1]

    count = database.upsert("bars", BAR_COLUMNS, [first, other, second], BAR_KEY, update)

    assert count == 2
    assert stored_bars(database, account) == [second, other]


def test_repeated_key_updating_an_existing_row(database: DatabaseService, account: int) -> None:
    original = bars(account, 1, close=1.0)[0]
    database.upsert("bars", BAR_COLUMNS, [original], BAR_KEY)
    changed, back = bars(account, 1, close=2.0)[0], original

    count = database.upsert("bars", BAR_COLUMNS, [changed, back], BAR_KEY)

    assert count == 0  # the batch's last word is the stored value
    assert stored_bars(database, account) == [original]


def test_nan_none_and_awkward_text_round_trip(database: DatabaseService, account: int) -> None:
    columns = ["account", "symbol", "description", "digits", "point", "volume_min", "volume_max"]
    rows = [
        (account, "NAN.X", None, None, math.nan, math.inf, -math.inf),
        (account, "TXT.X", "tab\there\nnew\\line \\N é", 5, 1e-5, 0.01, None),
        (account, "NONE", "None", 0, 0.0, None, 1e300),
    ]

    inserted = database.upsert("symbols", columns, rows, ["account", "symbol"])
    again = database.upsert("symbols", columns, rows, ["account", "symbol"])
    stored = database.fetch_all(
        f"SELECT {', '.join(columns)} FROM symbols WHERE account = %s ORDER BY symbol", (account,)
    )

    assert (inserted, again) == (3, 0)  # NaN is not distinct from NaN: no phantom update
    nan_row, none_row, text_row = stored
    assert nan_row[:4] == (account, "NAN.X", None, None) and math.isnan(nan_row[4])
    assert nan_row[5:] == (math.inf, -math.inf)
    assert text_row == rows[1]
    assert none_row == rows[2]


def test_numpy_columns(database: DatabaseService, account: int) -> None:
    times = np.array(["2024-03-04T10:00", "2024-03-04T10:15"], dtype="datetime64[ns]")
    data = {
        "account": [account, account], "symbol": ["EURUSD", "EURUSD"], "timeframe": ["M15"] * 2,
        "time": times, "open": np.array([1.25, np.nan]), "high": np.array([1.5, 1.5]),
        "low": np.array([1.0, 1.0]), "close": np.array([1.125, 1.375]),
        "tick_volume": np.array([7, 8], dtype=np.int64), "spread": np.array([1, 2], dtype=np.int32),
        "real_volume": np.zeros(2, dtype=np.int64),
    }  # fmt: skip

    count = database.upsert_columns("bars", data, BAR_KEY)

    first, second = stored_bars(database, account)
    assert count == 2
    assert first == (account, "EURUSD", "M15", T0, 1.25, 1.5, 1.0, 1.125, 7, 1, 0)
    assert second[3] == T0 + timedelta(minutes=15) and math.isnan(second[4])


def test_upsert_joins_the_callers_transaction(database: DatabaseService, account: int) -> None:
    with pytest.raises(RuntimeError), database.connection() as conn:
        database.upsert("bars", BAR_COLUMNS, bars(account, 3), BAR_KEY, conn=conn)
        raise RuntimeError("the watermark write failed")

    assert stored_bars(database, account) == []


def test_sql_error_becomes_storage_error_and_pool_recovers(database: DatabaseService) -> None:
    with pytest.raises(StorageError, match="no_such_table"):
        database.fetch_all("SELECT * FROM no_such_table")

    assert database.fetch_all("SELECT 41 + 1") == [(42,)]
    assert database.health()


def test_unreachable_names_host_and_port_but_not_password(pg_database: dict) -> None:
    secret = "Pa55-word-never-shown"
    db = DatabaseService(settings_for(pg_database, port=1, password=Secret(secret)))

    with pytest.raises(StorageError) as caught:
        db.start()

    text = str(caught.value)
    assert "PostgreSQL unreachable at" in text and f"{pg_database['host']}:1/" in text
    assert secret not in text and secret not in repr(caught.value) and secret not in repr(db)
    assert db.health() is False


def test_health_is_false_after_close(pg_database: dict) -> None:
    db = DatabaseService(settings_for(pg_database))
    db.start()
    alive = db.health()
    db.close()

    assert alive and not db.health()
    with pytest.raises(StorageError):
        db.fetch_all("SELECT 1")


def test_tick_partitions_created_and_default_rows_moved(
    database: DatabaseService, account: int
) -> None:
    columns = ["account", "symbol", "time", "time_msc", "ordinal", "bid", "ask"]
    early = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
    database.upsert("ticks", columns, [(account, "EURUSD", early, 0, 0, 1.1, 1.2)],
                    ["account", "symbol", "time", "ordinal"], update=[])  # fmt: skip

    names = database.ensure_tick_partitions(datetime(2031, 1, 31, tzinfo=timezone.utc), early)
    again = database.ensure_tick_partitions(early, early)

    assert names == ["ticks_203101", "ticks_203102"] and again == ["ticks_203102"]
    holder = database.fetch_all(
        "SELECT tableoid::regclass::text, time FROM ticks WHERE account = %s", (account,)
    )
    assert holder == [("ticks_203102", early)]


def test_identical_millisecond_ticks_all_kept(database: DatabaseService, account: int) -> None:
    moment = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
    database.ensure_tick_partitions(moment, moment)
    columns = ["account", "symbol", "time", "time_msc", "ordinal", "bid", "ask"]
    key = ["account", "symbol", "time", "ordinal"]
    ticks = [
        (account, "EURUSD", moment, 1, ordinal, 1.1 + ordinal / 1e4, 1.2) for ordinal in range(3)
    ]

    first = database.upsert("ticks", columns, ticks, key, update=[])
    replay = database.upsert("ticks", columns, ticks, key, update=[])

    assert (first, replay) == (3, 0)
    assert database.fetch_all("SELECT count(*) FROM ticks WHERE account = %s", (account,)) == [(3,)]
