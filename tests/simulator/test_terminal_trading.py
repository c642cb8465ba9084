"""Trading through the face: the broker's answers laid out as the real structs."""

from __future__ import annotations

import pytest

from tests.simulator.face_support import CONTRACT, build_terminal, clock_of, market_request

KINDS = {
    name: {f["name"]: f["type"] for f in spec["fields"]}
    for name, spec in CONTRACT["structs"].items()
    if not name.startswith("_")
}
PY_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@pytest.fixture
def mt5():
    terminal = build_terminal()
    assert terminal.initialize()
    return terminal


def all_time(mt5) -> tuple[int, int]:
    return (0, mt5._market.broker_time.to_server(clock_of(mt5).now()) + 86400)


def assert_kinds(value, struct: str) -> None:
    for name, kind in KINDS[struct].items():
        if kind in PY_TYPES:
            assert type(getattr(value, name)) is PY_TYPES[kind], f"{struct}.{name}"


def test_market_buy_opens_a_position_with_its_deal_and_order(mt5) -> None:
    result = mt5.order_send(market_request(volume=0.2, magic=42, comment="entry"))
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert mt5.last_error() == (1, "Success")
    assert_kinds(result, "OrderSendResult")
    (position,) = mt5.positions_get()
    assert_kinds(position, "TradePosition")
    assert (position.volume, position.magic, position.comment) == (0.2, 42, "entry")
    assert mt5.positions_total() == 1
    deals = mt5.history_deals_get(position=position.identifier)
    assert [d.ticket for d in deals] == [result.deal]
    assert_kinds(deals[0], "TradeDeal")
    assert mt5.history_deals_get(ticket=result.order)[0].ticket == result.deal
    (order,) = mt5.history_orders_get(ticket=result.order)
    assert_kinds(order, "TradeOrder")
    assert order.position_id == position.identifier


def test_positions_get_filters(mt5) -> None:
    mt5.order_send(market_request("EURUSD"))
    mt5.order_send(market_request("USDJPY"))
    assert {p.symbol for p in mt5.positions_get(symbol="USDJPY")} == {"USDJPY"}
    assert {p.symbol for p in mt5.positions_get(group="*,!*JPY*")} == {"EURUSD"}
    ticket = mt5.positions_get(symbol="EURUSD")[0].ticket
    assert [p.ticket for p in mt5.positions_get(ticket=ticket)] == [ticket]
    assert mt5.positions_get(ticket=123456789) == ()
    assert mt5.positions_get(symbol="GBPUSD") == ()


def test_history_by_dates_and_totals_agree(mt5) -> None:
    mt5.order_send(market_request())
    start, end = all_time(mt5)
    deals = mt5.history_deals_get(start, end)
    orders = mt5.history_orders_get(start, end)
    assert len(deals) == mt5.history_deals_total(start, end) >= 1
    assert len(orders) == mt5.history_orders_total(start, end) >= 1
    assert mt5.history_deals_get(start, end, group="*JPY*") == tuple(
        d for d in deals if "JPY" in d.symbol
    )


def test_calc_margin_agrees_with_the_margin_a_position_takes(mt5) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    expected = mt5.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 0.5, tick.ask)
    before = mt5.account_info().margin
    mt5.order_send(market_request(volume=0.5))
    assert mt5.account_info().margin - before == pytest.approx(expected, rel=1e-6)


def test_calc_functions_fail_as_documented(mt5) -> None:
    assert mt5.order_calc_margin(mt5.ORDER_TYPE_BUY, "NOPE", 1.0, 1.0) is None
    assert mt5.last_error() == (-1, "Terminal: Call failed")
    assert mt5.order_calc_profit(mt5.ORDER_TYPE_BUY_LIMIT, "EURUSD", 1.0, 1.0, 1.1) is None
    with pytest.raises(SystemError):
        mt5.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", "1", 1.0)


def test_order_check_answers_done_and_changes_nothing(mt5) -> None:
    result = mt5.order_check(market_request())
    assert (result.retcode, result.comment) == (0, "Done")
    assert_kinds(result, "OrderCheckResult")
    assert type(result.request).__name__ == "TradeRequest"
    assert mt5.positions_total() == 0


def test_broker_refusal_is_a_result_not_none(mt5) -> None:
    result = mt5.order_send(market_request(volume=0.123))
    assert result.retcode == mt5.TRADE_RETCODE_INVALID_VOLUME
    assert mt5.last_error() == (1, "Success")


def test_pending_order_shows_in_orders_get(mt5) -> None:
    ask = mt5.symbol_info_tick("EURUSD").ask
    request = market_request(
        action=mt5.TRADE_ACTION_PENDING,
        type=mt5.ORDER_TYPE_BUY_LIMIT,
        price=round(ask - 0.01, 5),
        type_filling=mt5.ORDER_FILLING_RETURN,
    )
    result = mt5.order_send(request)
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    (order,) = mt5.orders_get()
    assert order.ticket == result.order and mt5.orders_total() == 1
    assert mt5.orders_get(ticket=result.order)[0].type == mt5.ORDER_TYPE_BUY_LIMIT


def test_wheel_helpers_buy_sell_and_close(mt5) -> None:
    bought = mt5.Buy("EURUSD", 0.1)
    assert bought.retcode == mt5.TRADE_RETCODE_DONE
    assert bought.request.type_filling == mt5.ORDER_FILLING_FOK and bought.request.deviation == 10
    assert mt5.Sell("EURUSD", 0.2).retcode == mt5.TRADE_RETCODE_DONE
    assert mt5.positions_total() == 2
    assert mt5.Close("EURUSD") is True
    assert mt5.positions_total() == 0
    assert mt5.Close("EURUSD") is False


def test_wheel_buy_with_an_int_volume_returns_none(mt5) -> None:
    assert mt5.Buy("EURUSD", 1) is None
    assert mt5.last_error() == (-2, 'Invalid "volume" argument')


def test_account_and_terminal_info_kinds(mt5) -> None:
    assert_kinds(mt5.account_info(), "AccountInfo")
    info = mt5.terminal_info()
    assert_kinds(info, "TerminalInfo")
    assert info.connected is True and info.trade_allowed is True and info.build == 5120


def test_initialize_and_login_check_the_account(mt5) -> None:
    from tests.simulator.face_support import LOGIN, PASSWORD

    assert mt5.login(LOGIN, PASSWORD) is True
    assert mt5.login(LOGIN + 1) is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    assert mt5.initialize(login=LOGIN, password="wrong") is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    assert mt5.account_info() is None  # the failed initialize dropped the connection
    assert mt5.initialize(login=LOGIN, password=PASSWORD, server="BridgeSim-Demo") is True
    assert mt5.initialize(login=1.5) is False
    assert mt5.last_error() == (-2, 'Invalid "login" argument')
    assert mt5.initialize("a", "b") is False
    assert mt5.last_error() == (-2, "Invalid number of arguments")


def test_a_symbol_in_use_cannot_leave_market_watch(mt5) -> None:
    mt5.order_send(market_request("EURUSD"))
    assert mt5.symbol_select("EURUSD", False) is False
    assert mt5.symbol_info("EURUSD").visible is True
    assert mt5.symbol_select("GBPUSD", False) is True
    assert mt5.symbol_info("GBPUSD").visible is False
