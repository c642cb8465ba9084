"""Every refusal code the paper broker gives, in order_send and order_check alike."""

from __future__ import annotations

import dataclasses

import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker
from bridge_v3.simulator.market.symbols import default_catalogue

from .broker_support import SATURDAY, make_market, market_order, pending_order, request, tick


@pytest.fixture(scope="module")
def market():
    return make_market()


@pytest.fixture
def broker(market):
    return PaperBroker(market, balance=10000.0)


def refused(broker: PaperBroker, req: dict, retcode: int, comment: str) -> dict:
    """Assert both send and check refuse ``req`` with ``retcode`` and change nothing."""
    before = (broker.account(), broker.positions(), broker.orders())
    checked, sent = broker.check(req), broker.send(req)
    assert (checked["retcode"], checked["comment"]) == (retcode, comment)
    assert (sent["retcode"], sent["comment"]) == (retcode, comment)
    assert (sent["deal"], sent["order"]) == (0, 0)
    assert (broker.account(), broker.positions(), broker.orders()) == before
    return sent


def test_autotrading_off_gives_10027(broker):
    broker.set_trade_allowed(False)
    refused(broker, market_order("EURUSD", 0, 0.1), 10027, "AutoTrading disabled by client")
    broker.set_trade_allowed(True)
    assert broker.send(market_order("EURUSD", 0, 0.1))["retcode"] == 10009


@pytest.mark.parametrize(
    "req",
    [
        request(action=99, symbol="EURUSD", volume=0.1),
        market_order("NOSUCH", 0, 0.1),
        market_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1),
        pending_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1, 1.0),
        request(action=mc.TRADE_ACTION_SLTP, position=123456, sl=1.0),
        request(action=mc.TRADE_ACTION_MODIFY, order=123456, price=1.0),
        request(action=mc.TRADE_ACTION_REMOVE, order=123456),
    ],
    ids=[
        "action",
        "symbol",
        "deal-with-pending-type",
        "pending-with-market-type",
        "sltp",
        "modify",
        "remove",
    ],
)
def test_invalid_requests_give_10013(broker, req):
    refused(broker, req, 10013, "Invalid request")


@pytest.mark.parametrize("volume", [0.0, 0.001, 0.015, 100.01, 1000.0])
def test_volume_off_min_max_or_step_gives_10014(broker, volume):
    refused(broker, market_order("EURUSD", 0, volume), 10014, "Invalid volume")


@pytest.mark.parametrize("side", ["sl", "tp"])
def test_stops_on_the_wrong_side_give_10016(market, broker, side):
    bid, _ = tick(market, "EURUSD")
    refused(
        broker,
        market_order(
            "EURUSD",
            mc.ORDER_TYPE_BUY,
            0.1,
            **{side: bid + 0.001} if side == "sl" else {side: bid - 0.001},
        ),
        10016,
        "Invalid stops",
    )


def test_stops_inside_the_stops_level_give_10016(market, broker):
    bid, _ = tick(market, "EURUSD")
    level = market.spec("EURUSD").trade_stops_level * market.spec("EURUSD").point
    too_close = round(bid - level / 2, 5)
    refused(broker, market_order("EURUSD", 0, 0.1, sl=too_close), 10016, "Invalid stops")
    far_enough = round(bid - 2 * level, 5)
    assert broker.send(market_order("EURUSD", 0, 0.1, sl=far_enough))["retcode"] == 10009


def test_filling_not_allowed_gives_10030(broker):
    # EURUSD: market execution with FOK|IOC, so RETURN and BOC are refused for market orders.
    for filling in (mc.ORDER_FILLING_RETURN, mc.ORDER_FILLING_BOC):
        req = market_order("EURUSD", 0, 0.1, type_filling=filling)
        refused(broker, req, 10030, "Unsupported filling mode")
    # BTCUSD: instant execution, Fill or Kill only.
    refused(
        broker,
        market_order("BTCUSD", 0, 0.1, type_filling=mc.ORDER_FILLING_IOC),
        10030,
        "Unsupported filling mode",
    )
    assert broker.send(market_order("BTCUSD", 0, 0.1, type_filling=0))["retcode"] == 10009


def test_market_closed_gives_10018():
    weekend = make_market(start=SATURDAY)
    broker = PaperBroker(weekend)
    refused(broker, market_order("EURUSD", 0, 0.1), 10018, "Market closed")
    assert broker.send(market_order("BTCUSD", 0, 0.01, type_filling=0))["retcode"] == 10009


