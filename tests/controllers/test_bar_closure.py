"""A bar is closed when the terminal says so; the host clock decides only as a late fallback."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.bar_closure import GRACE, closed_mask
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE

M1, MN1 = TIMEFRAMES["M1"], TIMEFRAMES["MN1"]


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


def minutes(*starts: int) -> np.ndarray:
    rates = np.zeros(len(starts), dtype=RATES_DTYPE)
    rates["time"] = starts
    return rates


RATES = minutes(utc(2026, 3, 25, 9, 58), utc(2026, 3, 25, 9, 59), utc(2026, 3, 25, 10, 0))
END = utc(2026, 3, 25, 10, 1)  # end of the last bar


def test_every_bar_with_a_newer_one_is_closed_and_the_last_waits_for_the_terminal():
    mask = closed_mask(RATES, M1, newest_tick=END - 5.0, now=END - 30)
    assert mask.tolist() == [True, True, False]


def test_a_host_clock_running_ahead_does_not_close_a_growing_bar():
    # The host says the minute ended 40 s ago; the terminal's ticks are still inside it.
    mask = closed_mask(RATES, M1, newest_tick=END - 0.5, now=END + 40)
    assert mask.tolist() == [True, True, False]


def test_a_tick_past_the_end_closes_the_last_bar_whatever_the_host_clock():
    assert closed_mask(RATES, M1, newest_tick=END + 0.2, now=END - 3).tolist() == [True] * 3


def test_a_quiet_market_closes_the_last_bar_after_the_grace_period():
    friday_last_tick = END - 20.0  # then the market closed
    assert not closed_mask(RATES, M1, newest_tick=friday_last_tick, now=END + GRACE - 1)[-1]
    assert closed_mask(RATES, M1, newest_tick=friday_last_tick, now=END + GRACE)[-1]
    assert closed_mask(RATES, M1, newest_tick=None, now=END + GRACE)[-1]


def test_months_end_on_the_first_of_the_next_month():
    months = minutes(utc(2026, 1, 1), utc(2026, 2, 1))  # a 28-day February
    march = utc(2026, 3, 1)
    assert closed_mask(months, MN1, newest_tick=march - 60, now=march).tolist() == [True, False]
    assert closed_mask(months, MN1, newest_tick=march + 1, now=march).tolist() == [True, True]


def test_no_bars_no_verdict():
    assert closed_mask(minutes(), M1, newest_tick=None, now=END).tolist() == []
