"""The order executor against the simulated terminal, PostgreSQL and Redis: safety mode never
reaches the terminal; live orders are gated, checked, journalled before one order_send and
sized by risk; requotes, IPC timeouts, AutoTrading off, a closed market and a terminal that
drops during order_send lose no intent and double no order."""

from __future__ import annotations

import math

import pytest

from bridge_v3.exceptions import ConfigError
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.faults import FaultPlan
from tests.controllers.execution_support import (
    LOGIN,
    checks,
    configured,
    faulty,
    intents,
    sends,
    start,
)
from tests.controllers.trade_support import make_desk, rows

SATURDAY = 1774692000.0  # Saturday 28 March 2026 10:00 UTC: forex closed


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    made = make_desk(fresh_database, redis_prefix, tmp_path)
    yield made
    for bridge in list(made.bridges):
        made.stop(bridge)


def live(desk, **trading):
    return start(desk, configured(desk, live=True, **trading))


def stops(desk, side="buy", distance=0.0030):
    price = desk.ask() if side == "buy" else desk.bid()
    sign = 1 if side == "buy" else -1
    return {"sl": price - sign * distance, "tp": price + sign * 2 * distance}


def open_buy(bridge, desk, **extra):
    bridge.risk.run_check()  # as the risk job does every few seconds
    fields = {"reason": "test entry", **stops(desk), **extra}
    return bridge.executor.open("tester", "EURUSD", "buy", **fields)


def positions(desk):
    return list(desk.mt5.positions_get() or ())


# -- safety mode ------------------------------------------------------------------------------


def test_safety_mode_refuses_every_method_without_reaching_the_terminal(desk, fresh_database):
    ticket = desk.buy(0.1)  # a position made by hand, for close and modify to aim at
    bridge = start(desk, configured(desk, live=False))
    before = desk.simulation.calls()

    outcomes = [
        open_buy(bridge, desk),
        bridge.executor.close(ticket, reason="flatten", by="alice"),
        bridge.executor.cancel(123, reason="tidy", by="alice"),
        bridge.executor.modify(ticket, sl=1.0, tp=0.0, reason="tighten", by="alice"),
    ]

    after = desk.simulation.calls()
    assert [o.status for o in outcomes] == ["refused"] * 4
    assert all("TRADING_MODE=safety" in o.reason for o in outcomes)
    for name in ("order_send", "order_check", "symbol_info", "positions_get"):
        assert after.get(name, 0) == before.get(name, 0), name
    recorded = intents(fresh_database)
    assert [(i["kind"], i["status"]) for i in recorded] == [
        ("open", "refused"),
        ("close", "refused"),
        ("cancel", "refused"),
        ("modify", "refused"),
    ]
    assert len(positions(desk)) == 1


# -- live mode: the normal path ------------------------------------------------------------------


def test_an_entry_is_sized_by_risk_journalled_first_and_filled_once(desk, fresh_database):
    bridge = live(desk)
    equity = desk.mt5.account_info().equity
    info = desk.mt5.symbol_info("EURUSD")
    levels = stops(desk, distance=0.0040)

    outcome = bridge.executor.open("tester", "EURUSD", "buy", reason="test entry", **levels)

    assert outcome.status == "filled" and outcome.retcode == mc.TRADE_RETCODE_DONE
    loss_per_lot = (desk.ask() - levels["sl"]) / info.trade_tick_size * info.trade_tick_value_loss
    expected = math.floor(equity * 0.01 / loss_per_lot / info.volume_step + 1e-9) * 0.01
    (position,) = positions(desk)
    assert position.volume == pytest.approx(expected)
    assert position.volume * loss_per_lot <= equity * 0.01 + 1e-6
    (intent,) = intents(fresh_database)
    assert intent["status"] == "filled" and intent["attempts"] == 1
    assert position.comment == intent["comment"] == f"b3:{intent['intent_id']}"
    assert len(intent["comment"]) <= 31 and intent["comment"].isascii()
    assert intent["position_ticket"] == position.ticket == outcome.position
    assert sends(desk) == 1 and checks(desk) == 1


def test_the_intent_is_committed_before_order_send_is_called(desk, fresh_database):
    bridge = live(desk)
    client = faulty(desk)
    bridge.mt5._client = client  # the bridge's open client: journal seen from the terminal
    seen = []
    client.before["order_send"] = lambda: seen.extend(intents(fresh_database))

    outcome = open_buy(bridge, desk)

    assert outcome.status == "filled"
    assert [(i["intent_id"], i["status"]) for i in seen] == [(outcome.intent_id, "pending")]


def test_filling_follows_the_symbols_mask_and_a_refused_check_stops_the_order(desk, fresh_database):
    bridge = live(desk)
    sent = []
    desk.client.edits["order_send"] = lambda result, error: (sent.append(result), (result, error))[
        1
    ]

    open_buy(bridge, desk)
    refused = open_buy(bridge, desk, sl=desk.ask() + 0.01)  # a stop on the wrong side

    assert sent[0]["request"]["type_filling"] == mc.ORDER_FILLING_FOK  # EURUSD allows FOK|IOC
    assert refused.status == "rejected" and refused.retcode == mc.TRADE_RETCODE_INVALID_STOPS
    assert "order_check" in refused.reason
    assert sends(desk) == 1  # the refused check sent nothing
    assert [i["status"] for i in intents(fresh_database)] == ["filled", "rejected"]


