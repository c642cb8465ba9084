"""Profit conversion to the account currency at the current mid of the right pair."""

from __future__ import annotations

import pytest

from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.errors import MarketError
from bridge_v3.simulator.market.market import Market
from tests.simulator.market_support import utc


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(ManualClock(utc(2024, 6, 12, 15, 45, 30)), BrokerTime(), seed=11)


def mid(market: Market, name: str) -> float:
    tick = market.tick(name)
    return (float(tick["bid"]) + float(tick["ask"])) / 2


@pytest.mark.parametrize("name", ["EURGBP", "USDJPY", "XAUUSD", "BTCUSD", "EURJPY", "ETHUSD"])
def test_every_symbols_profit_currency_converts_to_usd(market, name):
    profit_currency = market.spec(name).currency_profit
    converted = market.convert(100.0, profit_currency, "USD")
    if profit_currency == "USD":
        assert converted == 100.0
    elif profit_currency == "JPY":
        assert converted == pytest.approx(100.0 / mid(market, "USDJPY"))
    else:
        assert converted == pytest.approx(100.0 * mid(market, profit_currency + "USD"))


def test_conversion_without_a_direct_pair_goes_through_usd(market):
    # No AUDCHF in the catalogue: AUD -> USD -> CHF.
    expected = 50.0 * mid(market, "AUDUSD") * mid(market, "USDCHF")
    assert market.convert(50.0, "AUD", "CHF") == pytest.approx(expected)


def test_conversion_there_and_back_is_the_identity(market):
    there = market.convert(1_000.0, "GBP", "JPY")
    assert market.convert(there, "JPY", "GBP") == pytest.approx(1_000.0, rel=1e-3)


def test_conversion_follows_the_clock():
    clock = ManualClock(utc(2024, 6, 12, 10))
    market = Market(clock, BrokerTime(), seed=11)
    before = market.convert(1.0, "EUR", "USD")
    clock.advance(3 * 3600)
    assert market.convert(1.0, "EUR", "USD") == pytest.approx(mid(market, "EURUSD"))
    assert market.convert(1.0, "EUR", "USD") != before


def test_unknown_currency_cannot_be_converted(market):
    with pytest.raises(MarketError) as caught:
        market.convert(1.0, "ZAR", "USD")
    assert caught.value.code == -1 and "ZAR" in caught.value.detail
