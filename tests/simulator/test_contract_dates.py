"""Date arguments are read the way the real module reads them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bridge_v3.simulator.contract.arguments import date_arg
from bridge_v3.simulator.contract.errors import CallFailed
from tests.simulator.face_support import build_terminal, clock_of

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def mt5():
    terminal = build_terminal()
    assert terminal.initialize()
    return terminal


def test_int_float_and_aware_datetime_are_epoch_seconds() -> None:
    moment = dt.datetime(2025, 1, 15, 10, 0, 30, tzinfo=UTC)
    assert date_arg(int(moment.timestamp())) == int(moment.timestamp())
    assert date_arg(moment.timestamp() + 0.9) == int(moment.timestamp())
    assert date_arg(moment) == int(moment.timestamp())


def test_naive_datetime_is_read_in_the_host_zone_like_the_real_module() -> None:
    naive = dt.datetime(2025, 1, 15, 10, 0)
    assert date_arg(naive) == int(naive.timestamp())


def test_dates_are_truncated_to_32_bits() -> None:
    after_2038 = dt.datetime(2040, 1, 1, tzinfo=UTC)
    assert date_arg(after_2038) == int(after_2038.timestamp()) - 2**32


@pytest.mark.parametrize(
    "bad", [np.datetime64("2025-01-15"), dt.date(2025, 1, 15), "2025-01-15", None]
)
def test_other_date_types_are_invalid_arguments(bad) -> None:
    with pytest.raises(CallFailed) as raised:
        date_arg(bad)
    assert raised.value.error == (-2, "Invalid arguments")


@pytest.mark.parametrize("bad", [np.datetime64("2025-01-15"), "2025-01-15"])
def test_copy_rates_from_with_a_bad_date_returns_none(mt5, bad) -> None:
    assert mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, bad, 10) is None
    assert mt5.last_error() == (-2, "Invalid arguments")


def test_datetime_and_int_give_the_same_bars(mt5) -> None:
    server = mt5._market.broker_time.to_server(clock_of(mt5).now()) - 3600
    as_datetime = dt.datetime.fromtimestamp(server, UTC)
    by_int = mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, server, 5)
    by_datetime = mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, as_datetime, 5)
    assert len(by_int) == 5 and np.array_equal(by_int, by_datetime)
    assert by_int["time"][-1] <= server