def test_the_risk_gate_decides_before_the_terminal_is_asked(desk, fresh_database):
    bridge = live(desk, order_retries=0)
    checked = checks(desk)

    outcome = bridge.executor.open(
        "tester", "EURUSD", "buy", volume=0.015, reason="odd size", **stops(desk)
    )

    assert outcome.status == "refused" and "risk gate" in outcome.reason
    assert "multiple" in outcome.reason
    assert checks(desk) == checked and sends(desk) == 0


def test_too_small_a_risk_budget_is_refused_with_the_reason(desk, fresh_database):
    bridge = start(desk, configured(desk, live=True))
    bridge.executor._settings = bridge.executor._settings.__class__(
        **{**bridge.executor._settings.__dict__, "risk_per_trade": 0.0001}
    )

    outcome = open_buy(bridge, desk)

    assert outcome.status == "refused" and "below EURUSD's minimum of 0.01" in outcome.reason
    assert sends(desk) == 0


def test_close_modify_and_cancel_by_ticket(desk, fresh_database):
    bridge = live(desk)
    entry = open_buy(bridge, desk)
    order = desk.send(
        action=mc.TRADE_ACTION_PENDING,
        symbol="EURUSD",
        volume=0.1,
        type=mc.ORDER_TYPE_BUY_LIMIT,
        price=round(desk.ask() - 0.01, 5),
        type_filling=mc.ORDER_FILLING_RETURN,
    ).order
    (position,) = positions(desk)

    tighter = bridge.executor.modify(
        entry.position, sl=position.sl + 0.001, tp=position.tp, reason="tighten", by="alice"
    )
    cancelled = bridge.executor.cancel(int(order), reason="tidy", by="alice")
    closed = bridge.executor.close(entry.position, reason="flatten", by="alice")

    assert (tighter.status, cancelled.status, closed.status) == ("done", "done", "filled")
    assert positions(desk) == [] and not desk.mt5.orders_get()
    recorded = intents(fresh_database)
    assert [i["requested_by"] for i in recorded] == ["tester", "alice", "alice", "alice"]
    assert recorded[-1]["magic"] == recorded[0]["magic"]  # the close keeps the position's magic


def test_while_halted_exits_and_tighter_stops_pass_entries_and_looser_stops_do_not(
    desk, fresh_database
):
    bridge = live(desk)
    entry = open_buy(bridge, desk, volume=1.0, sl=0.5, tp=2.0)
    bridge.trades.sync()
    bridge.risk.run_check()
    desk.simulation.market.shock("EURUSD", -3)
    for _ in range(2):
        desk.later(5)
        bridge.risk.run_check()
    assert bridge.risk.state.value == "HALTED"
    (position,) = positions(desk)

    refused = open_buy(bridge, desk)
    looser = bridge.executor.modify(
        entry.position, sl=position.sl - 0.002, tp=position.tp, reason="loosen", by="bob"
    )
    closed = bridge.executor.close(entry.position, reason="flatten", by="bob")

    assert refused.status == "refused" and "HALTED" in refused.reason
    assert looser.status == "refused" and "HALTED" in looser.reason
    assert closed.status == "filled" and positions(desk) == []


# -- faults -------------------------------------------------------------------------------------


def test_requotes_are_sent_again_with_a_fresh_price_and_give_one_position(desk, fresh_database):
    bridge = live(desk, order_retries=3)
    client = faulty(desk)
    bridge.mt5._client = client
    answers = iter([mc.TRADE_RETCODE_REQUOTE, mc.TRADE_RETCODE_PRICE_OFF])
    client.fault_during("order_send", desk.mt5, FaultPlan(seed=1, requote_rate=1.0))
    real = client.before["order_send"]
    client.before["order_send"] = lambda: real() if next(answers, None) else None

    outcome = open_buy(bridge, desk, price=desk.ask(), price_tolerance=0.01)

    assert outcome.status == "filled"
    (intent,) = intents(fresh_database)
    assert intent["attempts"] == 3 and sends(desk) == 3
    assert len(positions(desk)) == 1


def test_requotes_stop_after_order_retries_and_beyond_the_tolerance(desk, fresh_database):
    bridge = live(desk, order_retries=2)
    client = faulty(desk)
    bridge.mt5._client = client
    client.fault_during("order_send", desk.mt5, FaultPlan(seed=1, requote_rate=1.0))

    exhausted = open_buy(bridge, desk, price=desk.ask(), price_tolerance=0.01)
    moved = open_buy(bridge, desk, price=desk.ask() - 0.01, price_tolerance=0.0001)

    assert exhausted.status == "rejected" and exhausted.retcode == mc.TRADE_RETCODE_REQUOTE
    assert moved.status == "refused" and "tolerance" in moved.reason
    assert [i["attempts"] for i in intents(fresh_database)] == [3, 0]
    assert sends(desk) == 3 and positions(desk) == []


