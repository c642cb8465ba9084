"""The periodic summary line: what flowed since the previous line, and the slowest series."""

from __future__ import annotations

from datetime import datetime, timezone

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.activity import ActivityReport, Counters, bar_close
from bridge_v3.simulator.clock import ManualClock

M1, M15, MN1 = TIMEFRAMES["M1"], TIMEFRAMES["M15"], TIMEFRAMES["MN1"]
NOW = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()


def test_each_line_tells_what_flowed_since_the_previous_one() -> None:
    clock = ManualClock(NOW)
    totals = [Counters(bars=100, sent=110, ticks=0, quarantined=1)]
    marks = {("EURUSD", M1): int(NOW) - 90, ("EURUSD", M15): int(NOW) - 30 - 15 * 60 - 14 * 60}
    report = ActivityReport(lambda: totals[-1], lambda: marks, lambda: 3, clock=clock.now)

    clock.advance(60)
    totals.append(Counters(bars=103, sent=114, ticks=50, quarantined=1))
    line = report.line()

    assert line == (
        "Activity last 1 min: 3 bars stored, 4 messages sent, 50 ticks stored, "
        "0 bars quarantined; outbox 3 waiting; "
        "slowest series EURUSD M15 (newest bar closed 15 min 30 s ago)"
    )
    clock.advance(120)
    assert report.line().startswith("Activity last 2 min: 0 bars stored, 0 messages sent")


def test_a_series_with_no_bar_yet_is_named() -> None:
    clock = ManualClock(NOW)
    marks = {("EURUSD", M1): int(NOW) - 90, ("XAUUSD", M1): None}
    report = ActivityReport(Counters, lambda: marks, lambda: 0, clock=clock.now)

    assert report.line().endswith("; no bar stored yet for XAUUSD M1")


def test_a_monthly_bar_closes_at_the_next_month() -> None:
    january = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    february = int(datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp())

    assert bar_close(january, MN1) == february
    assert bar_close(january, M15) == january + 900
