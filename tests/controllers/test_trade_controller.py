"""The trade mirror against the simulated terminal, PostgreSQL and Redis.

Trades are made by hand on the terminal's module face (market and pending orders,
partial closes, SL/TP moved and hit, a stop-out); the bridge must mirror each field for
field in PostgreSQL and publish each change once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge_v3.exceptions import TerminalError
from bridge_v3.services.mt5.contract import constants as mc
from tests.controllers.trade_support import events, make_desk, published, row_dicts, rows

ATHENS = ZoneInfo("Europe/Athens")


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    made = make_desk(fresh_database, redis_prefix, tmp_path)
    yield made
    for bridge in list(made.bridges):
        made.stop(bridge)


def utc_from_server(msc: int) -> datetime:
    """The terminal's server-clock milliseconds as true UTC, worked out here independently."""
    wall = datetime.fromtimestamp(msc / 1000, tz=timezone.utc).replace(tzinfo=ATHENS)
    return wall.astimezone(timezone.utc)


def expected_position(p) -> dict:
    return {
        "ticket": p.ticket,
        "identifier": p.identifier,
        "symbol": p.symbol,
        "type": p.type,
        "magic": p.magic,
        "reason": p.reason,
        "volume": p.volume,
        "price_open": p.price_open,
        "sl": p.sl,
        "tp": p.tp,
        "price_current": p.price_current,
        "swap": p.swap,
        "profit": p.profit,
        "comment": p.comment,
        "external_id": p.external_id,
        "time": utc_from_server(p.time_msc),
        "time_update": utc_from_server(p.time_update_msc),
        "closed_at": None,
    }


def expected_deal(d) -> dict:
    return {
        "ticket": d.ticket,
        "order_ticket": d.order,
        "position_id": d.position_id,
        "symbol": d.symbol,
        "type": d.type,
        "entry": d.entry,
        "magic": d.magic,
        "reason": d.reason,
        "volume": d.volume,
        "price": d.price,
        "commission": d.commission,
        "swap": d.swap,
        "profit": d.profit,
        "fee": d.fee,
        "comment": d.comment,
        "time": utc_from_server(d.time_msc),
    }


def expected_order(o) -> dict:
    fields = (
        "ticket", "symbol", "type", "state", "type_time", "type_filling", "magic", "position_id",
        "position_by_id", "reason", "volume_initial", "volume_current", "price_open", "sl", "tp",
        "price_current", "price_stoplimit", "comment", "external_id",
    )  # fmt: skip
    expected = {name: getattr(o, name) for name in fields}
    expected["time_setup"] = utc_from_server(o.time_setup_msc)
    expected["time_done"] = utc_from_server(o.time_done_msc) if o.time_done_msc else None
    return expected


def stored(pg, table: str, keys) -> list[dict]:
    return [{k: row[k] for k in keys} for row in row_dicts(pg, table)]


def all_deals(desk) -> list:
    far = int(desk.simulation.market.broker_time.to_server(desk.clock.now())) + 86400
    return list(desk.mt5.history_deals_get(0, far))


def test_a_market_buy_is_mirrored_field_for_field_and_published_once(
    desk, fresh_database, redis_prefix
):
    bridge = desk.bridge()
    ticket = desk.buy(0.3, magic=77, comment="by hand")
    desk.later(30)

    bridge.trades.sync()
    desk.later(60)
    bridge.trades.sync()  # prices moved: the floating profit is refreshed, nothing published

    (position,) = desk.mt5.positions_get()
    assert stored(fresh_database, "positions", expected_position(position)) == [
        expected_position(position)
    ]
    deals = [d for d in all_deals(desk) if d.position_id == ticket]
    assert [
        {k: row[k] for k in expected_deal(deals[0])}
        for row in row_dicts(fresh_database, "deals")
        if row["position_id"] == ticket
    ] == [expected_deal(d) for d in deals]
    (order,) = desk.mt5.history_orders_get(ticket=ticket)
    (order_row,) = row_dicts(fresh_database, "orders")
    assert (order_row["state"], order_row["volume_initial"], order_row["magic"]) == (
        order.state,
        order.volume_initial,
        77,
    )
    assert order_row["time_setup"] == utc_from_server(order.time_setup_msc)
    assert events(redis_prefix, "position") == [(ticket, "opened")]
    assert events(redis_prefix, "order") == [(ticket, "filled")]
    position_deals = [m for m in published(redis_prefix, "deal") if m["data"]["position_id"]]
    assert [m["data"]["ticket"] for m in position_deals] == [d.ticket for d in deals]
    assert position_deals[0]["data"]["time"].endswith("Z")


