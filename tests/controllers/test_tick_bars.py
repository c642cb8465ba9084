"""Ticks stored from the simulated terminal, aggregated into bars, equal the terminal's own bars
(bid-based, as MT5 builds forex bars) and pandas resample of the same ticks: on generated
prices, across both daylight-saving changes of a Europe/Athens server clock, and on replayed
real prices."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.tick_aggregation import aggregate_ticks
from bridge_v3.services.database_service import DatabaseService
from tests.controllers.tick_support import bar_rows, open_database, open_rig

CSV = Path(__file__).resolve().parents[1] / "data" / "EURUSD_H1.csv"
WINDOW = 600  # seconds before the first sync that it fetches
PANDAS_RULES = {"M1": "1min", "M5": "5min", "H1": "1h"}


def at(*fields: int) -> float:
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


# name: (first sync UTC, sync every (s), syncs, symbols, timeframes, replays)
SCENARIOS = {
    # An ordinary Wednesday: a forex pair and a 24/7 symbol.
    "weekday": (at(2026, 3, 25, 10, 0, 30), 397, 7, ("EURUSD", "BTCUSD"), ("M1", "M5"), None),
    # Sunday 29 March 2026 01:00 UTC: the server clock jumps from 03:00 to 04:00.
    "spring-dst": (at(2026, 3, 29, 0, 35), 419, 8, ("BTCUSD",), ("M1", "M5"), None),
    # Sunday 25 October 2026 01:00 UTC: the server clock goes back from 04:00 to 03:00 and
    # shows the 03:00 hour twice; syncs run during the repeated hour too.
    "autumn-dst": (at(2026, 10, 25, 0, 35), 600, 13, ("BTCUSD",), ("M1", "M5"), None),
    # Real EURUSD hours from a price file, ticks drawn inside them (server time: file time).
    "replay": (at(2017, 11, 15, 9, 2, 10), 900, 13, ("EURUSD",), ("M1", "M5", "H1"), CSV),
}
# The moment each daylight-saving scenario crosses: ticks must be stored on both sides.
CHANGES = {"spring-dst": at(2026, 3, 29, 1), "autumn-dst": at(2026, 10, 25, 1)}


@pytest.fixture(scope="module")
def database(pg_database: dict) -> Iterator[DatabaseService]:
    db = open_database(pg_database)
    yield db
    db.close()


def closed_in_window(rows: list[tuple], seconds: int, first: float, now: float) -> list[tuple]:
    """Bars of whole periods inside [first, now]: started at or after ``first``, ended by now."""
    return [r for r in rows if r[0] >= first and r[0] + seconds <= now]


def pandas_bars(msc: np.ndarray, bid: np.ndarray, rule: str) -> list[tuple]:
    series = pd.Series(bid, index=pd.to_datetime(msc, unit="ms", utc=True))
    grouped = series.resample(rule, label="left", closed="left")
    ohlc, count = grouped.ohlc(), grouped.count()
    keep = (count > 0).to_numpy()
    times = ohlc.index.as_unit("s").asi8[keep]
    columns = [ohlc[name].to_numpy()[keep].tolist() for name in ("open", "high", "low", "close")]
    return list(zip(times.tolist(), *columns, count.to_numpy()[keep].tolist(), strict=True))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_bars_from_stored_ticks_equal_the_terminal_bars_and_pandas(
    scenario, database, redis_prefix, tmp_path
):
    start, every, syncs, symbols, timeframes, replay = SCENARIOS[scenario]
    replays = {"EURUSD": str(replay)} if replay else None
    with open_rig(database, redis_prefix, tmp_path, start, replays=replays, symbols=symbols) as rig:
        controller = rig.controller(symbols)
        for _ in range(syncs):
            for symbol in symbols:
                controller.sync(symbol)
            rig.clock.advance(every)
        now = rig.clock.now() - every  # the last sync's moment
        first = start - WINDOW

        for symbol in symbols:
            stored = rig.stored(symbol)
            assert stored == rig.terminal_ticks(symbol, int(first * 1000), int(now * 1000))
            msc = np.array([row[0] for row in stored], dtype=np.int64)
            bid = np.array([row[1] for row in stored], dtype=np.float64)
            change = CHANGES.get(scenario, start) * 1000
            assert msc[0] < change < msc[-1]
            for name in timeframes:
                timeframe = TIMEFRAMES[name]
                seconds = timeframe.seconds
                aligned = math.ceil(first / seconds) * seconds
                ours = bar_rows(*_split(aggregate_ticks(msc, bid, timeframe)))
                ours = closed_in_window(ours, seconds, aligned, now)
                theirs = rig.terminal_bars(symbol, timeframe, aligned, int(now))
                independent = pandas_bars(msc, bid, PANDAS_RULES[name])
                assert len(theirs) >= 3, (symbol, name)
                assert ours == theirs, (symbol, name)
                assert closed_in_window(independent, seconds, aligned, now) == theirs


def _split(bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return bars["time"].astype(np.int64), bars
