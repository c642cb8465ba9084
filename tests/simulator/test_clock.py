"""Clocks and broker server time (Europe/Athens: UTC+2 winter, UTC+3 summer)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.simulator import clock as clock_module
from bridge_v3.simulator.clock import BrokerTime, ManualClock, WallClock
from tests.simulator.market_support import utc

ATHENS = ZoneInfo("Europe/Athens")
# Athens switched on 2024-03-31 01:00 UTC (03:00 -> 04:00) and 2024-10-27 01:00 UTC (04:00 -> 03:00).
SPRING_2024 = utc(2024, 3, 31, 1)
AUTUMN_2024 = utc(2024, 10, 27, 1)
instants = st.integers(min_value=0, max_value=int(utc(2099, 12, 31)))


def server_reading(utc_seconds: float, zone=ATHENS) -> int:
    """What a wall clock in ``zone`` shows, written as an epoch, via the standard library."""
    local = datetime.fromtimestamp(utc_seconds, zone).replace(tzinfo=timezone.utc)
    return int(local.timestamp() // 1)


def wall_epoch(year, month, day, hour, minute=0, fold=0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ATHENS, fold=fold).timestamp()


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(1_000.0)
    clock.advance(2.5)
    assert clock.now() == 1_002.5
    clock.set(50.0)
    assert clock.now() == 50.0


def test_manual_clock_refuses_to_advance_backwards():
    with pytest.raises(ValueError, match="negative"):
        ManualClock(0.0).advance(-1)


def test_wall_clock_runs_speed_times_faster(monkeypatch):
    readings = iter([100.0, 110.0])
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: next(readings))
    clock = WallClock(start=5_000.0, speed=60.0)
    assert clock.now() == 5_000.0 + 10.0 * 60.0


@pytest.mark.parametrize("speed", [0, -1.0])
def test_wall_clock_refuses_a_speed_that_is_not_positive(speed):
    with pytest.raises(ValueError, match="speed"):
        WallClock(speed=speed)


def test_unknown_zone_is_refused_with_its_name():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        BrokerTime("Mars/Olympus")


def test_default_zone_is_athens():
    assert BrokerTime().zone == "Europe/Athens"


@settings(max_examples=300, deadline=None)
@given(instants)
def test_to_server_matches_the_standard_library(instant):
    assert BrokerTime().to_server(instant) == server_reading(instant)


@settings(max_examples=50, deadline=None)
@given(st.lists(instants, min_size=1, max_size=50))
def test_vectorised_conversions_match_the_scalar_ones(values):
    broker = BrokerTime()
    array = np.array(values, dtype=np.int64)
    assert broker.to_server_array(array).tolist() == [broker.to_server(v) for v in values]
    servers = broker.to_server_array(array)
    assert broker.to_utc_array(servers).tolist() == [broker.to_utc(int(s)) for s in servers]


@settings(max_examples=300, deadline=None)
@given(instants)
def test_to_utc_inverts_to_server_outside_the_repeated_hour(instant):
    broker = BrokerTime()
    if not broker.repeated(instant):
        assert broker.to_utc(broker.to_server(instant)) == instant


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(min_value=0, max_value=3 * 86_400))
def test_to_utc_never_goes_backwards(server, step):
    broker = BrokerTime()
    assert broker.to_utc(server + step) >= broker.to_utc(server)


def test_utc_zone_is_the_identity():
    broker = BrokerTime("UTC")
    assert broker.to_server(1_700_000_000.7) == 1_700_000_000
    assert broker.to_utc(1_700_000_000) == 1_700_000_000.0


def test_offsets_are_two_hours_in_winter_and_three_in_summer():
    broker = BrokerTime()
    assert broker.to_server(utc(2024, 1, 15, 12)) - utc(2024, 1, 15, 12) == 2 * 3600
    assert broker.to_server(utc(2024, 7, 15, 12)) - utc(2024, 7, 15, 12) == 3 * 3600


def test_a_repeated_server_reading_means_its_first_occurrence():
    broker = BrokerTime()
    reading = utc(2024, 10, 27, 3, 30)  # 03:30 server time happened twice that night
    assert broker.to_utc(reading) == wall_epoch(2024, 10, 27, 3, 30, fold=0)
    assert broker.to_utc(reading) < wall_epoch(2024, 10, 27, 3, 30, fold=1)


def test_a_skipped_server_reading_is_taken_just_before_the_change():
    broker = BrokerTime()
    reading = utc(2024, 3, 31, 3, 30)  # the server clock jumped from 03:00 to 04:00
    assert broker.to_utc(reading) == wall_epoch(2024, 3, 31, 3, 30, fold=1)
    assert broker.to_utc(reading) < SPRING_2024


def test_repeated_marks_only_the_second_pass_of_the_autumn_hour():
    broker = BrokerTime()
    assert not broker.repeated(AUTUMN_2024 - 1)
    assert broker.repeated(AUTUMN_2024)
    assert broker.repeated(AUTUMN_2024 + 3599)
    assert not broker.repeated(AUTUMN_2024 + 3600)
    assert not broker.repeated(SPRING_2024 + 10)


def test_server_clock_high_mark_holds_still_during_the_repeated_hour():
    broker = BrokerTime()
    before = broker.server_msc(AUTUMN_2024 - 0.001)
    during = [broker.server_msc(AUTUMN_2024 + s) for s in (0, 1_000, 3_599.999)]
    after = broker.server_msc(AUTUMN_2024 + 3_600)
    assert before == server_reading(AUTUMN_2024 - 1) * 1000 + 999
    assert during == [before, before, before]
    assert after == before + 1