def test_floating_profit_goes_to_the_latest_value_only(desk, redis_client, redis_prefix):
    bridge = desk.bridge()
    desk.buy(0.1)
    bridge.trades.sync()
    desk.later(120)
    bridge.trades.sync()

    latest = redis_client.get(f"{redis_prefix}:last:positions")
    (position,) = desk.mt5.positions_get()
    data = json.loads(latest)["data"]
    assert data["count"] == 1
    assert data["positions"][0]["profit"] == position.profit
    assert len(published(redis_prefix, "position")) == 1


def test_stops_moved_partial_close_then_close(desk, fresh_database, redis_prefix):
    bridge = desk.bridge()
    ticket = desk.buy(0.5)
    bridge.trades.sync()
    bid = desk.bid()

    desk.stops(ticket, sl=round(bid - 0.005, 5), tp=round(bid + 0.01, 5))
    desk.later()
    bridge.trades.sync()
    desk.close(ticket, 0.2)
    desk.later()
    bridge.trades.sync()
    closing = desk.close(ticket)
    desk.later()
    bridge.trades.sync()

    assert events(redis_prefix, "position") == [
        (ticket, "opened"),
        (ticket, "modified"),
        (ticket, "modified"),
        (ticket, "closed"),
    ]
    messages = [m["data"] for m in published(redis_prefix, "position")]
    assert set(messages[1]["changes"]) == {"sl", "tp"}
    assert messages[2]["changes"] == {"volume": [0.5, 0.3]}
    (row,) = row_dicts(fresh_database, "positions")
    (closing_deal,) = desk.mt5.history_deals_get(ticket=closing.order)
    assert row["closed_at"] == utc_from_server(closing_deal.time_msc)
    assert row["price_current"] == closing_deal.price
    exits = [d for d in all_deals(desk) if d.position_id == ticket and d.entry == mc.DEAL_ENTRY_OUT]
    assert row["profit"] == pytest.approx(sum(d.profit for d in exits))
    tickets = [m["data"]["ticket"] for m in published(redis_prefix, "deal")]
    assert len(tickets) == len(set(tickets)) == len(all_deals(desk))


