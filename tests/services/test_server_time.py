"""Server time <-> UTC: EET/EEST and New-York+7 broker clocks, change weeks included.

Expected values come from Python's zoneinfo applied one datetime at a time (an
independent reference) or from the published DST rules written out by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bridge_v3.exceptions import ConfigError
from bridge_v3.services.server_time import (
    BrokerClockUntrustedError,
    ServerTime,
    ServerTimeNotCalibratedError,
)

UTC = timezone.utc
ATHENS = ZoneInfo("Europe/Athens")
NEW_YORK = ZoneInfo("America/New_York")


def epoch(*args: int) -> int:
    """Epoch of a wall time written as if it were UTC (how MT5 writes server time)."""
    return int(datetime(*args, tzinfo=UTC).timestamp())


def reference_server(utc_epoch: int, zone: ZoneInfo, shift_hours: int = 0) -> int:
    """Server epoch of a UTC instant, one datetime at a time with zoneinfo."""
    local = datetime.fromtimestamp(utc_epoch, UTC).astimezone(zone)
    return epoch(*local.timetuple()[:6]) + shift_hours * 3600


def reference_utc(server_epoch: int, zone: ZoneInfo, fold: int, shift_hours: int = 0) -> int:
    wall = datetime.fromtimestamp(server_epoch - shift_hours * 3600, UTC).replace(tzinfo=None)
    return int(wall.replace(tzinfo=zone, fold=fold).timestamp())


def minute_series(start: datetime, hours: int) -> np.ndarray:
    first = int(start.timestamp())
    return np.arange(first, first + hours * 3600, 60, dtype=np.int64)


# Change instants in UTC: EU changes at 01:00 UTC; New York at 02:00 local.
CHANGE_WEEKS = [
    ("Europe/Athens", ATHENS, 0, datetime(2026, 3, 29, 1, tzinfo=UTC)),  # 03:00 -> 04:00
    ("Europe/Athens", ATHENS, 0, datetime(2026, 10, 25, 1, tzinfo=UTC)),  # 04:00 -> 03:00
    ("EET", ZoneInfo("EET"), 0, datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("America/New_York+7", NEW_YORK, 7, datetime(2026, 3, 8, 7, tzinfo=UTC)),
    ("America/New_York+7", NEW_YORK, 7, datetime(2026, 11, 1, 6, tzinfo=UTC)),
]


@pytest.mark.parametrize(("spec", "zone", "shift", "change"), CHANGE_WEEKS)
def test_monotonic_m1_series_across_a_change_round_trips_without_duplicates(
    spec, zone, shift, change
):
    server_time = ServerTime(spec)
    utc = minute_series(change - timedelta(days=3), hours=24 * 7)
    expected_server = np.array([reference_server(int(t), zone, shift) for t in utc])

    server = server_time.to_server_array(utc)
    back = server_time.to_utc_array(server)

    np.testing.assert_array_equal(server, expected_server)
    np.testing.assert_array_equal(back, utc)
    assert np.all(np.diff(back) == 60)


@pytest.mark.parametrize(("spec", "zone", "shift", "change"), CHANGE_WEEKS)
def test_h1_bars_with_the_repeated_hour_twice_are_told_apart_by_order(spec, zone, shift, change):
    utc = np.arange(int(change.timestamp()) - 6 * 3600, int(change.timestamp()) + 6 * 3600, 3600)
    server = np.array([reference_server(int(t), zone, shift) for t in utc])

    back = ServerTime(spec).to_utc_array(server)

    np.testing.assert_array_equal(back, utc)


def test_autumn_repeated_hour_in_athens_is_visible_in_server_time():
    # 03:00..03:59 server time happens twice on 25 Oct 2026 (EEST then EET).
    server_time = ServerTime("Europe/Athens")
    first = server_time.to_server(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    second = server_time.to_server(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert first == second == epoch(2026, 10, 25, 3, 30)
    assert server_time.to_utc(first) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert server_time.to_utc(first, ambiguous="later") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_new_york_plus_7_is_utc_plus_2_in_winter_and_plus_3_in_summer():
    server_time = ServerTime("America/New_York+7")
    assert server_time.to_utc(epoch(2026, 1, 5, 0, 0)) == datetime(2026, 1, 4, 22, tzinfo=UTC)
    assert server_time.to_utc(epoch(2026, 7, 6, 0, 0)) == datetime(2026, 7, 5, 21, tzinfo=UTC)


def test_between_us_and_eu_changes_the_two_broker_styles_differ_by_an_hour():
    # US summer time starts 8 Mar 2026, EU summer time 29 Mar 2026.
    server = np.array([epoch(2026, 3, 16, 12, 0)])
    new_york_plus_7 = ServerTime("America/New_York+7").to_utc_array(server)
    athens = ServerTime("Europe/Athens").to_utc_array(server)
    assert new_york_plus_7[0] == epoch(2026, 3, 16, 9, 0)
    assert athens[0] == epoch(2026, 3, 16, 10, 0)


def test_new_york_plus_7_changes_at_09_server_time_in_spring():
    server_time = ServerTime("America/New_York+7")
    # 02:00 EST -> 03:00 EDT in New York is 09:00 -> 10:00 on the broker clock.
    assert server_time.to_server(datetime(2026, 3, 8, 6, 59, tzinfo=UTC)) == epoch(
        2026, 3, 8, 8, 59
    )
    assert server_time.to_server(datetime(2026, 3, 8, 7, 0, tzinfo=UTC)) == epoch(2026, 3, 8, 10, 0)


def test_skipped_spring_hour_uses_the_offset_before_the_change():
    # 03:30 on 29 Mar 2026 never shows on an Athens clock; fold=0 reads it as EET.
    server = np.array([epoch(2026, 3, 29, 3, 30)])
    assert ServerTime("Europe/Athens").to_utc_array(server)[0] == epoch(2026, 3, 29, 1, 30)
    assert ServerTime("Europe/Athens").to_utc_array(server, "later")[0] == epoch(2026, 3, 29, 0, 30)


def test_ticks_in_milliseconds_with_equal_stamps_cross_the_autumn_change():
    change = epoch(2026, 10, 25, 1, 0) * 1000
    utc_msc = np.sort(
        np.repeat(np.arange(change - 3_600_000, change + 3_600_000, 250_000), 3)
    )  # three ticks per stamp
    server_msc = np.array([reference_server(int(t // 1000), ATHENS) * 1000 for t in utc_msc])
    server_msc += utc_msc % 1000

    back = ServerTime("Europe/Athens").to_utc_msc_array(server_msc)

    np.testing.assert_array_equal(back, utc_msc)


@pytest.mark.parametrize(
    ("spec", "offset_hours"), [("UTC", 0), ("utc", 0), ("UTC+2", 2), ("Etc/GMT+2", -2)]
)
def test_fixed_offsets(spec, offset_hours):
    server = np.array([epoch(2026, 6, 1, 12, 0), epoch(2026, 12, 1, 12, 0)])
    utc = ServerTime(spec).to_utc_array(server)
    np.testing.assert_array_equal(utc, server - offset_hours * 3600)


def test_half_hour_shift_is_accepted():
    server_time = ServerTime("UTC+5:30")
    assert server_time.to_utc(epoch(2026, 1, 1, 5, 30)) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["Mars/Olympus", "Europe", "Europe/Athens+x", "+7", ""])
def test_invalid_spec_is_a_config_error_naming_the_variable(spec):
    with pytest.raises(ConfigError) as raised:
        ServerTime(spec, variable="SIM_SERVER_TIMEZONE")
    assert raised.value.variable == "SIM_SERVER_TIMEZONE"


def test_to_server_accepts_aware_datetimes_and_epochs_and_refuses_naive():
    server_time = ServerTime("Europe/Athens")
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert server_time.to_server(moment) == epoch(2026, 7, 1, 15, 0)
    assert server_time.to_server(moment.timestamp()) == epoch(2026, 7, 1, 15, 0)
    with pytest.raises(ValueError, match="naive"):
        server_time.to_server(datetime(2026, 7, 1, 12))


def test_empty_arrays_convert_to_empty_arrays():
    assert ServerTime("Europe/Athens").to_utc_array(np.array([], dtype=np.int64)).size == 0
    assert ServerTime("Europe/Athens").to_server_array(np.array([], dtype=np.int64)).size == 0


def test_unknown_ambiguous_policy_is_refused():
    with pytest.raises(ValueError, match="ambiguous"):
        ServerTime("Europe/Athens").to_utc_array(np.array([0]), ambiguous="latest")


# ------------------------------------------------------- auto zone and trust


def test_auto_refuses_to_convert_before_a_zone_is_adopted():
    server_time = ServerTime("auto")
    with pytest.raises(ServerTimeNotCalibratedError, match="history"):
        server_time.to_utc_array(np.array([epoch(2026, 1, 1, 0, 0)]))
    with pytest.raises(ServerTimeNotCalibratedError):
        server_time.to_server(0)
    assert server_time.zone is None and not server_time.trusted


def test_auto_converts_with_the_adopted_zone_on_both_sides_of_a_dst_change():
    server_time = ServerTime("auto")
    server_time.adopt("Europe/Athens")
    assert server_time.zone == "Europe/Athens" and server_time.trusted
    friday, monday = epoch(2026, 10, 23, 12, 0), epoch(2026, 10, 26, 12, 0)
    assert server_time.to_server(friday) == friday + 3 * 3600
    assert server_time.to_server(monday) == monday + 2 * 3600
    back = server_time.to_utc_array(np.array([friday + 3 * 3600, monday + 2 * 3600]))
    assert back.tolist() == [friday, monday]


def test_adopt_is_only_for_auto():
    with pytest.raises(ValueError, match="auto"):
        ServerTime("Europe/Athens").adopt("UTC")


def test_a_distrusted_clock_refuses_server_to_utc_but_still_gives_query_bounds():
    server_time = ServerTime("Europe/Athens")
    server_time.distrust("a tick 1 h in the future")
    with pytest.raises(BrokerClockUntrustedError, match="1 h in the future"):
        server_time.to_utc_array(np.array([epoch(2026, 1, 6, 12, 0)]))
    with pytest.raises(BrokerClockUntrustedError):
        server_time.to_utc_msc_array(np.array([epoch(2026, 1, 6, 12, 0) * 1000]))
    assert server_time.to_server(epoch(2026, 1, 6, 10, 0)) == epoch(2026, 1, 6, 12, 0)
    server_time.trust()
    assert server_time.to_utc(epoch(2026, 1, 6, 12, 0)) == datetime(2026, 1, 6, 10, tzinfo=UTC)


def test_utc_with_a_shift_is_a_fixed_offset():
    server_time = ServerTime("UTC+2")
    assert server_time.to_server(epoch(2026, 7, 1, 0, 0)) == epoch(2026, 7, 1, 2, 0)
    assert server_time.to_server(epoch(2026, 1, 1, 0, 0)) == epoch(2026, 1, 1, 2, 0)


# ------------------------------------------------------------ property tests

SPECS = st.sampled_from(
    [("Europe/Athens", ATHENS, 0), ("America/New_York+7", NEW_YORK, 7), ("EET", ZoneInfo("EET"), 0)]
)
SERVER_TIMES = st.integers(epoch(2000, 1, 1, 0, 0), epoch(2037, 12, 31, 0, 0))


@settings(max_examples=300, deadline=None)
@given(spec=SPECS, server=SERVER_TIMES, fold=st.sampled_from([0, 1]))
def test_earlier_and_later_match_python_fold(spec, server, fold):
    name, zone, shift = spec
    policy = "later" if fold else "earlier"
    result = ServerTime(name).to_utc_array(np.array([server]), ambiguous=policy)[0]
    assert result == reference_utc(server, zone, fold, shift)


@settings(max_examples=300, deadline=None)
@given(spec=SPECS, utc=SERVER_TIMES)
def test_any_instant_survives_to_server_and_back_with_one_of_the_folds(spec, utc):
    name, zone, shift = spec
    server_time = ServerTime(name)
    server = server_time.to_server(utc)
    assert server == reference_server(utc, zone, shift)
    candidates = {
        server_time.to_utc_array(np.array([server]), policy)[0] for policy in ("earlier", "later")
    }
    assert utc in candidates


@settings(max_examples=150, deadline=None)
@given(
    spec=SPECS,
    start=SERVER_TIMES,
    step=st.sampled_from([1, 60, 300, 900, 1800, 3600, 14400, 86400]),
    count=st.integers(1, 2000),
)
def test_regular_utc_series_round_trip_by_order(spec, start, step, count):
    server_time = ServerTime(spec[0])
    utc = (start - start % step) + step * np.arange(count, dtype=np.int64)
    # A series that starts inside the second pass of a repeated hour carries no
    # information about which pass it is in; any other start can be ordered.
    first = server_time.to_server_array(utc[:1])
    assume(server_time.to_utc_array(first, "earlier")[0] == utc[0])
    back = server_time.to_utc_array(server_time.to_server_array(utc))
    np.testing.assert_array_equal(back, utc)
