"""A bar is closed when the terminal says so; the host clock decides only as a late fallback.
Bar ends are found on the broker's clock, where periods are defined."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bridge_v3.controllers.bar_closure import GRACE, bar_ends, closed_mask
from bridge_v3.controllers.tick_aggregation import parse_period
from bridge_v3.services.server_time import ServerTime


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


def ends_of(opens: list[int], period: str, zone: str = "UTC") -> np.ndarray:
    clock = ServerTime(zone)
    return bar_ends(
        np.array(opens, dtype=np.int64),
        parse_period(period),
        clock.to_server_array,
        lambda server: clock.to_utc_array(server, ambiguous="earlier"),
    )


ENDS = ends_of([utc(2026, 3, 25, 9, 58), utc(2026, 3, 25, 9, 59), utc(2026, 3, 25, 10, 0)], "M1")
END = utc(2026, 3, 25, 10, 1)  # end of the last bar


def test_minute_bars_end_a_minute_after_they_open():
    assert ENDS.tolist() == [END - 120, END - 60, END]


def test_every_bar_with_a_newer_one_is_closed_and_the_last_waits_for_the_terminal():
    mask = closed_mask(ENDS, newest_tick=END - 5.0, now=END - 30)
    assert mask.tolist() == [True, True, False]


def test_a_host_clock_running_ahead_does_not_close_a_growing_bar():
    # The host says the minute ended 40 s ago; the terminal's ticks are still inside it.
    mask = closed_mask(ENDS, newest_tick=END - 0.5, now=END + 40)
    assert mask.tolist() == [True, True, False]


def test_a_tick_past_the_end_closes_the_last_bar_whatever_the_host_clock():
    assert closed_mask(ENDS, newest_tick=END + 0.2, now=END - 3).tolist() == [True] * 3


def test_a_quiet_market_closes_the_last_bar_after_the_grace_period():
    friday_last_tick = END - 20.0  # then the market closed
    assert not closed_mask(ENDS, newest_tick=friday_last_tick, now=END + GRACE - 1)[-1]
    assert closed_mask(ENDS, newest_tick=friday_last_tick, now=END + GRACE)[-1]
    assert closed_mask(ENDS, newest_tick=None, now=END + GRACE)[-1]


def test_a_month_ends_at_the_brokers_midnight_not_at_utcs():
    # Athens: March 2026 opens at 22:00 UTC on 28 February and ends at 21:00 UTC on
    # 31 March (summer time by then).
    (end,) = ends_of([utc(2026, 2, 28, 22)], "MN1", "Europe/Athens")
    assert end == utc(2026, 3, 31, 21)


def test_a_broker_day_is_25_hours_long_when_its_clock_goes_back():
    # Athens, Sunday 25 October 2026: the day opens at 21:00 UTC on the 24th (UTC+3) and
    # ends at 22:00 UTC on the 25th (UTC+2).
    (end,) = ends_of([utc(2026, 10, 24, 21)], "D1", "Europe/Athens")
    assert end - utc(2026, 10, 24, 21) == 25 * 3600


def test_no_bars_no_verdict():
    assert closed_mask(ends_of([], "M1"), newest_tick=None, now=END).tolist() == []