def test_not_enough_margin_gives_10019(market):
    broker = PaperBroker(market, balance=100.0)
    req = market_order("EURUSD", 0, 1.0)
    checked, sent = broker.check(req), broker.send(req)
    assert (checked["retcode"], checked["comment"]) == (10019, "No money")
    assert checked["margin_free"] < 0 and checked["margin"] == broker.calc_margin(
        0, "EURUSD", 1.0, 0.0
    )
    assert (sent["retcode"], sent["comment"]) == (10019, "No money")
    assert broker.positions() == []
    assert broker.send(market_order("EURUSD", 0, 0.01))["retcode"] == 10009


def test_requote_when_the_price_moved_beyond_deviation(market, broker):
    bid, ask = tick(market, "BTCUSD")
    point = market.spec("BTCUSD").point
    stale = round(ask - 500 * point, 2)
    req = market_order("BTCUSD", 0, 0.01, type_filling=0, price=stale, deviation=100)
    sent = refused(broker, req, 10004, "Requote")
    assert (sent["bid"], sent["ask"]) == (bid, ask)
    within = market_order("BTCUSD", 0, 0.01, type_filling=0, price=stale, deviation=600)
    assert broker.send(within)["retcode"] == 10009


def test_market_execution_ignores_the_stated_price(market, broker):
    _, ask = tick(market, "EURUSD")
    req = market_order("EURUSD", 0, 0.1, price=round(ask - 0.01, 5), deviation=0)
    result = broker.send(req)
    assert (result["retcode"], result["price"]) == (10009, ask)


def test_pending_price_on_the_wrong_side_gives_10015(market, broker):
    bid, ask = tick(market, "EURUSD")
    for order_type, price in [
        (mc.ORDER_TYPE_BUY_LIMIT, ask + 0.001),
        (mc.ORDER_TYPE_SELL_LIMIT, bid - 0.001),
        (mc.ORDER_TYPE_BUY_STOP, ask - 0.001),
        (mc.ORDER_TYPE_SELL_STOP, bid + 0.001),
        (mc.ORDER_TYPE_BUY_LIMIT, 0.0),
    ]:
        refused(broker, pending_order("EURUSD", order_type, 0.1, price), 10015, "Invalid price")


def test_pending_stops_are_judged_from_the_order_price(market, broker):
    _, ask = tick(market, "EURUSD")
    price = round(ask - 0.002, 5)
    bad = pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, price, sl=price + 0.0005)
    refused(broker, bad, 10016, "Invalid stops")


def test_expiration_in_the_past_gives_10022(market, broker):
    _, ask = tick(market, "EURUSD")
    past = market.broker_time.to_server(market.clock.now()) - 60
    req = pending_order(
        "EURUSD",
        mc.ORDER_TYPE_BUY_LIMIT,
        0.1,
        round(ask - 0.002, 5),
        type_time=mc.ORDER_TIME_SPECIFIED,
        expiration=past,
    )
    refused(broker, req, 10022, "Invalid expiration")


def test_closing_a_closed_position_gives_10036_and_too_much_10038(broker):
    opened = broker.send(market_order("EURUSD", 0, 0.1))
    too_much = market_order("EURUSD", 1, 0.2, position=opened["order"])
    refused(broker, too_much, 10038, "Invalid close volume")
    broker.send(market_order("EURUSD", 1, 0.1, position=opened["order"]))
    again = market_order("EURUSD", 1, 0.1, position=opened["order"])
    refused(broker, again, 10036, "Position already closed")


def test_sltp_without_change_gives_10025(broker):
    opened = broker.send(market_order("EURUSD", 0, 0.1))
    req = request(action=mc.TRADE_ACTION_SLTP, symbol="EURUSD", position=opened["order"])
    refused(broker, req, 10025, "No changes")


def test_trade_mode_of_the_symbol_is_honoured():
    specs = [
        dataclasses.replace(s, trade_mode=mc.SYMBOL_TRADE_MODE_LONGONLY)
        if s.name == "EURUSD"
        else s
        for s in default_catalogue()
    ]
    broker = PaperBroker(make_market(symbols=specs))
    refused(broker, market_order("EURUSD", 1, 0.1), 10042, "Long positions only allowed")
    assert broker.send(market_order("EURUSD", 0, 0.1))["retcode"] == 10009
