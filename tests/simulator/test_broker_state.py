"""Saving and restoring the paper broker: nothing lost, tickets go on, prices catch up."""

from __future__ import annotations

import json

import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker
from bridge_v3.simulator.broker.state import BrokerStateError

from .broker_support import all_deals, all_orders, make_market, market_order, pending_order, tick


@pytest.fixture
def market():
    return make_market()


def busy_broker(market) -> tuple[PaperBroker, int]:
    broker = PaperBroker(market, hedging=False, leverage=50, commission_per_lot=3.0, login=77)
    opened = broker.send(market_order("EURUSD", mc.ORDER_TYPE_BUY, 0.3, sl=1.0, magic=4))
    broker.send(market_order("EURUSD", mc.ORDER_TYPE_SELL, 0.1))
    broker.send(market_order("XAUUSD", mc.ORDER_TYPE_SELL, 0.05, comment="gold"))
    _, ask = tick(market, "EURUSD")
    price = round(ask - 15 * market.spec("EURUSD").point, 5)
    placed = broker.send(
        pending_order(
            "EURGBP", mc.ORDER_TYPE_BUY_STOP, 0.1, round(tick(market, "EURGBP")[1] + 0.002, 5)
        )
    )
    broker.send(pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, price))
    broker.set_trade_allowed(False)
    assert opened["retcode"] == placed["retcode"] == 10009
    return broker, placed["order"]


def snapshot(broker: PaperBroker) -> tuple:
    return (
        broker.account(),
        broker.positions(),
        broker.orders(),
        all_orders(broker),
        all_deals(broker),
        broker.trade_allowed,
    )


def test_state_survives_a_json_round_trip(market):
    broker, _ = busy_broker(market)
    state = json.loads(json.dumps(broker.to_state()))

    restored = PaperBroker.from_state(market, state)

    assert snapshot(restored) == snapshot(broker)
    assert restored.config == broker.config


def test_tickets_continue_after_a_restore(market):
    broker, _ = busy_broker(market)
    restored = PaperBroker.from_state(market, json.loads(json.dumps(broker.to_state())))
    restored.set_trade_allowed(True)
    known = {o["ticket"] for o in all_orders(restored)} | {o["ticket"] for o in restored.orders()}
    known_deals = {d["ticket"] for d in all_deals(restored)}

    result = restored.send(market_order("USDJPY", mc.ORDER_TYPE_BUY, 0.1))

    assert result["retcode"] == 10009
    assert result["order"] > max(known) and result["deal"] > max(known_deals)


def test_prices_between_save_and_restore_are_processed(market):
    broker = PaperBroker(market)
    _, ask = tick(market, "EURUSD")
    price = round(ask - 15 * market.spec("EURUSD").point, 5)
    placed = broker.send(pending_order("EURUSD", mc.ORDER_TYPE_BUY_LIMIT, 0.1, price))
    state = json.loads(json.dumps(broker.to_state()))

    market.clock.advance(3 * 86400)  # the terminal was down for three days
    restored = PaperBroker.from_state(market, state)

    assert restored.orders() == []
    assert restored.history_order(placed["order"])[0]["state"] == mc.ORDER_STATE_FILLED
    assert restored.positions()[0]["ticket"] == placed["order"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("ledger"),
        lambda s: s.update(version=99),
        lambda s: s["ledger"].update(balance="lots"),
        lambda s: s["ledger"]["deals"].append({"ticket": 1, "nonsense": True}),
    ],
    ids=["missing", "version", "type", "record"],
)
def test_a_corrupt_state_is_refused_with_a_message(market, damage):
    broker, _ = busy_broker(market)
    state = json.loads(json.dumps(broker.to_state()))
    damage(state)
    with pytest.raises(BrokerStateError, match="broker state"):
        PaperBroker.from_state(market, state)
