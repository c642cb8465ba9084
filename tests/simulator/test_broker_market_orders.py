"""Market deals: fills at bid/ask, closes, partial closes, netting and close-by."""

from __future__ import annotations

import json

import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker

from .broker_support import all_deals, all_orders, make_market, market_order, request, tick

CONTRACT = json.loads(
    (__import__("pathlib").Path(__file__).parent / "mt5_contract.json").read_text()
)


def fields(struct: str) -> list[str]:
    return [f["name"] for f in CONTRACT["structs"][struct]["fields"]]


@pytest.fixture
def market():
    return make_market()


@pytest.fixture
def broker(market):
    return PaperBroker(market, commission_per_lot=7.0)


def test_market_buy_fills_at_ask_and_opens_a_position_with_its_deal(market, broker):
    bid, ask = tick(market, "EURUSD")
    result = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1, magic=42, comment="hi"))

    assert (result["retcode"], result["comment"]) == (10009, "Request executed")
    assert (result["price"], result["bid"], result["ask"]) == (ask, bid, ask)
    [position] = broker.positions()
    assert list(position) == fields("TradePosition")
    assert position["ticket"] == position["identifier"] == result["order"]
    assert (position["type"], position["volume"], position["price_open"]) == (0, 0.1, ask)
    assert (position["magic"], position["comment"]) == (42, "hi")
    assert position["reason"] == mc.POSITION_REASON_EXPERT
    assert position["price_current"] == bid
    deal = next(d for d in all_deals(broker) if d["ticket"] == result["deal"])
    assert list(deal) == fields("TradeDeal")
    assert (deal["entry"], deal["type"], deal["reason"]) == (mc.DEAL_ENTRY_IN, 0, 3)
    assert (deal["order"], deal["position_id"], deal["magic"]) == (
        result["order"],
        result["order"],
        42,
    )
    assert deal["commission"] == -0.7


def test_times_are_server_time(market, broker):
    result = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1))
    server_now = market.broker_time.to_server(market.clock.now())

    [position] = broker.positions()
    [order] = broker.history_order(result["order"])
    assert position["time"] == order["time_setup"] == order["time_done"] == server_now
    assert server_now - market.clock.now() == pytest.approx(7200, abs=1)  # Athens winter
    assert position["time_msc"] // 1000 == position["time"]


def test_market_sell_fills_at_bid(market, broker):
    bid, _ = tick(market, "EURUSD")
    result = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.2))
    assert result["price"] == bid
    assert broker.positions()[0]["type"] == mc.POSITION_TYPE_SELL


def test_executed_market_order_is_in_history_filled(broker):
    result = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1, magic=5))
    [order] = broker.history_order(result["order"])
    assert list(order) == fields("TradeOrder")
    assert order["state"] == mc.ORDER_STATE_FILLED
    assert (order["volume_initial"], order["volume_current"]) == (0.1, 0.0)
    assert (order["reason"], order["magic"], order["position_id"]) == (3, 5, result["order"])
    assert broker.orders() == []


def test_closing_by_position_books_profit_commission_and_moves_balance(market, broker):
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.5))
    balance_after_open = broker.account()["balance"]
    market.clock.advance(3 * 3600)
    bid, _ = tick(market, "EURUSD")

    closed = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.5, position=opened["order"]))

    assert closed["retcode"] == 10009 and closed["price"] == bid
    assert broker.positions() == []
    deal = [d for d in all_deals(broker) if d["ticket"] == closed["deal"]][0]
    expected = broker.calc_profit(mc.ORDER_TYPE_BUY, "EURUSD", 0.5, opened["price"], bid)
    assert (deal["entry"], deal["type"], deal["profit"]) == (mc.DEAL_ENTRY_OUT, 1, expected)
    assert deal["position_id"] == opened["order"]
    assert deal["commission"] == -3.5
    assert broker.account()["balance"] == pytest.approx(balance_after_open + expected - 3.5)


def test_partial_close_leaves_the_rest_open(broker):
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.5))
    broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.2, position=opened["order"]))
    [position] = broker.positions()
    assert position["volume"] == pytest.approx(0.3)
    assert position["ticket"] == opened["order"]


def test_hedging_keeps_opposite_positions_apart(broker):
    broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1))
    broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1))
    assert sorted(p["type"] for p in broker.positions()) == [0, 1]
    assert broker.account()["margin_mode"] == mc.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING


def test_close_by_closes_both_at_the_opposite_open_price(market, broker):
    buy = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.3))
    market.clock.advance(1800)
    sell = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1))

    result = broker.send(
        request(action=mc.TRADE_ACTION_CLOSE_BY, position=buy["order"], position_by=sell["order"])
    )

    assert result["retcode"] == 10009
    [rest] = broker.positions()
    assert (rest["ticket"], rest["volume"]) == (buy["order"], pytest.approx(0.2))
    out_by = [d for d in all_deals(broker) if d["order"] == result["order"]]
    assert [d["entry"] for d in out_by] == [mc.DEAL_ENTRY_OUT_BY] * 2
    assert {d["position_id"] for d in out_by} == {buy["order"], sell["order"]}
    assert {d["price"] for d in out_by} == {sell["price"]}
    locked_in = broker.calc_profit(mc.ORDER_TYPE_BUY, "EURUSD", 0.1, buy["price"], sell["price"])
    assert sum(d["profit"] for d in out_by) == pytest.approx(locked_in)
    [order] = broker.history_order(result["order"])
    assert order["type"] == mc.ORDER_TYPE_CLOSE_BY
    assert (order["position_id"], order["position_by_id"]) == (buy["order"], sell["order"])


def test_netting_merges_reduces_and_reverses(market):
    broker = PaperBroker(market, hedging=False)
    first = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1))
    market.clock.advance(600)
    second = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.2))
    [position] = broker.positions()
    average = (0.1 * first["price"] + 0.2 * second["price"]) / 0.3
    assert (position["volume"], position["price_open"]) == (
        pytest.approx(0.3),
        pytest.approx(average),
    )
    identifier = position["identifier"]

    reduced = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1))
    reversed_ = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.5))

    [position] = broker.positions()
    assert (position["type"], position["volume"]) == (1, pytest.approx(0.3))
    assert (position["identifier"], position["price_open"]) == (identifier, reversed_["price"])
    entries = {d["ticket"]: d["entry"] for d in all_deals(broker)}
    assert entries[second["deal"]] == mc.DEAL_ENTRY_IN
    assert entries[reduced["deal"]] == mc.DEAL_ENTRY_OUT
    assert entries[reversed_["deal"]] == mc.DEAL_ENTRY_INOUT
    assert broker.account()["margin_mode"] == mc.ACCOUNT_MARGIN_MODE_RETAIL_NETTING


def test_netting_refuses_close_by(market):
    broker = PaperBroker(market, hedging=False)
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1))
    result = broker.send(
        request(
            action=mc.TRADE_ACTION_CLOSE_BY, position=opened["order"], position_by=opened["order"]
        )
    )
    assert result["retcode"] == mc.TRADE_RETCODE_INVALID


def test_history_starts_with_the_deposit(broker):
    [deposit] = all_deals(broker)
    assert (deposit["type"], deposit["profit"]) == (mc.DEAL_TYPE_BALANCE, 10000.0)
    assert all_orders(broker) == []
