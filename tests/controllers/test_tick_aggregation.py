"""Tick and bar aggregation agree with pandas resample on generated and real prices."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.tick_aggregation import (
    aggregate_rates,
    aggregate_ticks,
    parse_period,
    period_ends,
    period_starts,
)
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE

CSV = Path(__file__).resolve().parents[1] / "data" / "EURUSD_H1.csv"
PERIODS = ["S1", "M1", "M15", "H1", "H4", "D1", "W1", "MN1"]
PANDAS_RULES = {"S1": "1s", "M1": "1min", "M15": "15min", "H1": "1h", "H4": "4h", "D1": "1D"}
PANDAS_RULES["MN1"] = "MS"
# Typical gap between ticks per period, so that a few hundred ticks span several bars.
SCALE_MS = {"S1": 400, "M1": 20_000, "M15": 300_000, "H1": 1_200_000, "H4": 4_800_000}
SCALE_MS |= {"D1": 30_000_000, "W1": 200_000_000, "MN1": 900_000_000}


def resampler(series: pd.Series, period: str):
    """pandas grouping for a period and the shift from its label to the period start.

    'W-SAT' bins run Sunday 00:00 to Saturday 24:00; with label='left' pandas names
    each bin after the Saturday before it, so the Sunday start is the label + 1 day.
    """
    if period == "W1":
        return series.resample("W-SAT", label="left"), pd.Timedelta(days=1)
    return series.resample(PANDAS_RULES[period], closed="left", label="left"), pd.Timedelta(0)


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.values.astype("datetime64[s]").astype(np.int64)


def pandas_tick_bars(time_msc: np.ndarray, price: np.ndarray, period: str) -> pd.DataFrame:
    series = pd.Series(price, index=pd.to_datetime(time_msc, unit="ms"))
    grouped, shift = resampler(series, period)
    bars = grouped.ohlc()
    bars["count"] = grouped.count()
    bars = bars[bars["count"] > 0]
    bars.index = bars.index + shift
    return bars


def assert_same_bars(ours: np.ndarray, theirs: pd.DataFrame) -> None:
    np.testing.assert_array_equal(ours["time"], epoch_seconds(theirs.index))
    for field in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(ours[field], theirs[field].to_numpy())
    np.testing.assert_array_equal(ours["tick_volume"], theirs["count"].to_numpy())


@st.composite
def ticks(draw):
    period = draw(st.sampled_from(PERIODS))
    count = draw(st.integers(1, 400))
    start = draw(st.integers(946_684_800_000, 1_893_456_000_000))  # 2000..2030
    gaps = draw(st.lists(st.integers(0, 2 * SCALE_MS[period]), min_size=count, max_size=count))
    prices = draw(
        st.lists(
            st.one_of(st.floats(0.5, 2.0), st.just(float("nan"))), min_size=count, max_size=count
        )
    )
    return period, start + np.cumsum(gaps, dtype=np.int64), np.array(prices)


@settings(max_examples=150, deadline=None)
@given(ticks())
def test_generated_ticks_match_pandas_ohlc_and_count(case):
    period, time_msc, price = case
    ours = aggregate_ticks(time_msc, price, period)
    assert_same_bars(ours, pandas_tick_bars(time_msc, price, period))
    assert ours.dtype == RATES_DTYPE
    assert not ours["spread"].any() and not ours["real_volume"].any()


@pytest.fixture(scope="module")
def eurusd() -> pd.DataFrame:
    return pd.read_csv(CSV, index_col=0, parse_dates=True)


# S1 is left to the generated ticks: ten months of empty one-second pandas bins is slow.
@pytest.mark.parametrize("period", PERIODS[1:])
def test_eurusd_closes_as_ticks_match_pandas(eurusd, period):
    time_msc = eurusd.index.values.astype("datetime64[ms]").astype(np.int64)
    closes = eurusd["Close"].to_numpy()
    ours = aggregate_ticks(time_msc, closes, period)
    assert_same_bars(ours, pandas_tick_bars(time_msc, closes, period))


def eurusd_rates(frame: pd.DataFrame) -> np.ndarray:
    rates = np.zeros(len(frame), dtype=RATES_DTYPE)
    rates["time"] = epoch_seconds(frame.index)
    for field in ("open", "high", "low", "close"):
        rates[field] = frame[field.capitalize()].to_numpy()
    rates["tick_volume"] = frame["Volume"].to_numpy()
    rates["spread"] = np.arange(len(frame)) % 7 + 1
    return rates


@pytest.mark.parametrize("period", ["H4", "D1", "W1", "MN1"])
def test_eurusd_h1_bars_reaggregate_like_pandas(eurusd, period):
    frame = eurusd.assign(Spread=np.arange(len(eurusd)) % 7 + 1)
    grouped, shift = resampler(frame, period)
    expected = grouped.agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": ["sum", "count"]}
    )
    expected.columns = ["open", "high", "low", "close", "volume", "count"]
    expected["spread"] = grouped["Spread"].min()
    expected = expected[expected["count"] > 0]

    ours = aggregate_rates(eurusd_rates(eurusd), period)

    np.testing.assert_array_equal(ours["time"], epoch_seconds(expected.index + shift))
    for field in ("open", "high", "low", "close", "spread"):
        np.testing.assert_array_equal(ours[field], expected[field].to_numpy())
    np.testing.assert_array_equal(ours["tick_volume"], expected["volume"].to_numpy())


def test_weekly_bars_start_on_sunday_and_monthly_on_the_first(eurusd):
    time_msc = eurusd.index.values.astype("datetime64[ms]").astype(np.int64)
    weeks = aggregate_ticks(time_msc, eurusd["Close"].to_numpy(), "W1")["time"]
    months = aggregate_ticks(time_msc, eurusd["Close"].to_numpy(), "MN1")["time"]
    as_dates = [datetime.fromtimestamp(int(t), timezone.utc) for t in weeks]
    assert {d.strftime("%A %H:%M") for d in as_dates} == {"Sunday 00:00"}
    assert {datetime.fromtimestamp(int(t), timezone.utc).day for t in months} == {1}


@settings(max_examples=60, deadline=None)
@given(ticks(), st.sampled_from(["H1", "H4", "D1", "W1", "MN1"]))
def test_ticks_to_m1_to_coarser_equals_ticks_to_coarser(case, coarser):
    _, time_msc, price = case
    via_minutes = aggregate_rates(aggregate_ticks(time_msc, price, "M1"), coarser)
    direct = aggregate_ticks(time_msc, price, coarser)
    np.testing.assert_array_equal(via_minutes, direct)


def test_volume_is_summed_per_bar():
    time_msc = np.array([0, 500, 1_000, 61_000, 61_500])
    price = np.array([1.0, 1.2, 0.9, 1.1, 1.05])
    bars = aggregate_ticks(time_msc, price, "M1", volume=np.array([1.5, 2.0, 0.25, 3.0, 4.0]))
    assert bars["real_volume"].tolist() == [4, 7]  # 3.75 rounds to 4
    bars = aggregate_ticks(time_msc, price, "M1", volume=np.array([1, 2, 3, 4, 5], np.uint64))
    assert bars["real_volume"].tolist() == [6, 9]


def test_unsorted_ticks_give_the_same_bars_as_sorted_ones():
    rng = np.random.default_rng(7)
    time_msc = np.sort(rng.integers(0, 10**9, 2_000))
    price = rng.uniform(1.0, 2.0, 2_000)
    shuffled = rng.permutation(2_000)
    np.testing.assert_array_equal(
        aggregate_ticks(time_msc[shuffled], price[shuffled], "M15"),
        aggregate_ticks(time_msc, price, "M15"),
    )


def test_empty_input_gives_no_bars():
    bars = aggregate_ticks(np.array([], np.int64), np.array([]), "M1")
    assert bars.size == 0 and bars.dtype == RATES_DTYPE
    assert aggregate_rates(np.zeros(0, RATES_DTYPE), "D1").size == 0


def test_a_single_tick_is_one_flat_bar():
    bars = aggregate_ticks(np.array([1_767_225_645_123]), np.array([1.0842]), "H1")
    assert bars.tolist() == [(1_767_225_600, 1.0842, 1.0842, 1.0842, 1.0842, 1, 0, 0)]


def test_ticks_before_1970_fall_in_the_right_bar():
    bars = aggregate_ticks(np.array([-1_500, -500]), np.array([1.0, 2.0]), "S1")
    assert bars["time"].tolist() == [-2, -1]


@pytest.mark.parametrize(
    ("period", "seconds"),
    [("S1", 1), ("s5", 5), ("M1", 60), ("M15", 900), ("H4", 14_400), ("D1", 86_400), (90, 90)],
)
def test_fixed_periods_parse_to_their_length(period, seconds):
    assert parse_period(period).seconds == seconds
    assert parse_period(period).kind == "fixed"


def test_timeframes_parse_like_their_names():
    assert parse_period(TIMEFRAMES["W1"]).kind == "week"
    assert parse_period(TIMEFRAMES["MN1"]).kind == "month"
    assert parse_period(TIMEFRAMES["M30"]).seconds == 1_800


@pytest.mark.parametrize("period", ["M0", "D2", "W2", "MN2", "X1", "", 0, -60])
def test_unknown_periods_are_refused(period):
    with pytest.raises(ValueError):
        parse_period(period)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        aggregate_ticks(np.array([1, 2]), np.array([1.0]), "M1")


def test_period_ends_follow_the_calendar_for_months():
    starts = period_starts(np.array([1_706_745_600 + 5]), "MN1")  # 2024-02-01 00:00:05
    assert period_ends(starts, "MN1").tolist() == [1_709_251_200]  # 2024-03-01 (leap year)
    assert period_ends(starts, "W1").tolist() == [int(starts[0]) + 604_800]