def test_pending_orders_placed_modified_cancelled_filled_and_expired(
    desk, fresh_database, redis_prefix
):
    bridge = desk.bridge()
    ask = desk.ask()
    limit = desk.send(
        action=mc.TRADE_ACTION_PENDING,
        symbol="EURUSD",
        volume=0.1,
        type=mc.ORDER_TYPE_BUY_LIMIT,
        price=round(ask - 0.01, 5),
        type_filling=mc.ORDER_FILLING_RETURN,
    ).order
    stop = desk.send(
        action=mc.TRADE_ACTION_PENDING,
        symbol="EURUSD",
        volume=0.1,
        type=mc.ORDER_TYPE_BUY_STOP,
        price=round(ask * 1.005, 5),
        type_filling=mc.ORDER_FILLING_RETURN,
    ).order
    server_now = desk.simulation.market.broker_time.to_server(desk.clock.now())
    expiring = desk.send(
        action=mc.TRADE_ACTION_PENDING,
        symbol="EURUSD",
        volume=0.1,
        type=mc.ORDER_TYPE_SELL_LIMIT,
        price=round(ask + 0.02, 5),
        type_filling=mc.ORDER_FILLING_RETURN,
        type_time=mc.ORDER_TIME_SPECIFIED,
        expiration=server_now + 600,
    ).order
    bridge.trades.sync()
    (pending,) = desk.mt5.orders_get(ticket=limit)
    (pending_row,) = [r for r in row_dicts(fresh_database, "orders") if r["ticket"] == limit]
    assert {k: pending_row[k] for k in expected_order(pending)} == expected_order(pending)
    desk.send(
        action=mc.TRADE_ACTION_MODIFY,
        order=limit,
        price=round(ask - 0.012, 5),
        sl=0.0,
        tp=0.0,
    )
    desk.later()
    bridge.trades.sync()
    desk.send(action=mc.TRADE_ACTION_REMOVE, order=limit)
    desk.simulation.market.shock("EURUSD", 1)  # the buy stop is reached
    desk.later(900)  # and the sell limit lapses
    bridge.trades.sync()

    assert events(redis_prefix, "order") == [
        (limit, "placed"),
        (stop, "placed"),
        (expiring, "placed"),
        (limit, "modified"),
        (limit, "cancelled"),
        (stop, "filled"),
        (expiring, "expired"),
    ]
    assert events(redis_prefix, "position") == [(stop, "opened")]
    lapsed = next(r for r in row_dicts(fresh_database, "orders") if r["ticket"] == expiring)
    assert lapsed["time_expiration"] == utc_from_server((server_now + 600) * 1000)
    states = {row["ticket"]: row["state"] for row in row_dicts(fresh_database, "orders")}
    assert states == {
        limit: mc.ORDER_STATE_CANCELED,
        stop: mc.ORDER_STATE_FILLED,
        expiring: mc.ORDER_STATE_EXPIRED,
    }


def test_a_stop_loss_hit_closes_the_position_with_its_deal(desk, fresh_database, redis_prefix):
    bridge = desk.bridge()
    ticket = desk.buy(0.2)
    desk.stops(ticket, sl=round(desk.bid() * 0.995, 5))
    bridge.trades.sync()

    desk.simulation.market.shock("EURUSD", -1)
    desk.later(60)
    bridge.trades.sync()

    (row,) = row_dicts(fresh_database, "positions")
    (exit_deal,) = [d for d in all_deals(desk) if d.position_id == ticket and d.entry == 1]
    assert exit_deal.reason == mc.DEAL_REASON_SL
    assert row["closed_at"] == utc_from_server(exit_deal.time_msc)
    assert events(redis_prefix, "position") == [(ticket, "opened"), (ticket, "closed")]
    reasons = [m["data"]["reason"] for m in published(redis_prefix, "deal") if m["data"]["entry"]]
    assert reasons == [mc.DEAL_REASON_SL]


def test_a_stop_out_is_mirrored(desk, fresh_database, redis_prefix):
    bridge = desk.bridge()
    ticket = desk.buy(8.0)  # about 8,700 USD of margin on 10,000
    bridge.trades.sync()

    desk.simulation.market.shock("EURUSD", -1)
    desk.later(60)
    bridge.trades.sync()

    assert desk.mt5.positions_get() == ()
    (row,) = row_dicts(fresh_database, "positions")
    assert row["closed_at"] is not None
    (stop_out,) = [d for d in all_deals(desk) if d.position_id == ticket and d.entry == 1]
    assert stop_out.reason == mc.DEAL_REASON_SO
    assert events(redis_prefix, "position") == [(ticket, "opened"), (ticket, "closed")]


def test_positions_are_external_unless_their_magic_is_ours(desk, fresh_database):
    bridge = desk.bridge()
    bridge.trades._is_own = lambda magic: magic == 42
    ours = desk.buy(0.1, magic=42)
    theirs = desk.buy(0.1, magic=7)

    bridge.trades.sync()

    flags = {r["ticket"]: r["external"] for r in row_dicts(fresh_database, "positions")}
    assert flags == {ours: False, theirs: True}


# -- faults ---------------------------------------------------------------------------------


def failing(result, error):
    return None, (-1, "Terminal: Call failed")


