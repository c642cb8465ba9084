"""Bar validation: every rejection reason, its precedence, server-clock alignment, revisits."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.bar_validation import REASONS, validate_bars
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE

UTC = timezone.utc
CSV = Path(__file__).resolve().parents[1] / "data" / "EURUSD_H1.csv"
H1 = 3600
START = int(datetime(2026, 5, 4, 8, tzinfo=UTC).timestamp())  # a Monday
AFTER_ALL = START + 100 * 86_400
NAN, INF = float("nan"), float("inf")


def epoch(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def bars(times, ohlc) -> np.ndarray:
    rates = np.zeros(len(times), dtype=RATES_DTYPE)
    rates["time"] = times
    columns = np.array(ohlc, dtype=np.float64).reshape(-1, 4).T
    for name, values in zip(("open", "high", "low", "close"), columns, strict=True):
        rates[name] = values
    rates["tick_volume"] = 100
    return rates


def good_h1(count: int = 5) -> np.ndarray:
    opens = 1.08 + 0.001 * np.arange(count)
    ohlc = np.column_stack([opens, opens + 0.002, opens - 0.002, opens + 0.001])
    return bars(START + H1 * np.arange(count), ohlc)


def only_rejection(result):
    assert len(result.rejected) == 1, result.rejected
    return result.rejected[0]


def test_real_eurusd_h1_bars_all_pass():
    frame = pd.read_csv(CSV, index_col=0, parse_dates=True)
    times = frame.index.values.astype("datetime64[s]").astype(np.int64)
    rates = bars(times, frame[["Open", "High", "Low", "Close"]].to_numpy())

    result = validate_bars(rates, TIMEFRAMES["H1"], now_utc=float(times[-1] + H1))

    assert result.rejected == []
    np.testing.assert_array_equal(result.good, rates)
    np.testing.assert_array_equal(result.good_index, np.arange(len(rates)))


CORRUPTIONS = [
    ("non_finite", {"close": NAN}),
    ("non_finite", {"high": INF}),
    ("non_finite", {"low": -INF}),
    ("non_positive_price", {"low": 0.0}),
    ("non_positive_price", {"open": -1.0}),
    ("high_below_low", {"high": 1.0, "low": 1.2}),
    ("high_below_open_close", {"high": 1.0805}),  # below the close 1.083, above low
    ("low_above_open_close", {"low": 1.0825}),  # above the open 1.082, below high
    ("misaligned", {"time": START + 2 * H1 + 60}),
]


@pytest.mark.parametrize(("reason", "changes"), CORRUPTIONS)
def test_each_value_corruption_is_rejected_with_its_reason(reason, changes):
    rates = good_h1()
    for name, value in changes.items():
        rates[2][name] = value

    result = validate_bars(rates, "H1", now_utc=AFTER_ALL)

    rejection = only_rejection(result)
    assert (rejection.index, rejection.reason) == (2, reason)
    assert rejection.row["time"] == rates[2]["time"] == rejection.time
    np.testing.assert_array_equal(result.good_index, [0, 1, 3, 4])
    np.testing.assert_array_equal(result.good, rates[[0, 1, 3, 4]])


def test_a_bar_closing_after_now_plus_tolerance_is_in_future():
    rates = good_h1()
    last_close = START + 5 * H1

    late = validate_bars(rates, "H1", now_utc=last_close - 61, tolerance_seconds=60)
    on_time = validate_bars(rates, "H1", now_utc=last_close - 60, tolerance_seconds=60)

    assert (only_rejection(late).index, only_rejection(late).reason) == (4, "in_future")
    assert on_time.rejected == []


def test_a_repeated_time_is_a_duplicate_and_the_first_copy_is_kept():
    rates = good_h1()
    rates[3]["time"] = rates[2]["time"]
    rejection = only_rejection(validate_bars(rates, "H1", now_utc=AFTER_ALL))
    assert (rejection.index, rejection.reason) == (3, "duplicate")


def test_a_time_going_back_is_out_of_order():
    rates = good_h1()[[0, 1, 3, 2, 4]]
    rejection = only_rejection(validate_bars(rates, "H1", now_utc=AFTER_ALL))
    assert (rejection.index, rejection.reason, rejection.time) == (
        3,
        "out_of_order",
        START + 2 * H1,
    )


def test_series_validated_together_are_checked_for_order_and_repeats_each_on_its_own():
    first, second = good_h1(3), good_h1(3)  # the same times: two series, not duplicates
    second = second[[0, 2, 1]]  # in the second series a time goes back
    rates = np.concatenate([first, second])

    result = validate_bars(rates, "H1", AFTER_ALL, groups=np.array([0, 0, 0, 1, 1, 1]))

    assert [(r.index, r.reason) for r in result.rejected] == [(5, "out_of_order")]
    assert result.good_index.tolist() == [0, 1, 2, 3, 4]


def test_first_failing_reason_wins():
    rates = good_h1()
    rates[1]["close"] = NAN
    rates[1]["time"] = START + 60  # also misaligned
    rates[3]["high"], rates[3]["low"] = 1.0, 1.2  # also high < open/close and low > them
    reasons = {r.index: r.reason for r in validate_bars(rates, "H1", AFTER_ALL).rejected}
    assert reasons == {1: "non_finite", 3: "high_below_low"}


def test_a_valid_copy_after_an_invalid_one_is_kept():
    rates = good_h1()
    rates[3]["time"] = rates[2]["time"]
    rates[2]["open"] = NAN
    result = validate_bars(rates, "H1", now_utc=AFTER_ALL)
    assert only_rejection(result).reason == "non_finite"
    np.testing.assert_array_equal(result.good_index, [0, 1, 3, 4])


def test_a_rejected_future_bar_does_not_make_later_bars_out_of_order():
    rates = good_h1()
    rates[1]["time"] = AFTER_ALL + 10 * H1
    rejection = only_rejection(validate_bars(rates, "H1", now_utc=AFTER_ALL))
    assert (rejection.index, rejection.reason) == (1, "in_future")


def test_stored_times_are_revisits_not_rejections():
    rates = good_h1()
    last_stored = datetime.fromtimestamp(START + 2 * H1, UTC)

    result = validate_bars(rates, "H1", datetime.fromtimestamp(AFTER_ALL, UTC), last_stored)

    assert result.rejected == []
    np.testing.assert_array_equal(result.revisit, [True, True, True, False, False])
    np.testing.assert_array_equal(result.revisits, rates[:3])


def test_daily_bars_align_on_server_midnight_not_utc():
    # An EET/EEST broker: server midnight is 22:00 UTC in winter, 21:00 UTC in summer.
    utc = [epoch(2026, 1, 4, 22, 0), epoch(2026, 7, 5, 21, 0)]
    server = [epoch(2026, 1, 5, 0, 0), epoch(2026, 7, 6, 0, 0)]
    rates = bars(utc, [[1.1, 1.2, 1.0, 1.15]] * 2)

    with_server = validate_bars(rates, "D1", AFTER_ALL * 2, server_times=np.array(server))
    without = validate_bars(rates, "D1", AFTER_ALL * 2)

    assert with_server.rejected == []
    assert [r.reason for r in without.rejected] == ["misaligned", "misaligned"]


@pytest.mark.parametrize("weekly", ["W1", TIMEFRAMES["W1"], 604_800])
def test_weekly_bars_open_on_sunday(weekly):
    sunday, monday = epoch(2026, 5, 3, 0, 0), epoch(2026, 5, 11, 0, 0)
    rates = bars([sunday, monday], [[1.1, 1.2, 1.0, 1.15]] * 2)
    rejection = only_rejection(validate_bars(rates, weekly, AFTER_ALL))
    assert (rejection.index, rejection.reason) == (1, "misaligned")


@pytest.mark.parametrize("monthly", ["MN1", TIMEFRAMES["MN1"], 0])
def test_monthly_bars_open_on_the_first(monthly):
    rates = bars([epoch(2026, 1, 1, 0, 0), epoch(2026, 3, 2, 0, 0)], [[1.1, 1.2, 1.0, 1.15]] * 2)
    rejection = only_rejection(validate_bars(rates, monthly, AFTER_ALL))
    assert (rejection.index, rejection.reason) == (1, "misaligned")


def test_a_monthly_bar_closes_at_the_end_of_its_calendar_month():
    rates = bars([epoch(2026, 2, 1, 0, 0)], [[1.1, 1.2, 1.0, 1.15]])
    march_first = epoch(2026, 3, 1, 0, 0)
    assert validate_bars(rates, "MN1", march_first, tolerance_seconds=0).rejected == []
    late = validate_bars(rates, "MN1", march_first - 1, tolerance_seconds=0)
    assert only_rejection(late).reason == "in_future"


def test_quarter_hour_bars_must_start_on_the_quarter():
    rates = bars([epoch(2026, 5, 4, 8, 15), epoch(2026, 5, 4, 8, 37)], [[1.1, 1.2, 1.0, 1.15]] * 2)
    assert only_rejection(validate_bars(rates, 900, AFTER_ALL)).index == 1


def test_empty_batch():
    result = validate_bars(np.zeros(0, RATES_DTYPE), "M1", AFTER_ALL, last_stored_time=START)
    assert result.good.size == 0 and result.rejected == [] and result.revisit.size == 0


def test_payload_is_json_safe_and_counts_add_up():
    rates = good_h1()
    rates[0]["close"], rates[1]["high"] = NAN, INF
    rates[4]["time"] = rates[3]["time"]
    result = validate_bars(rates, "H1", AFTER_ALL)
    payloads = [r.payload() for r in result.rejected]
    json.dumps(payloads, allow_nan=False)
    assert payloads[0]["close"] == "nan" and payloads[1]["high"] == "inf"
    assert result.counts() == {"non_finite": 2, "duplicate": 1}


def test_server_times_must_match_the_bars():
    with pytest.raises(ValueError, match="one entry per bar"):
        validate_bars(good_h1(), "H1", AFTER_ALL, server_times=np.array([START]))


# ------------------------------------------------- property: a row-by-row reference


def reference_reasons(rates, seconds_per_bar, now, tolerance):
    """The documented rules applied one row at a time in plain Python (fixed periods)."""
    reasons, seen, latest = {}, set(), None
    for i, row in enumerate(rates.tolist()):
        time, o, h, lo, c = row[:5]
        checks = [
            not all(np.isfinite([o, h, lo, c])),
            min(o, h, lo, c) <= 0,
            h < lo,
            h < max(o, c),
            lo > min(o, c),
            time % seconds_per_bar != 0,
            time + seconds_per_bar > now + tolerance,
        ]
        if not any(checks):
            checks += [time in seen, latest is not None and time < latest]
            seen.add(time)
            if not checks[-2]:
                latest = time if latest is None else max(latest, time)
        if any(checks):
            reasons[i] = REASONS[checks.index(True)]
    return reasons


PRICE = st.one_of(st.floats(0.9, 1.3), st.sampled_from([NAN, INF, 0.0, -1.0]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([0, 0, 0, 60]), *[PRICE] * 4),
        max_size=40,
    ),
    now_steps=st.integers(0, 45),
)
def test_matches_a_row_by_row_reference(rows, now_steps):
    times = [START + step * 900 + jitter for step, jitter, *_ in rows]
    rates = bars(times, [prices for _, _, *prices in rows])
    now = START + now_steps * 900

    result = validate_bars(rates, "M15", now, tolerance_seconds=0)

    assert {r.index: r.reason for r in result.rejected} == reference_reasons(rates, 900, now, 0)
    assert sorted([r.index for r in result.rejected] + result.good_index.tolist()) == list(
        range(len(rows))
    )
