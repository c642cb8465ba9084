"""Account figures, margin and profit maths, and order_check agreeing with order_send."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker

from .broker_support import make_market, market_order, tick

CONTRACT = json.loads((Path(__file__).parent / "mt5_contract.json").read_text())


@pytest.fixture(scope="module")
def market():
    return make_market()


@pytest.fixture
def broker(market):
    return PaperBroker(market)


def test_account_has_every_field_in_order_and_a_fresh_account_adds_up(broker):
    account = broker.account()
    assert list(account) == [f["name"] for f in CONTRACT["structs"]["AccountInfo"]["fields"]]
    assert (account["balance"], account["equity"], account["margin"]) == (10000.0, 10000.0, 0.0)
    assert (account["margin_free"], account["margin_level"]) == (10000.0, 0.0)
    assert (account["currency"], account["leverage"], account["login"]) == ("USD", 100, 10000001)
    assert account["margin_so_so"] == 50.0 and account["margin_so_mode"] == 0


@pytest.mark.parametrize("symbol", ["EURUSD", "EURGBP", "USDJPY"])
def test_forex_margin_is_contract_over_leverage_in_the_margin_currency(market, broker, symbol):
    spec = market.spec(symbol)
    expected = market.convert(0.5 * spec.trade_contract_size / 100, spec.currency_margin, "USD")
    assert broker.calc_margin(mc.ORDER_TYPE_BUY, symbol, 0.5, 0.0) == pytest.approx(
        expected, abs=0.01
    )
    cheaper = PaperBroker(market, leverage=200).calc_margin(mc.ORDER_TYPE_BUY, symbol, 0.5, 0.0)
    assert cheaper == pytest.approx(expected / 2, abs=0.01)


@pytest.mark.parametrize("symbol", ["XAUUSD", "BTCUSD"])
def test_cfd_margin_is_notional_over_leverage(market, broker, symbol):
    spec = market.spec(symbol)
    _, ask = tick(market, symbol)
    expected = 0.5 * spec.trade_contract_size * ask / 100
    assert broker.calc_margin(mc.ORDER_TYPE_BUY, symbol, 0.5, ask) == pytest.approx(
        expected, abs=0.01
    )


@pytest.mark.parametrize("symbol", ["EURUSD", "EURGBP", "USDJPY", "XAUUSD", "BTCUSD"])
def test_profit_is_converted_from_the_profit_currency(market, broker, symbol):
    spec = market.spec(symbol)
    bid, ask = tick(market, symbol)
    close = ask + 50 * spec.point
    expected = market.convert(
        (close - ask) * 0.3 * spec.trade_contract_size, spec.currency_profit, "USD"
    )
    assert broker.calc_profit(0, symbol, 0.3, ask, close) == pytest.approx(expected, abs=0.01)
    assert broker.calc_profit(1, symbol, 0.3, ask, close) == pytest.approx(-expected, abs=0.01)


def test_calc_functions_refuse_unknown_symbols_and_types(broker):
    assert broker.calc_margin(0, "NOSUCH", 1.0, 1.0) is None
    assert broker.calc_profit(0, "NOSUCH", 1.0, 1.0, 1.1) is None
    assert broker.calc_profit(mc.ORDER_TYPE_BUY_LIMIT, "EURUSD", 1.0, 1.0, 1.1) is None


def test_check_passes_with_done_and_the_figures_send_then_produces(market, broker):
    broker.send(market_order("USDJPY", mc.ORDER_TYPE_SELL, 0.2))
    req = market_order("EURGBP", mc.ORDER_TYPE_BUY, 0.4)
    margin_before = broker.account()["margin"]

    checked = broker.check(req)
    sent = broker.send(req)
    after = broker.account()

    assert (checked["retcode"], checked["comment"]) == (0, "Done")
    assert sent["retcode"] == 10009
    added = broker.calc_margin(mc.ORDER_TYPE_BUY, "EURGBP", 0.4, sent["price"])
    assert checked["margin"] == after["margin"] == pytest.approx(margin_before + added)
    for key in ("balance", "equity", "profit", "margin_free", "margin_level"):
        assert checked[key] == after[key], key


def test_positions_value_at_calc_profit_and_equity_adds_up(market, broker):
    broker.send(market_order("XAUUSD", mc.ORDER_TYPE_BUY, 0.1))
    broker.send(market_order("USDJPY", mc.ORDER_TYPE_SELL, 0.3))
    market.clock.advance(5400)
    account = broker.account()
    floating = 0.0
    for position in broker.positions():
        expected = broker.calc_profit(
            position["type"],
            position["symbol"],
            position["volume"],
            position["price_open"],
            position["price_current"],
        )
        assert position["profit"] == expected
        floating += position["profit"] + position["swap"]
    assert account["equity"] == pytest.approx(account["balance"] + floating)
    assert account["margin_free"] == pytest.approx(account["equity"] - account["margin"])
    assert account["margin_level"] == pytest.approx(
        account["equity"] / account["margin"] * 100, abs=0.01
    )


def test_open_orders_and_positions_show_current_prices(market, broker):
    broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1))
    market.clock.advance(120)
    bid, _ = tick(market, "EURUSD")
    assert broker.positions()[0]["price_current"] == bid
