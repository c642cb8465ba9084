"""BarStore.save_range against a real PostgreSQL: a backfill chunk stored by COPY when its
range is new, by a merge of only what differs when it is not, idempotent either way."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.copy_binary import HEADER, TRAILER, bars_copy, read_stored
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE
from tests.services.test_database_service import settings_for

T0 = 1_709_546_400  # 2024-03-04 10:00 UTC
_accounts = itertools.count(6000)  # apart from the other modules sharing the database


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


def rates(count: int, start: int = T0) -> np.ndarray:
    out = np.zeros(count, dtype=RATES_DTYPE)
    out["time"] = start + 60 * np.arange(count)
    out["open"] = 1.1 + np.arange(count) / 7  # not exact in binary: must survive bit for bit
    out["high"], out["low"], out["close"] = out["open"] + 0.01, out["open"] - 0.01, 1 / 3
    out["tick_volume"], out["spread"], out["real_volume"] = np.arange(count) + 10, 2, 2**40
    return out


def span(bars: np.ndarray) -> tuple[int, int]:
    return int(bars["time"][0]), int(bars["time"][-1])


def stored(store: BarStore) -> list[tuple]:
    return store._database.fetch_all(
        "SELECT symbol, timeframe, EXTRACT(EPOCH FROM time)::bigint, open, high, low, close,"
        " tick_volume, spread, real_volume FROM bars WHERE account = %s ORDER BY time",
        (store._account,),
    )


def expected(bars: np.ndarray, symbol: str = "EURUSD", timeframe: str = "M1") -> list[tuple]:
    return [(symbol, timeframe, *row) for row in bars.tolist()]


def merges(store: BarStore, monkeypatch) -> list[int]:
    """Sizes of the batches ``store`` sends through the merge from now on."""
    sizes = []
    merge = store.save_many

    def spy(conn, batches, watermarks):
        sizes.extend(len(r) for _, _, r in batches)
        return merge(conn, batches, watermarks)

    monkeypatch.setattr(store, "save_many", spy)
    return sizes


def test_a_new_range_is_stored_exactly_without_a_merge(store: BarStore, monkeypatch) -> None:
    bars = rates(500)
    merged = merges(store, monkeypatch)
    assert store.save_range("EURUSD", "M1", bars, span(bars), [("EURUSD", "M1", 0)]) == 500
    assert stored(store) == expected(bars)
    assert merged == []


def test_a_range_stored_again_writes_nothing(store: BarStore, monkeypatch) -> None:
    bars = rates(300)
    store.save_range("EURUSD", "M1", bars, span(bars), [])
    merged = merges(store, monkeypatch)
    before = store._database.fetch_all(
        "SELECT updated_at FROM bars WHERE account = %s ORDER BY time", (store._account,)
    )
    assert store.save_range("EURUSD", "M1", bars, span(bars), []) == 0
    after = store._database.fetch_all(
        "SELECT updated_at FROM bars WHERE account = %s ORDER BY time", (store._account,)
    )
    assert stored(store) == expected(bars)
    assert after == before
    assert sum(merged) == 0


def test_only_changed_and_missing_bars_are_written(store: BarStore, monkeypatch) -> None:
    bars = rates(100)
    store.save_range("EURUSD", "M1", np.delete(bars, [10, 11]), span(bars), [])
    merged = merges(store, monkeypatch)
    corrected = bars.copy()
    corrected["close"][50] += 0.0001
    assert store.save_range("EURUSD", "M1", corrected, span(bars), []) == 3
    assert stored(store) == expected(corrected)
    assert merged == [3]


def test_other_series_in_the_range_do_not_count_as_stored(store: BarStore) -> None:
    bars = rates(50)
    store.save_range("EURUSD", "M1", bars, span(bars), [])
    assert store.save_range("GBPUSD", "M1", bars, span(bars), []) == 50
    assert store.save_range("EURUSD", "M5", bars, span(bars), []) == 50
    assert len(stored(store)) == 150


def test_a_bar_stored_meanwhile_sends_the_copy_through_the_merge(
    store: BarStore, monkeypatch
) -> None:
    bars = rates(40)
    store.save("EURUSD", "M1", bars[20:21])
    # Another writer's row, not seen by the read: the COPY hits the primary key.
    monkeypatch.setattr(store, "_read_range", lambda *args: read_stored(HEADER + TRAILER))
    assert store.save_range("EURUSD", "M1", bars, span(bars), []) == 39
    assert stored(store) == expected(bars)


def test_the_watermark_moves_with_the_bars(store: BarStore) -> None:
    bars = rates(10)
    store.save_range("EURUSD", "M1", bars, span(bars), [("EURUSD", "M1", int(bars["time"][-1]))])
    assert store.watermarks() == {("EURUSD", "M1"): int(bars["time"][-1])}


def test_binary_copy_round_trips_awkward_values(database: DatabaseService) -> None:
    bars = rates(3)
    bars["open"] = [math.pi, 1e-300, -0.0]
    bars["time"] = [0, 946_684_800, 4_102_444_800]  # 1970, 2000 (the binary epoch), 2100
    account = next(_accounts)
    data = bars_copy(account, "XAUUSD.é", "MN1", bars)
    with database.connection() as conn, conn.cursor() as cursor:
        cursor.copy_expert(
            "COPY bars (account, symbol, timeframe, time, open, high, low, close, tick_volume,"
            " spread, real_volume) FROM STDIN (FORMAT binary)",
            io.BytesIO(data),
        )
    with database.connection() as conn:
        back = BarStore(database, account)._read_range(conn, "XAUUSD.é", "MN1", (0, 4_102_444_800))
    assert back.tolist() == bars[list(back.dtype.names)].tolist()
    assert np.signbit(back["open"][2])
