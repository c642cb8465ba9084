"""Consistency across the Europe/Athens clock changes (last Sundays of March and October)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.market import Market
from tests.simulator.market_support import TF, as_tuples, reference_aggregate, utc

ATHENS = ZoneInfo("Europe/Athens")
SPRING_DAY, AUTUMN_DAY = (2024, 3, 31), (2024, 10, 27)  # server dates of the changes
ALL = -1


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(ManualClock(utc(2024, 11, 20, 12)), BrokerTime(), seed=3)


def server_day(year: int, month: int, day: int) -> int:
    return int(utc(year, month, day))


def week_around(day: tuple[int, int, int]) -> tuple[int, int]:
    start = server_day(*day) - 4 * 86_400
    return start, start + 9 * 86_400 - 1


@pytest.mark.parametrize("day", [SPRING_DAY, AUTUMN_DAY])
@pytest.mark.parametrize("name", ["BTCUSD", "EURUSD"])
@pytest.mark.parametrize("timeframe", ["H1", "H4", "D1", "W1"])
def test_aggregation_holds_across_the_change(market, day, name, timeframe):
    start, end = week_around(day)
    start = server_day(*day) - 7 * 86_400  # a Sunday: opens a bar of every timeframe here
    # A bar opening before ``end`` is returned whole, so take M1 bars a week further.
    m1 = market.rates_range(name, TF["M1"], start, end + 7 * 86_400)
    expected = [bar for bar in reference_aggregate(m1, timeframe) if bar[0] <= end]
    assert as_tuples(market.rates_range(name, TF[timeframe], start, end)) == expected


@pytest.mark.parametrize("day", [SPRING_DAY, AUTUMN_DAY])
def test_server_times_strictly_rise_and_ticks_rebuild_bars(market, day):
    start, end = week_around(day)
    m1 = market.rates_range("BTCUSD", TF["M1"], start, end)
    assert np.all(np.diff(m1["time"]) > 0)
    change = server_day(*day)
    ticks = market.ticks_range("BTCUSD", change * 1000, (change + 6 * 3600) * 1000 - 1, ALL)
    assert np.all(np.diff(ticks["time_msc"]) > 0)
    minutes, counts = np.unique(ticks["time_msc"] // 60_000 * 60, return_counts=True)
    window = m1[(m1["time"] >= change) & (m1["time"] < change + 6 * 3600)]
    assert np.array_equal(minutes, window["time"]) and np.array_equal(counts, window["tick_volume"])


def test_the_skipped_spring_hour_has_no_bars_and_the_day_is_23_hours(market):
    day = server_day(*SPRING_DAY)
    m1 = market.rates_range("BTCUSD", TF["M1"], day, day + 86_399)
    skipped = (m1["time"] >= day + 3 * 3600) & (m1["time"] < day + 4 * 3600)
    assert not skipped.any() and len(m1) == 23 * 60


def test_the_repeated_autumn_hour_is_shown_once(market):
    day = server_day(*AUTUMN_DAY)
    m1 = market.rates_range("BTCUSD", TF["M1"], day, day + 86_399)
    assert len(m1) == 24 * 60 and len(np.unique(m1["time"])) == len(m1)


def test_no_new_prices_while_the_server_clock_relives_an_hour():
    first_pass_end = utc(2024, 10, 27, 1)  # 04:00 summer time becomes 03:00 winter time
    clock = ManualClock(first_pass_end - 30)
    market = Market(clock, BrokerTime(), seed=3)
    before = market.tick("BTCUSD")
    clock.advance(30 + 1800)  # half-way through the second pass
    assert not market.is_open("BTCUSD")
    during = market.tick("BTCUSD")
    assert (
        during["time_msc"] > before["time_msc"] and during["time_msc"] < utc(2024, 10, 27, 4) * 1000
    )
    clock.advance(1800 + 90)
    after = market.tick("BTCUSD")
    assert market.is_open("BTCUSD") and after["time_msc"] >= utc(2024, 10, 27, 4) * 1000


@pytest.mark.parametrize(
    ("day", "weekday", "hour"),
    [((2024, 1, 14), 0, 0), ((2024, 3, 17), 6, 23), ((2024, 4, 7), 0, 0)],
)
def test_forex_week_opens_at_sunday_17_new_york_in_server_time(market, day, weekday, hour):
    """Both in winter or both in summer: Monday 00:00 server. In the weeks when New York
    has moved to summer time and Athens has not, the week opens at Sunday 23:00 server."""
    sunday = server_day(*day)
    m1 = market.rates_range("EURUSD", TF["M1"], sunday, sunday + 2 * 86_400)
    first = datetime(1970, 1, 1) + timedelta(seconds=int(m1["time"][0]))
    expected = datetime(*day, 17, tzinfo=ZoneInfo("America/New_York")).astimezone(ATHENS)
    assert (first.weekday(), first.hour) == (expected.weekday(), expected.hour)
    assert (first.weekday(), first.hour) == (weekday, hour)
