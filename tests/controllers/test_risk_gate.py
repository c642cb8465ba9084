"""The gate's rules alone, on books written out by hand: what a request does, and whether it
may in each state, within the position limits and the symbol's volume rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge_v3.controllers.risk_gate import Book, Gate, classify, judge
from bridge_v3.models.risk import RiskLimits, RiskState
from bridge_v3.services.mt5.contract import constants as mc

ACTIVE, REDUCING, HALTED = RiskState.ACTIVE, RiskState.REDUCING, RiskState.HALTED
BUY, SELL = mc.ORDER_TYPE_BUY, mc.ORDER_TYPE_SELL
SPEC = {"volume_min": 0.01, "volume_max": 50.0, "volume_step": 0.01, "volume_limit": 0.0}


def position(ticket, symbol="EURUSD", side=mc.POSITION_TYPE_BUY, volume=1.0, sl=1.05, tp=1.2):
    return {"ticket": ticket, "symbol": symbol, "type": side, "volume": volume, "sl": sl, "tp": tp}


def order(ticket, symbol="EURUSD", kind=mc.ORDER_TYPE_BUY_LIMIT, volume=0.5):
    return {"ticket": ticket, "symbol": symbol, "type": kind, "volume_current": volume}


BOOK = Book([position(1), position(2, side=mc.POSITION_TYPE_SELL, sl=1.2, tp=1.0)], [order(9)])


def gate(state=ACTIVE, book=BOOK, enabled=True, **limits) -> Gate:
    return Gate(
        state=state,
        state_reason="daily loss 6% reached MAX_DAILY_LOSS_PCT 5%",
        enabled=enabled,
        disabled_reason="reconciliation pending",
        book=book,
        limits=RiskLimits(5, 80, 200, limits.pop("max_positions", 5), **limits),
        spec=lambda symbol: dict(SPEC) if symbol != "NOSPEC" else None,
        category=lambda symbol: "crypto" if symbol.startswith("BTC") else "forex",
    )


def deal(side=BUY, volume=0.1, symbol="EURUSD", **fields) -> dict:
    return {
        "action": mc.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": side,
        **fields,
    }


CLOSE = deal(SELL, 1.0, position=1)
PARTIAL = deal(SELL, 0.4, position=1)
OPEN = deal(BUY, 0.1)
PLACE = {
    "action": mc.TRADE_ACTION_PENDING,
    "symbol": "EURUSD",
    "volume": 0.1,
    "type": mc.ORDER_TYPE_BUY_LIMIT,
}
CANCEL = {"action": mc.TRADE_ACTION_REMOVE, "order": 9}
CLOSE_BY = {"action": mc.TRADE_ACTION_CLOSE_BY, "position": 1, "position_by": 2}
TIGHTER = {"action": mc.TRADE_ACTION_SLTP, "position": 1, "sl": 1.07, "tp": 1.15}
LOOSER = {"action": mc.TRADE_ACTION_SLTP, "position": 1, "sl": 1.02, "tp": 1.2}
NO_STOP = {"action": mc.TRADE_ACTION_SLTP, "position": 1, "sl": 0.0, "tp": 1.2}
MODIFY = {"action": mc.TRADE_ACTION_MODIFY, "order": 9, "price": 1.01}


@pytest.mark.parametrize(
    ("request_", "action"),
    [
        (CLOSE, "close"),
        (PARTIAL, "partial_close"),
        (CLOSE_BY, "close_by"),
        (CANCEL, "cancel"),
        (TIGHTER, "tighten_stops"),
        ({"action": mc.TRADE_ACTION_SLTP, "position": 2, "sl": 1.15, "tp": 1.02}, "tighten_stops"),
        (LOOSER, "loosen_stops"),
        (NO_STOP, "loosen_stops"),
        (OPEN, "open"),
        (deal(SELL, 1.5, position=1), "open"),  # more than the position: not a close
        (deal(BUY, 0.5, position=1), "open"),  # the same side
        (PLACE, "place"),
        (MODIFY, "modify_order"),
        (deal(SELL, 0.5, position=77), "invalid"),
        (deal(BUY, 0), "invalid"),
        ({"action": 99}, "invalid"),
    ],
)
def test_what_a_request_does(request_, action):
    assert classify(request_, BOOK)[0] == action


def test_a_netting_account_closes_by_an_opposite_deal_without_a_ticket():
    netting = replace(BOOK, hedging=False)
    assert classify(deal(SELL, 0.5), netting)[0] == "partial_close"
    assert classify(deal(SELL, 1.0), netting)[0] == "close"
    assert classify(deal(SELL, 2.0), netting)[0] == "open"


@pytest.mark.parametrize("state", [ACTIVE, REDUCING, HALTED])
@pytest.mark.parametrize("request_", [CLOSE, PARTIAL, CLOSE_BY, CANCEL, TIGHTER])
def test_reducing_exposure_always_passes(state, request_):
    assert judge(request_, gate(state))
    assert judge(request_, gate(state, enabled=False))


@pytest.mark.parametrize("state", [REDUCING, HALTED])
@pytest.mark.parametrize("request_", [OPEN, PLACE, LOOSER, MODIFY])
def test_anything_else_is_refused_unless_active(state, request_):
    decision = judge(request_, gate(state))
    assert not decision
    assert state.value in decision.reason


@pytest.mark.parametrize("request_", [OPEN, PLACE, LOOSER, MODIFY])
def test_active_lets_the_rest_pass(request_):
    assert judge(request_, gate())


def test_trading_disabled_or_an_unknown_state_refuses_opening():
    assert "reconciliation pending" in judge(OPEN, gate(enabled=False)).reason
    assert not judge(OPEN, gate(state=None))


def test_position_limits_count_positions_and_pending_orders():
    assert judge(OPEN, gate(max_positions=4))
    refused = judge(OPEN, gate(max_positions=3))
    assert not refused and "MAX_SIMULTANEOUS_TRADES 3" in refused.reason
    crypto = replace(BOOK, positions=[*BOOK.positions, position(3, symbol="BTCUSD", volume=0.1)])
    assert not judge(deal(BUY, 0.1, "BTCUSD"), gate(book=crypto, max_crypto_positions=1))
    assert judge(OPEN, gate(book=crypto, max_crypto_positions=1))
    assert not judge(OPEN, gate(book=crypto, max_forex_positions=3))


def test_a_netting_account_adding_to_its_position_takes_no_new_slot():
    netting = Book([position(1)], [], hedging=False)
    assert judge(OPEN, gate(book=netting, max_positions=1))
    assert not judge(deal(BUY, 0.1, "GBPUSD"), gate(book=netting, max_positions=1))


@pytest.mark.parametrize(
    ("volume", "words"),
    [(0.001, "outside"), (60.0, "outside"), (0.015, "multiple"), (0.1, None)],
)
def test_volume_rules_of_the_symbol(volume, words):
    decision = judge(deal(BUY, volume), gate())
    assert bool(decision) is (words is None)
    if words:
        assert words in decision.reason


def test_the_volume_limit_counts_one_direction():
    capped = replace(gate(), spec=lambda symbol: {**SPEC, "volume_limit": 1.6})
    assert judge(deal(BUY, 0.1), capped)  # 1.0 held + 0.5 pending + 0.1
    assert not judge(deal(BUY, 0.2), capped)
    assert judge(deal(SELL, 0.6), capped)  # the sell side holds 1.0 only
    assert not judge(deal(SELL, 0.7), capped)


def test_no_specification_no_opening():
    assert "specification" in judge(deal(BUY, 0.1, "NOSPEC"), gate()).reason
