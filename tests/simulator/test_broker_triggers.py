"""Prices acting on orders and positions: pending fills, stop-limits, SL/TP, expiry,
stop-out and swaps, each checked against the first tick of the real price path."""

from __future__ import annotations

import numpy as np
import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker

from .broker_support import (
    advance_until,
    all_deals,
    make_market,
    market_order,
    path,
    pending_order,
    request,
    server_msc,
    tick,
)


@pytest.fixture
def market():
    return make_market()


@pytest.fixture
def broker(market):
    return PaperBroker(market)


def points(market, symbol: str, n: int) -> float:
    return n * market.spec(symbol).point


def first(mask: np.ndarray) -> int:
    assert mask.any(), "the price path never reached the level"
    return int(np.argmax(mask))


def test_buy_limit_fills_at_the_first_tick_whose_ask_reaches_it(market, broker):
    _, ask = tick(market, "EURUSD")
    price = round(ask - points(market, "EURUSD", 15), 5)
    placed = broker.send(pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, price, magic=9))
    start = server_msc(market)
    assert (placed["retcode"], placed["deal"]) == (10009, 0)
    [order] = broker.orders()
    assert (order["state"], order["price_open"], order["volume_current"]) == (1, price, 0.1)

    advance_until(market, lambda: not broker.orders())

    ticks = path(market, "EURUSD", start, server_msc(market))
    hit = ticks[first(ticks["ask"] <= price)]
    [done] = broker.history_order(placed["order"])
    assert (done["state"], done["time_done_msc"]) == (mc.ORDER_STATE_FILLED, hit["time_msc"])
    [deal] = broker.history_deals_by_position(placed["order"])
    assert (deal["price"], deal["time_msc"], deal["entry"]) == (hit["ask"], hit["time_msc"], 0)
    assert (deal["reason"], deal["magic"], deal["order"]) == (3, 9, placed["order"])
    [position] = broker.positions()
    assert (position["ticket"], position["price_open"]) == (placed["order"], hit["ask"])


def test_sell_stop_fills_at_the_first_tick_whose_bid_falls_to_it(market, broker):
    bid, _ = tick(market, "EURUSD")
    price = round(bid - points(market, "EURUSD", 15), 5)
    placed = broker.send(pending_order("EURUSD", mc.ORDER_TYPE_SELL_STOP, 0.1, price))
    start = server_msc(market)

    advance_until(market, lambda: not broker.orders())

    ticks = path(market, "EURUSD", start, server_msc(market))
    hit = ticks[first(ticks["bid"] <= price)]
    [deal] = broker.history_deals_by_position(placed["order"])
    assert (deal["price"], deal["time_msc"], deal["type"]) == (hit["bid"], hit["time_msc"], 1)


def test_buy_stop_limit_becomes_a_limit_then_fills(market, broker):
    _, ask = tick(market, "EURUSD")
    stop = round(ask + points(market, "EURUSD", 15), 5)
    limit = round(stop - points(market, "EURUSD", 12), 5)
    placed = broker.send(
        pending_order("EURUSD", mc.ORDER_TYPE_BUY_STOP_LIMIT, 0.1, stop, stoplimit=limit)
    )
    start = server_msc(market)
    assert placed["retcode"] == 10009

    advance_until(market, lambda: not broker.orders(), step=1800)

    ticks = path(market, "EURUSD", start, server_msc(market))
    activated = first(ticks["ask"] >= stop)
    filled = activated + 1 + first(ticks["ask"][activated + 1 :] <= limit)
    [deal] = broker.history_deals_by_position(placed["order"])
    assert (deal["price"], deal["time_msc"]) == (ticks["ask"][filled], ticks["time_msc"][filled])
    [done] = broker.history_order(placed["order"])
    assert (done["type"], done["price_open"]) == (mc.ORDER_TYPE_BUY_LIMIT, limit)


def test_stop_loss_closes_at_the_first_tick_reaching_it(market, broker):
    bid, _ = tick(market, "EURUSD")
    sl = round(bid - points(market, "EURUSD", 15), 5)
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1, sl=sl))
    start = server_msc(market)

    advance_until(market, lambda: not broker.positions())

    ticks = path(market, "EURUSD", start, server_msc(market))
    hit = ticks[first(ticks["bid"] <= sl)]
    closing = [d for d in broker.history_deals_by_position(opened["order"]) if d["entry"] == 1]
    [deal] = closing
    assert (deal["reason"], deal["price"], deal["time_msc"]) == (4, hit["bid"], hit["time_msc"])
    assert deal["comment"] == f"[sl {sl:.5f}]"
    assert deal["profit"] == broker.calc_profit(0, "EURUSD", 0.1, opened["price"], hit["bid"])
    [order] = broker.history_order(deal["order"])
    assert (order["reason"], order["type"], order["state"]) == (mc.ORDER_REASON_SL, 1, 4)


def test_take_profit_of_a_sell_watches_the_ask(market, broker):
    _, ask = tick(market, "EURUSD")
    tp = round(ask - points(market, "EURUSD", 15), 5)
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1, tp=tp))
    start = server_msc(market)

    advance_until(market, lambda: not broker.positions())

    ticks = path(market, "EURUSD", start, server_msc(market))
    hit = ticks[first(ticks["ask"] <= tp)]
    deal = [d for d in broker.history_deals_by_position(opened["order"]) if d["entry"] == 1][0]
    assert (deal["reason"], deal["price"], deal["type"]) == (5, hit["ask"], mc.DEAL_TYPE_BUY)


