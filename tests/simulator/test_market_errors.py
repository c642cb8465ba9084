"""Requests the real terminal refuses give its last_error codes and messages."""

from __future__ import annotations

import pytest

from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.errors import MarketError
from bridge_v3.simulator.market.market import Market
from tests.simulator.market_support import LAST_ERRORS, TF, utc

CALL_FAILED = LAST_ERRORS["RES_E_FAIL"]
INVALID = (LAST_ERRORS["RES_E_INVALID_PARAMS"][0], "Terminal: Invalid params")


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(ManualClock(utc(2024, 6, 12, 12)), BrokerTime(), seed=1, history_days=30)


def refusal(call) -> tuple[int, str]:
    with pytest.raises(MarketError) as caught:
        call()
    return caught.value.code, caught.value.message


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.rates_from_pos("NOPE", TF["H1"], 0, 10),
        lambda m: m.rates_range("EURUSD.x", TF["H1"], 0, 10),
        lambda m: m.rates_from("eurusd", TF["H1"], 0, 10),
        lambda m: m.ticks_from("NOPE", 0, 10, -1),
        lambda m: m.ticks_range("NOPE", 0, 10, -1),
        lambda m: m.tick("NOPE"),
        lambda m: m.is_open("NOPE"),
    ],
)
def test_unknown_symbol_fails_the_call(market, call):
    assert refusal(lambda: call(market)) == CALL_FAILED


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.rates_from_pos("EURUSD", 7, 0, 10),
        lambda m: m.rates_from_pos("EURUSD", TF["H1"], 0, 0),
        lambda m: m.rates_from_pos("EURUSD", TF["H1"], -1, 5),
        lambda m: m.rates_from("EURUSD", TF["H1"], 0, -5),
        lambda m: m.ticks_from("EURUSD", 0, 10, 3),
        lambda m: m.ticks_range("EURUSD", 0, 10, 0),
    ],
)
def test_invalid_parameters_are_refused(market, call):
    assert refusal(lambda: call(market)) == INVALID


def test_history_before_the_kept_days_fails(market):
    long_ago = market.broker_time.to_server(utc(2024, 1, 1))
    assert refusal(lambda: market.rates_from("EURUSD", TF["H1"], long_ago, 10)) == CALL_FAILED
    assert refusal(lambda: market.rates_from_pos("EURUSD", TF["D1"], 40, 1)) == CALL_FAILED


def test_an_empty_range_is_an_empty_array(market):
    saturday = market.broker_time.to_server(utc(2024, 6, 8, 12))
    assert len(market.rates_range("EURUSD", TF["M1"], saturday, saturday + 3600)) == 0
    assert len(market.ticks_range("EURUSD", saturday * 1000, (saturday + 3600) * 1000, -1)) == 0


def test_history_is_as_long_as_asked(market):
    days = market.rates_from_pos("BTCUSD", TF["D1"], 0, 1000)
    assert len(days) == 31  # 30 whole server days and today's forming one
