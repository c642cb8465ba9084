"""Properties of the paper broker under random trading on real simulated prices.

Money is conserved (the balance moves only by deals), equity is balance plus floating
profit, margin follows leverage and contract size, no position exists without its
opening deal, and netting keeps one position per symbol equal to the sum of its deals.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker

from .broker_support import (
    TUESDAY,
    all_deals,
    make_market,
    market_order,
    money_of,
    pending_order,
    request,
    tick,
)

SYMBOLS = ("EURUSD", "EURGBP", "USDJPY", "XAUUSD", "BTCUSD")
PENDING = (
    mc.ORDER_TYPE_BUY_LIMIT,
    mc.ORDER_TYPE_SELL_LIMIT,
    mc.ORDER_TYPE_BUY_STOP,
    mc.ORDER_TYPE_SELL_STOP,
)
_CFD = (mc.SYMBOL_CALC_MODE_CFD, mc.SYMBOL_CALC_MODE_CFDLEVERAGE)

symbol = st.sampled_from(SYMBOLS)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("open"), symbol, st.sampled_from((0, 1)), st.integers(1, 40), st.integers(0, 60)
        ),
        st.tuples(st.just("close"), st.integers(0, 9), st.sampled_from((0.5, 1.0))),
        st.tuples(st.just("pending"), symbol, st.sampled_from(PENDING), st.integers(12, 80)),
        st.tuples(st.just("advance"), st.integers(1, 720)),
        st.tuples(st.just("close_by"), st.integers(0, 9), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture(scope="module")
def market():
    return make_market(seed=11)


def step(broker: PaperBroker, market, op: tuple) -> None:
    kind = op[0]
    if kind == "open":
        _, name, side, lots, stop_points = op
        spec = market.spec(name)
        volume = round(spec.volume_min * lots, 8)
        bid, ask = tick(market, name)
        gap = (spec.trade_stops_level + stop_points) * spec.point
        sl = 0.0 if not stop_points else round(bid - gap if side == 0 else ask + gap, spec.digits)
        broker.send(market_order(name, side, volume, type_filling=0, sl=sl))
    elif kind == "close":
        positions = broker.positions()
        if positions:
            p = positions[op[1] % len(positions)]
            spec = market.spec(p["symbol"])
            volume = max(
                spec.volume_min, round(p["volume"] * op[2] / spec.volume_step) * spec.volume_step
            )
            broker.send(
                market_order(
                    p["symbol"],
                    1 - p["type"],
                    round(min(volume, p["volume"]), 8),
                    type_filling=0,
                    position=p["ticket"],
                )
            )
    elif kind == "pending":
        _, name, order_type, distance = op
        spec = market.spec(name)
        bid, ask = tick(market, name)
        offset = (spec.trade_stops_level + distance) * spec.point
        reference = ask if order_type in (2, 4) else bid
        below = order_type in (mc.ORDER_TYPE_BUY_LIMIT, mc.ORDER_TYPE_SELL_STOP)
        price = round(reference - offset if below else reference + offset, spec.digits)
        broker.send(pending_order(name, order_type, spec.volume_min, price))
    elif kind == "advance":
        market.clock.advance(op[1] * 60)
    else:
        positions = broker.positions()
        pairs = [
            (a, b)
            for a in positions
            for b in positions
            if a["symbol"] == b["symbol"] and a["type"] != b["type"]
        ]
        if pairs:
            a, b = pairs[(op[1] * 10 + op[2]) % len(pairs)]
            broker.send(
                request(
                    action=mc.TRADE_ACTION_CLOSE_BY, position=a["ticket"], position_by=b["ticket"]
                )
            )


def expected_margin(market, broker: PaperBroker, position: dict) -> float:
    spec = market.spec(position["symbol"])
    leverage = broker.config.leverage
    if spec.trade_calc_mode in _CFD:
        notional = position["volume"] * spec.trade_contract_size * position["price_open"]
        return round(market.convert(notional / leverage, spec.currency_profit, "USD"), 2)
    amount = position["volume"] * spec.trade_contract_size / leverage
    return round(market.convert(amount, spec.currency_margin, "USD"), 2)


def check_invariants(broker: PaperBroker, market, balance_before: float, deals_before: int) -> None:
    account, positions, deals = broker.account(), broker.positions(), all_deals(broker)
    # Money is conserved: the balance is the sum of the deals, and moved only by new deals.
    assert account["balance"] == pytest.approx(money_of(deals), abs=1e-6)
    assert account["balance"] - balance_before == pytest.approx(
        money_of(deals[deals_before:]), abs=1e-6
    )
    # Equity is balance plus floating profit (swap included).
    floating = sum(p["profit"] + p["swap"] for p in positions)
    assert account["equity"] == pytest.approx(account["balance"] + floating, abs=0.006)
    assert account["margin_free"] == pytest.approx(account["equity"] - account["margin"], abs=0.006)
    # Margin follows leverage and contract size.
    margin = sum(expected_margin(market, broker, p) for p in positions)
    assert account["margin"] == pytest.approx(margin, abs=0.01 * (len(positions) + 1))
    # No position without its opening deal, and its volume is what its deals left.
    for p in positions:
        own = [d for d in deals if d["position_id"] == p["identifier"]]
        assert any(d["entry"] in (mc.DEAL_ENTRY_IN, mc.DEAL_ENTRY_INOUT) for d in own)
        if broker.config.hedging:
            opened = sum(d["volume"] for d in own if d["entry"] == mc.DEAL_ENTRY_IN)
            assert p["volume"] == pytest.approx(
                opened - sum(d["volume"] for d in own if d["entry"] != 0)
            )


def check_netting(broker: PaperBroker) -> None:
    positions, deals = broker.positions(), all_deals(broker)
    assert len({p["symbol"] for p in positions}) == len(positions)
    for name in SYMBOLS:
        signed = sum(
            d["volume"] * (1 if d["type"] == 0 else -1)
            for d in deals
            if d["symbol"] == name and d["type"] in (0, 1)
        )
        held = [
            p["volume"] * (1 if p["type"] == 0 else -1) for p in positions if p["symbol"] == name
        ]
        assert sum(held) == pytest.approx(signed, abs=1e-8)


def run(market, ops, hedging: bool) -> PaperBroker:
    market.clock.set(TUESDAY)
    broker = PaperBroker(market, balance=20000.0, hedging=hedging, commission_per_lot=5.0)
    for op in ops:
        balance, count = broker.account()["balance"], len(all_deals(broker))
        step(broker, market, op)
        check_invariants(broker, market, balance, count)
        if not hedging:
            check_netting(broker)
    return broker


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_hedging_account_invariants(market, ops):
    run(market, ops, hedging=True)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_netting_account_invariants(market, ops):
    run(market, ops, hedging=False)
