"""``save_recent`` (a cycle's bars in one statement) against a real PostgreSQL: the same
effect as ``BarStore.save_many``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE
from tests.services.test_database_service import settings_for

T0 = 1_709_546_400  # 2024-03-04 10:00 UTC
_accounts = itertools.count(7000)  # apart from the other modules sharing the database


@pytest.fixture(scope="module")
def database(pg_database: dict) -> Iterator[DatabaseService]:
    db = DatabaseService(settings_for(pg_database))
    db.start()
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def store(database: DatabaseService) -> BarStore:
    return BarStore(database, next(_accounts))


def rates(count: int, start: int = T0, close: float = 1.1) -> np.ndarray:
    made = np.zeros(count, RATES_DTYPE)
    made["time"] = start + 60 * np.arange(count)
    made["open"], made["high"], made["low"] = 1.1, 1.2, 1.0
    made["close"] = close + np.arange(count) / 1000
    made["tick_volume"], made["spread"], made["real_volume"] = 7, 2, 0
    return made


def save(store: BarStore, batches, marks=()) -> int:
    with store.transaction() as conn:
        return store.save_recent(conn, batches, list(marks))


def stored(database: DatabaseService, store: BarStore) -> list[tuple]:
    return database.fetch_all(
        "SELECT symbol, timeframe, EXTRACT(EPOCH FROM time)::bigint, open, high, low, close,"
        " tick_volume, spread, real_volume FROM bars WHERE account = %s ORDER BY 1, 2, 3",
        (store._account,),
    )


def watermarks(store: BarStore) -> dict:
    return store.watermarks()


def test_bars_of_several_series_are_stored_exactly(database, store) -> None:
    eurusd, gold = rates(3), rates(2, close=2000.123456789)

    assert save(store, [("EURUSD", "M1", eurusd), ("XAUUSD.b", "M1", gold)]) == 5

    rows = stored(database, store)
    assert [r[:3] for r in rows] == [("EURUSD", "M1", T0 + 60 * i) for i in range(3)] + [
        ("XAUUSD.b", "M1", T0 + 60 * i) for i in range(2)
    ]
    assert [r[6] for r in rows] == eurusd["close"].tolist() + gold["close"].tolist()
    assert rows[0][7:] == (7, 2, 0)


def test_the_same_batch_twice_changes_nothing_and_a_changed_bar_is_updated(database, store) -> None:
    batch = [("EURUSD", "M1", rates(3))]
    save(store, batch)
    before = database.fetch_all(
        "SELECT updated_at FROM bars WHERE account = %s ORDER BY time", (store._account,)
    )

    assert save(store, batch) == 0
    assert (
        database.fetch_all(
            "SELECT updated_at FROM bars WHERE account = %s ORDER BY time", (store._account,)
        )
        == before
    )
    changed = rates(3)
    changed["close"][1] = 1.5
    assert save(store, [("EURUSD", "M1", changed)]) == 1
    assert [r[6] for r in stored(database, store)] == changed["close"].tolist()


def test_a_key_repeated_in_the_batch_is_written_once_the_last_wins(database, store) -> None:
    first, second = rates(1, close=1.1), rates(1, close=1.3)

    assert save(store, [("EURUSD", "M1", first), ("EURUSD", "M1", second)]) == 1
    assert [r[6] for r in stored(database, store)] == [1.3]


def test_watermarks_move_with_the_bars_and_never_back(store) -> None:
    save(store, [("EURUSD", "M1", rates(2))], [("EURUSD", "M1", T0 + 60)])
    assert watermarks(store) == {("EURUSD", "M1"): T0 + 60}

    save(store, [], [("EURUSD", "M1", T0), ("GBPUSD", "M5", T0)])
    assert watermarks(store) == {("EURUSD", "M1"): T0 + 60, ("GBPUSD", "M5"): T0}


def test_names_that_need_quoting_in_an_array_literal(database, store) -> None:
    odd = ['EUR"USD', "EUR\\USD", "EUR,USD", "EUR USD", "{EUR}", "NULL"]

    save(store, [(name, "M1", rates(1)) for name in odd], [(n, "M1", T0) for n in odd])

    assert sorted(r[0] for r in stored(database, store)) == sorted(odd)
    assert sorted(s for s, _ in watermarks(store)) == sorted(odd)
