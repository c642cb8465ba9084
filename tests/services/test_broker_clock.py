"""Reading a broker's clock from its weekends, on histories made by the simulated terminal.

The simulated market closes on Friday 17:00 and opens on Sunday 17:00 New York time, as
real brokers do; its server clock is whatever zone it is given. The detection is never told
that zone: it must find it, or an equivalent one, or say it cannot.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from bridge_v3.services import broker_clock
from bridge_v3.services.broker_clock import Weekend, detect, live_contradiction, same_clock
from bridge_v3.services.mt5.contract.constants import TIMEFRAME_H1
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation

DAY = 86_400


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def h1_weekends(zone: str, now: float, days: int, symbol: str = "EURUSD") -> list[Weekend]:
    terminal = create_simulation(
        SimulatorConfig(seed=5, server_timezone=zone, history_days=days + 5), ManualClock(now)
    ).terminal
    terminal.initialize()
    rates = terminal.copy_rates_range(symbol, TIMEFRAME_H1, int(now - days * DAY), int(now + DAY))
    return broker_clock.weekends(rates["time"], 3600)


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Athens",
        "America/New_York+7",
        "UTC",
        "Europe/London",
        "UTC+3",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Tokyo",
    ],
)
def test_a_year_of_weekends_names_the_broker_clock(zone):
    now = utc(2026, 11, 18, 12)
    detection = detect(h1_weekends(zone, now, 370), now=now)

    assert detection.zone is not None and not detection.ambiguous
    assert same_clock(detection.zone, zone, now - 370 * DAY, now + 400 * DAY)
    assert detection.matched == detection.weekends >= 50


def test_european_and_american_daylight_saving_are_told_apart_by_the_weeks_they_differ():
    # 120 days back from 10 April 2026 hold the weeks of March when New York has moved to
    # summer time and Athens has not: the two broker styles predict different weekends.
    now = utc(2026, 4, 10, 12)
    athens = detect(h1_weekends("Europe/Athens", now, 120), now=now)
    new_york = detect(h1_weekends("America/New_York+7", now, 120), now=now)

    assert athens.zone == "Europe/Athens" and not athens.ambiguous
    assert new_york.zone == "America/New_York+7" and not new_york.ambiguous
    assert new_york.runner_up_matched < new_york.matched


def test_a_summer_window_fits_both_styles_and_is_called_ambiguous():
    now = utc(2026, 8, 20, 12)  # the last 60 days: no week where the two styles differ
    detection = detect(h1_weekends("Europe/Athens", now, 60), now=now)

    assert detection.zone == "Europe/Athens"
    assert "America/New_York+7" in detection.ambiguous_with
    assert "AMBIGUOUS" in detection.describe()
    # They agree now, and will not in late October.
    zones = (detection.zone, *detection.ambiguous_with)
    assert not broker_clock.disagree_at(zones, now)
    assert broker_clock.disagree_at(("Europe/Athens", "America/New_York+7"), utc(2026, 10, 28, 12))


def test_a_series_with_no_weekend_names_no_clock():
    now = utc(2026, 11, 18, 12)
    detection = detect(h1_weekends("Europe/Athens", now, 60, symbol="BTCUSD"), now=now)

    assert detection.zone is None and detection.weekends == 0
    assert "not recognised" in detection.describe()


def test_weekends_that_fit_no_clock_name_none():
    # Pauses at random hours: no clock explains them.
    rng = np.random.default_rng(1)
    found = [
        Weekend(int(start), int(start + 2 * DAY), 3600)
        for start in utc(2026, 1, 2) + np.arange(12) * 7 * DAY + rng.integers(0, 40, 12) * 3600
    ]
    assert detect(found, now=utc(2026, 4, 1)).zone is None


def test_a_few_early_closes_do_not_change_the_answer():
    now = utc(2026, 11, 18, 12)
    found = h1_weekends("America/New_York+7", now, 370)
    for k in range(0, len(found), 10):  # every tenth week closes five hours early
        w = found[k]
        found[k] = Weekend(w.last_open - 5 * 3600, w.first_open, w.bar_seconds)

    detection = detect(found, now=now)
    assert detection.zone == "America/New_York+7"
    assert detection.matched < detection.weekends


def test_live_ticks_in_the_future_or_older_than_the_last_look_contradict_a_clock():
    now = 1_800_000_000.0
    assert live_contradiction(now - 2, now, None, advanced=False) is None
    assert live_contradiction(now + 30, now, None, advanced=False) is None  # skew allowed
    assert "future" in live_contradiction(now + 3600, now, None, advanced=False)
    # A tick that arrived since the look a minute ago cannot be an hour old...
    assert "older" in live_contradiction(now - 3600, now, now - 60, advanced=True)
    # ...but an old tick that did not change (market closed) says nothing.
    assert live_contradiction(now - 3600, now, now - 60, advanced=False) is None