def test_an_answer_lost_after_the_order_was_made_is_found_not_sent_again(desk, fresh_database):
    bridge = live(desk)
    client = faulty(desk)
    bridge.mt5._client = client
    client.edits["order_send"] = lambda result, error: (None, (-10005, "IPC timeout"))

    outcome = open_buy(bridge, desk)

    assert outcome.status == "filled"  # looked up by its comment and magic
    (position,) = positions(desk)
    assert outcome.position == position.ticket and sends(desk) == 1
    (intent,) = intents(fresh_database)
    assert intent["status"] == "filled" and intent["attempts"] == 1


def test_an_ipc_timeout_before_the_order_blocks_new_entries_until_resolved(desk, fresh_database):
    bridge = live(desk)
    client = faulty(desk)
    bridge.mt5._client = client
    client.fault_during("order_send", desk.mt5, FaultPlan(seed=1, ipc_timeout_rate=1.0))

    lost = open_buy(bridge, desk)
    client.before.pop("order_send"), client.after.pop("order_send")
    blocked = open_buy(bridge, desk)
    desk.later(61)  # nothing on the terminal a minute on: it never happened
    again = open_buy(bridge, desk)

    assert lost.status == "unknown"
    assert blocked.status == "refused" and "still unknown" in blocked.reason
    assert again.status == "filled"
    statuses = {i["intent_id"]: i["status"] for i in intents(fresh_database)}
    assert statuses[lost.intent_id] == "failed"
    assert len(positions(desk)) == 1 and sends(desk) == 2


def test_a_terminal_that_drops_during_order_send_loses_no_intent(desk, fresh_database):
    bridge = live(desk)
    client = faulty(desk)
    bridge.mt5._client = client
    now = desk.clock.now()
    gone = FaultPlan(disconnected_from=now, disconnected_until=now + 30)
    client.before["order_send"] = lambda: desk.mt5._set_fault_plan(gone)

    lost = open_buy(bridge, desk)
    disconnected = not bridge.mt5.connected
    client.before.pop("order_send")
    desk.later(90)
    desk.mt5._set_fault_plan(None)
    bridge.mt5._next_attempt = 0.0  # its reconnection backoff (on the host clock) has passed
    settled = bridge.executor.resolve_open_intents()

    assert lost.status == "unknown" and disconnected
    assert [(o.intent_id, o.status) for o in settled] == [(lost.intent_id, "failed")]
    assert positions(desk) == [] and sends(desk) == 1


def test_autotrading_off_and_a_closed_market_are_recorded_never_doubled(
    fresh_database, redis_prefix, tmp_path
):
    desk = make_desk(fresh_database, redis_prefix, tmp_path, start=SATURDAY)
    try:
        bridge = live(desk)
        closed = bridge.executor.open(
            "tester", "EURUSD", "buy", sl=0.5, tp=2.0, volume=0.1, reason="weekend"
        )
        desk.mt5._set_fault_plan(FaultPlan(autotrading_off=True))
        off = bridge.executor.open(
            "tester", "EURUSD", "buy", sl=0.5, tp=2.0, volume=0.1, reason="button off"
        )
    finally:
        for bridge in list(desk.bridges):
            desk.stop(bridge)

    assert closed.retcode == mc.TRADE_RETCODE_MARKET_CLOSED
    assert off.retcode == mc.TRADE_RETCODE_CLIENT_DISABLES_AT
    assert {closed.status, off.status} == {"rejected"}
    assert [i["status"] for i in intents(fresh_database)] == ["rejected", "rejected"]
    assert sends(desk) == 0 and positions(desk) == []


def test_intents_left_by_a_crash_are_resolved_at_the_next_start(desk, fresh_database):
    bridge = live(desk)
    client = faulty(desk)
    bridge.mt5._client = client
    # The bridge dies right after order_send made the order: its answer never arrives.
    client.edits["order_send"] = lambda result, error: (None, (-10001, "IPC send failed"))
    bridge.executor._lookup.resolve = lambda intent: None  # it died before looking
    lost = open_buy(bridge, desk)
    desk.stop(bridge)
    client.edits.clear()

    restarted = live(desk)

    (intent,) = intents(fresh_database)
    assert lost.status == "unknown" and intent["status"] == "filled"
    assert restarted.executor.unresolved() == []
    assert len(positions(desk)) == 1 and sends(desk) == 1
    assert rows(fresh_database, "SELECT count(*) FROM order_intents")[0][0] == 1


def test_live_mode_refuses_to_start_on_another_account_than_mt5_account(desk):
    bridge = live(desk)

    with pytest.raises(ConfigError, match="MT5_ACCOUNT: TRADING_MODE=live but the terminal"):
        bridge._check_live_account(LOGIN + 1)
    bridge._check_live_account(LOGIN)  # the one it was told: fine