@pytest.mark.parametrize("function", ["positions_get", "history_deals_get"])
def test_a_failed_read_fails_the_sync_and_marks_nothing(
    desk, fresh_database, redis_prefix, function
):
    bridge = desk.bridge()
    kept, gone = desk.buy(0.1), desk.buy(0.1)
    bridge.trades.sync()
    desk.close(gone)
    desk.later()

    desk.client.edits[function] = failing
    with pytest.raises(TerminalError):
        bridge.trades.sync()
    assert [r["closed_at"] for r in row_dicts(fresh_database, "positions")] == [None, None]

    del desk.client.edits[function]
    bridge.trades.sync()
    closed = {
        r["ticket"]: r["closed_at"] is not None for r in row_dicts(fresh_database, "positions")
    }
    assert closed == {kept: False, gone: True}
    assert events(redis_prefix, "position")[-1] == (gone, "closed")


def test_an_empty_positions_answer_closes_nothing_without_an_exit_deal(
    desk, fresh_database, redis_prefix
):
    bridge = desk.bridge()
    ticket = desk.buy(0.1)
    bridge.trades.sync()

    desk.client.edits["positions_get"] = lambda result, error: ((), error)
    bridge.trades.sync()

    (row,) = row_dicts(fresh_database, "positions")
    assert row["closed_at"] is None
    assert events(redis_prefix, "position") == [(ticket, "opened")]


# -- across restarts ----------------------------------------------------------------------


def test_a_restart_reconciles_to_exactly_the_terminals_state(desk, fresh_database, redis_prefix):
    first = desk.bridge()
    kept = desk.buy(0.2)
    moved = desk.buy(0.1)
    closed = desk.sell(0.1)
    first.trades.sync()
    desk.stop(first)

    desk.later(60)  # while the bridge is down:
    desk.stops(moved, sl=round(desk.bid() - 0.01, 5))
    desk.close(closed)
    brief = desk.buy(0.4)
    desk.later(30)
    desk.close(brief)
    opened = desk.sell(0.3)
    desk.later(60)
    second = desk.bridge()  # connect() reconciles

    assert second.trades.reconciled
    open_rows = {
        r["ticket"]: r for r in row_dicts(fresh_database, "positions") if not r["closed_at"]
    }
    terminal = {p.ticket: expected_position(p) for p in desk.mt5.positions_get()}
    assert set(open_rows) == set(terminal) == {kept, moved, opened}
    for ticket, expected in terminal.items():
        assert {k: open_rows[ticket][k] for k in expected} == expected
    closed_rows = {r["ticket"] for r in row_dicts(fresh_database, "positions") if r["closed_at"]}
    assert closed_rows == {closed, brief}
    deal_rows = {r["ticket"] for r in row_dicts(fresh_database, "deals")}
    assert deal_rows == {d.ticket for d in all_deals(desk)}
    assert events(redis_prefix, "position")[3:] == [
        (moved, "modified"),
        (opened, "opened"),
        (closed, "closed"),
        (brief, "opened"),
        (brief, "closed"),
    ]
    ((details,),) = rows(
        fresh_database,
        "SELECT details FROM risk_events WHERE kind = 'reconciliation' ORDER BY id DESC LIMIT 1",
    )
    assert details["positions_opened"] == 2 and details["positions_closed"] == 2
    assert details["positions_modified"] == 1 and details["open_positions"] == 3


def test_deals_are_never_published_twice_across_restarts(desk, redis_prefix):
    for _ in range(3):
        bridge = desk.bridge()
        ticket = desk.buy(0.1)
        desk.later(20)
        desk.close(ticket)
        bridge.trades.sync()
        bridge.trades.sync()
        desk.stop(bridge)
        desk.later(30)
    desk.bridge()

    tickets = [m["data"]["ticket"] for m in published(redis_prefix, "deal")]
    assert sorted(tickets) == sorted(d.ticket for d in all_deals(desk))
    assert len(tickets) == len(set(tickets))


def server_seconds(utc: float) -> int:
    """A UTC instant on the broker's clock (Europe/Athens), worked out here independently."""
    moment = datetime.fromtimestamp(utc, tz=timezone.utc)
    return int(utc + moment.astimezone(ATHENS).utcoffset().total_seconds())