def test_sltp_moves_the_stops_that_then_trigger(market, broker):
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.1))
    bid, _ = tick(market, "EURUSD")
    tp = round(bid + points(market, "EURUSD", 15), 5)
    result = broker.send(
        request(action=mc.TRADE_ACTION_SLTP, symbol="EURUSD", position=opened["order"], tp=tp)
    )
    assert result["retcode"] == 10009
    assert broker.positions()[0]["tp"] == tp
    start = server_msc(market)

    advance_until(market, lambda: not broker.positions())

    ticks = path(market, "EURUSD", start, server_msc(market))
    hit = ticks[first(ticks["bid"] >= tp)]
    deal = [d for d in broker.history_deals_by_position(opened["order"]) if d["entry"] == 1][0]
    assert (deal["reason"], deal["time_msc"]) == (mc.DEAL_REASON_TP, hit["time_msc"])


def test_a_filled_pending_order_can_hit_its_own_stop_in_one_update(market, broker):
    _, ask = tick(market, "EURUSD")
    price = round(ask - points(market, "EURUSD", 15), 5)
    sl = round(price - points(market, "EURUSD", 15), 5)
    placed = broker.send(pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, price, sl=sl))
    start = server_msc(market)

    market.clock.advance(3 * 86400)  # one call sees three days at once
    broker.update()

    ticks = path(market, "EURUSD", start, server_msc(market))
    filled = first(ticks["ask"] <= price)
    stopped = filled + 1 + first(ticks["bid"][filled + 1 :] <= sl)
    deals = broker.history_deals_by_position(placed["order"])
    assert [(d["entry"], d["time_msc"]) for d in deals] == [
        (0, ticks["time_msc"][filled]),
        (1, ticks["time_msc"][stopped]),
    ]


def test_modify_and_remove_a_pending_order(market, broker):
    _, ask = tick(market, "EURUSD")
    placed = broker.send(
        pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, round(ask - 0.01, 5))
    )
    new_price = round(ask - 0.02, 5)
    modified = broker.send(
        request(
            action=mc.TRADE_ACTION_MODIFY,
            order=placed["order"],
            price=new_price,
            sl=round(new_price - 0.005, 5),
        )
    )
    assert modified["retcode"] == 10009
    [order] = broker.orders()
    assert (order["price_open"], order["sl"]) == (new_price, round(new_price - 0.005, 5))

    removed = broker.send(request(action=mc.TRADE_ACTION_REMOVE, order=placed["order"]))

    assert removed["retcode"] == 10009 and broker.orders() == []
    [done] = broker.history_order(placed["order"])
    assert done["state"] == mc.ORDER_STATE_CANCELED


def test_orders_expire_at_their_time(market, broker):
    _, ask = tick(market, "EURUSD")
    server_now = market.broker_time.to_server(market.clock.now())
    far = round(ask - 0.05, 5)
    specified = broker.send(
        pending_order(
            "EURUSD",
            mc.ORDER_TYPE_BUY_LIMIT,
            0.1,
            far,
            type_time=mc.ORDER_TIME_SPECIFIED,
            expiration=server_now + 3600,
        )
    )
    today = broker.send(
        pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, far, type_time=mc.ORDER_TIME_DAY)
    )
    market.clock.advance(1800)
    assert len(broker.orders()) == 2

    market.clock.advance(86400)

    assert broker.orders() == []
    [first_done] = broker.history_order(specified["order"])
    assert (first_done["state"], first_done["time_done"]) == (6, server_now + 3600)
    assert first_done["time_expiration"] == server_now + 3600
    [second_done] = broker.history_order(today["order"])
    midnight = (server_now // 86400 + 1) * 86400
    assert (second_done["state"], second_done["time_done"]) == (6, midnight)


def test_stop_out_closes_at_the_first_tick_below_the_level(market):
    margin = PaperBroker(market).calc_margin(0, "BTCUSD", 1.0, tick(market, "BTCUSD")[1])
    broker = PaperBroker(market, balance=round(margin * 1.2, 2))
    opened = broker.send(market_order("BTCUSD", mc.ORDER_TYPE_SELL, 1.0, type_filling=0))
    assert opened["retcode"] == 10009
    balance, start = broker.account()["balance"], server_msc(market)

    advance_until(market, lambda: not broker.positions(), step=3600)

    ticks = path(market, "BTCUSD", start, server_msc(market))
    equity = balance + (opened["price"] - ticks["ask"]) * 1.0
    hit = ticks[first(equity / margin * 100.0 <= 50.0)]
    [deal] = [d for d in broker.history_deals_by_position(opened["order"]) if d["entry"] == 1]
    assert (deal["reason"], deal["price"], deal["time_msc"]) == (6, hit["ask"], hit["time_msc"])
    assert deal["comment"].startswith("[so ")
    assert broker.history_order(deal["order"])[0]["reason"] == mc.ORDER_REASON_SO


def test_swap_accrues_each_night_triple_on_wednesday_and_is_booked_on_close(market, broker):
    spec = market.spec("EURUSD")
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 1.0))
    night = spec.swap_long * spec.point * spec.trade_contract_size * 1.0  # USD profit currency
    market.clock.advance(86400)  # past Wednesday's server midnight: one night
    [position] = broker.positions()
    assert position["swap"] == pytest.approx(round(night, 2))
    account = broker.account()
    assert account["equity"] == pytest.approx(
        account["balance"] + position["profit"] + position["swap"]
    )

    market.clock.advance(86400)  # past Thursday's: Wednesday night counts three
    assert broker.positions()[0]["swap"] == pytest.approx(round(night, 2) * 4)
    balance = broker.account()["balance"]
    closed = broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 1.0, position=opened["order"]))

    [deal] = [d for d in all_deals(broker) if d["ticket"] == closed["deal"]]
    assert deal["swap"] == pytest.approx(round(night, 2) * 4)
    assert broker.account()["balance"] == pytest.approx(balance + deal["profit"] + deal["swap"])
