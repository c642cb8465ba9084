"""TickStore against a real PostgreSQL: ordinals, idempotent saves, partitions, watermarks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone

import numpy as np
import pytest

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.contract.dtypes import TICKS_DTYPE
from bridge_v3.services.tick_store import TickMark, TickStore, tick_ordinals

T0 = int(datetime(2026, 3, 25, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
_accounts = itertools.count(5000)


@pytest.fixture(scope="module")
def database(pg_database: dict) -> Iterator[DatabaseService]:
    db = DatabaseService(
        PostgresSettings(
            host=pg_database["host"],
            port=pg_database["port"],
            db=pg_database["dbname"],
            user=pg_database["user"],
            password=Secret(pg_database["password"]),
            pool_min=1,
            pool_max=4,
        )
    )
    db.start()
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def store(database: DatabaseService) -> TickStore:
    """A store under an account of its own, so tests sharing the database never collide."""
    return TickStore(database, next(_accounts))


def make_ticks(times_msc: list[int], first_bid: float = 1.1) -> np.ndarray:
    ticks = np.zeros(len(times_msc), dtype=TICKS_DTYPE)
    ticks["time_msc"] = times_msc
    ticks["time"] = np.asarray(times_msc) // 1000
    ticks["bid"] = first_bid + np.arange(len(times_msc)) / 10_000
    ticks["ask"] = ticks["bid"] + 0.0002
    ticks["flags"] = 6
    ticks["volume"] = np.arange(len(times_msc))
    ticks["volume_real"] = np.arange(len(times_msc)) / 2
    return ticks


def stored(database: DatabaseService, store: TickStore) -> list[tuple]:
    return database.fetch_all(
        "SELECT time_msc, ordinal, bid, ask, volume, flags, volume_real,"
        " (EXTRACT(EPOCH FROM time) * 1000)::bigint, tableoid::regclass::text"
        " FROM ticks WHERE account = %s ORDER BY time, ordinal",
        (store._account,),
    )


def test_ordinals_count_ticks_within_each_millisecond():
    times = np.array([5, 5, 6, 7, 7, 7, 9])
    assert tick_ordinals(times).tolist() == [0, 1, 0, 0, 1, 2, 0]
    assert tick_ordinals(np.array([], dtype=np.int64)).tolist() == []


def test_ticks_sharing_a_millisecond_are_all_kept_with_their_values(database, store):
    times = [T0, T0, T0, T0 + 1, T0 + 250, T0 + 250]
    ticks = make_ticks(times)

    written = store.save("EURUSD", ticks)

    rows = stored(database, store)
    assert written == 6
    assert [(r[0], r[1]) for r in rows] == [
        (T0, 0), (T0, 1), (T0, 2), (T0 + 1, 0), (T0 + 250, 0), (T0 + 250, 1)
    ]  # fmt: skip
    assert [r[2] for r in rows] == ticks["bid"].tolist()
    assert [r[3] for r in rows] == ticks["ask"].tolist()
    assert [(r[4], r[5], r[6]) for r in rows] == [(i, 6, i / 2) for i in range(6)]
    assert [r[7] for r in rows] == times  # ``time`` keeps the millisecond, in UTC
    assert {r[8] for r in rows} == {"ticks_202603"}


def test_saving_again_or_overlapping_changes_nothing(database, store):
    first = make_ticks([T0, T0 + 5, T0 + 5])
    store.save("EURUSD", first)
    before = stored(database, store)

    again = store.save("EURUSD", first)
    # The next fetch restarts at the last millisecond: its two ticks come again, plus new ones.
    overlapping = np.concatenate((first[1:], make_ticks([T0 + 5, T0 + 9], first_bid=1.2)))

    assert again == 0
    assert store.save("EURUSD", overlapping) == 2
    rows = stored(database, store)
    assert rows[:3] == before
    assert [(r[0], r[1]) for r in rows[3:]] == [(T0 + 5, 2), (T0 + 9, 0)]


def test_unsorted_batches_are_stored_in_time_order(database, store):
    store.save("EURUSD", make_ticks([T0 + 3, T0 + 1, T0 + 3]))
    assert [(r[0], r[1]) for r in stored(database, store)] == [
        (T0 + 1, 0),
        (T0 + 3, 0),
        (T0 + 3, 1),
    ]


def test_batches_across_a_month_go_to_their_monthly_partitions(database, store):
    june_end = int(datetime(2031, 6, 30, 23, 59, 59, tzinfo=timezone.utc).timestamp() * 1000)
    store.save("BTCUSD", make_ticks([june_end + 998, june_end + 999, june_end + 1000]))
    partitions = [r[8] for r in stored(database, store)]
    assert partitions == ["ticks_203106", "ticks_203106", "ticks_203107"]


def test_watermark_moves_forward_only_and_knows_the_ticks_of_its_millisecond(database, store):
    store.save("EURUSD", make_ticks([T0, T0 + 7, T0 + 7, T0 + 7]))
    store.save("BTCUSD", make_ticks([T0 + 2]))

    store.advance_watermark("EURUSD", T0 + 7)
    store.advance_watermark("EURUSD", T0)  # never back
    store.advance_watermark("BTCUSD", T0 + 2)
    other = TickStore(database, next(_accounts))

    assert store.watermarks() == {"EURUSD": TickMark(T0 + 7, 3), "BTCUSD": TickMark(T0 + 2, 1)}
    assert other.watermarks() == {}


def test_empty_batch_writes_nothing(database, store):
    assert store.save("EURUSD", make_ticks([])) == 0
    assert stored(database, store) == []


def test_ticks_past_the_watermark_are_appended_and_the_rest_merged(database, store):
    first = make_ticks([T0, T0 + 5, T0 + 5])
    store.save("EURUSD", first, new_after=T0 - 1)
    # The watermark is T0 + 5 (two ticks there); the next fetch restarts at that millisecond.
    overlapping = np.concatenate((first[1:], make_ticks([T0 + 5, T0 + 9, T0 + 9], 1.2)))

    written = store.save("EURUSD", overlapping, new_after=T0 + 5)

    rows = stored(database, store)
    assert written == 3  # the third tick of T0 + 5 (merged) and the two of T0 + 9 (appended)
    assert [(r[0], r[1]) for r in rows] == [
        (T0, 0), (T0 + 5, 0), (T0 + 5, 1), (T0 + 5, 2), (T0 + 9, 0), (T0 + 9, 1)
    ]  # fmt: skip


def test_a_wrong_watermark_falls_back_to_the_merge_and_changes_nothing(database, store):
    ticks = make_ticks([T0, T0 + 1, T0 + 1, T0 + 7])
    store.save("EURUSD", ticks)
    before = stored(database, store)

    # Told every tick is new although all are stored: the COPY meets the primary key,
    # is rolled back, and the merge finds nothing to change.
    with store.transaction() as conn:
        again = store.save("EURUSD", ticks, conn=conn, new_after=T0 - 1)
        conn.cursor().execute("SELECT 1")  # the transaction is still usable

    assert again == 0
    assert stored(database, store) == before


def test_the_binary_append_stores_exactly_what_the_merge_stores(database):
    merged, appended = TickStore(database, next(_accounts)), TickStore(database, next(_accounts))
    ticks = make_ticks([T0, T0, T0 + 1, T0 + 86_400_000 * 40])  # two monthly partitions
    ticks["last"] = [0.0, 1.5, float("nan"), 2.25]
    ticks["volume"][-1] = 2**40
    ticks["flags"][-1] = 2**30

    assert merged.save("EUR/USD.é", ticks) == 4  # merged (no watermark given)
    assert appended.save("EUR/USD.é", ticks, new_after=T0 - 1) == 4  # appended (binary COPY)

    def rows(store):
        extra = database.fetch_all(
            "SELECT symbol, last FROM ticks WHERE account = %s ORDER BY time, ordinal",
            (store._account,),
        )
        return [(*row, *more) for row, more in zip(stored(database, store), extra, strict=True)]

    assert repr(rows(appended)) == repr(rows(merged))  # repr: NaN equals NaN
    assert {r[8] for r in rows(appended)} == {"ticks_202603", "ticks_202605"}