def test_history_is_read_from_the_watermark_with_an_overlap_in_server_time(desk, fresh_database):
    bridge = desk.bridge()
    desk.buy(0.1)
    bridge.trades.sync()
    ((mark,),) = rows(
        fresh_database, "SELECT value FROM bridge_state WHERE key = 'trades_watermark'"
    )
    assert mark["utc"] == desk.clock.now()

    desk.later(5 * 3600)
    desk.client.calls.clear()
    bridge.trades.sync()

    asked = [args for function, args, _ in desk.client.calls if function == "history_deals_get"]
    overlap, ahead = 3600, 3600
    assert asked == [
        (server_seconds(mark["utc"] - overlap), server_seconds(desk.clock.now() + ahead))
    ]


def test_symbols_are_filled_for_configured_ones_and_those_traded(desk, fresh_database):
    bridge = desk.bridge()
    assert [r["symbol"] for r in row_dicts(fresh_database, "symbols", order="symbol")] == ["EURUSD"]

    desk.buy(0.1, symbol="USDJPY")
    bridge.trades.sync()

    (row,) = [
        r for r in row_dicts(fresh_database, "symbols", order="symbol") if r["symbol"] == "USDJPY"
    ]
    info = desk.mt5.symbol_info("USDJPY")
    assert (row["digits"], row["volume_min"], row["volume_step"], row["path"]) == (
        info.digits,
        info.volume_min,
        info.volume_step,
        info.path,
    )
    assert row["volume_limit"] == info.volume_limit and row["trade_exemode"] == info.trade_exemode


def test_deals_committed_but_not_sent_before_a_crash_go_out_once_at_the_next_start(
    desk, fresh_database, redis_prefix
):
    first = desk.bridge()
    first.publisher.deliver = lambda: 0  # the process dies right after the commit
    ticket = desk.buy(0.1)
    desk.later(20)
    desk.close(ticket)
    first.trades.sync()
    ((waiting,),) = rows(fresh_database, "SELECT count(*) FROM pending_messages")
    assert waiting == 1  # the sync's messages, committed with its rows
    assert [m for m in published(redis_prefix, "deal") if m["data"]["position_id"]] == []
    desk.stop(first)

    second = desk.bridge()
    second.trades.sync()

    tickets = [m["data"]["ticket"] for m in published(redis_prefix, "deal")]
    assert sorted(tickets) == sorted(d.ticket for d in all_deals(desk))
    assert events(redis_prefix, "position") == [(ticket, "opened"), (ticket, "closed")]


def test_deals_the_terminals_history_shows_late_are_still_mirrored(desk, fresh_database):
    # A terminal whose history lags (just restarted, or cut from the trade server) shows a
    # trade hours after it happened. The history watermark follows what the terminal
    # showed, not the host's clock, so the late deals still fall inside a read.
    bridge = desk.bridge()
    hidden: set[int] = set()
    desk.client.edits["history_deals_get"] = lambda result, error: (
        [d for d in result if d["ticket"] not in hidden] if result is not None else None,
        error,
    )
    desk.client.edits["history_orders_get"] = lambda result, error: (
        [o for o in result if o["position_id"] not in hidden] if result is not None else None,
        error,
    )
    ticket = desk.buy(0.1)
    desk.later(60)
    desk.close(ticket)
    hidden |= {d.ticket for d in desk.mt5.history_deals_get(position=ticket)} | {ticket}
    for _ in range(8):  # four hours of syncs while the history does not show them
        desk.later(1800)
        bridge.trades.sync()

    hidden.clear()
    desk.later(60)
    bridge.trades.sync()
    (row,) = rows(
        fresh_database, "SELECT closed_at IS NOT NULL FROM positions WHERE ticket = %s", (ticket,)
    )
    assert row == (True,)
    assert len(rows(fresh_database, "SELECT 1 FROM deals WHERE position_id = %s", (ticket,))) == 2
