"""Faults on demand: deterministic for a seed, shown as the real module shows them."""

from __future__ import annotations

import pytest

from bridge_v3.simulator.faults import FaultPlan
from tests.simulator.face_support import (
    START,
    SleepRecorder,
    build_terminal,
    clock_of,
    market_request,
)


def outcomes(plan: FaultPlan, calls: int = 60) -> list:
    terminal = build_terminal(faults=plan)
    terminal.initialize()
    results = []
    for _ in range(calls):
        terminal.symbols_total()
        results.append(terminal.last_error())
    return results


def test_ipc_timeouts_hit_a_share_of_calls_and_repeat_for_a_seed() -> None:
    plan = FaultPlan(seed=3, ipc_timeout_rate=0.3)
    first, again = outcomes(plan), outcomes(plan)
    timeouts = first.count((-10005, "IPC timeout"))
    assert first == again and 5 < timeouts < 40
    assert set(first) == {(1, "Success"), (-10005, "IPC timeout")}
    assert outcomes(FaultPlan(seed=4, ipc_timeout_rate=0.3)) != first


def test_disconnect_window_breaks_the_pipe_until_initialize_again() -> None:
    plan = FaultPlan(disconnected_from=START + 60, disconnected_until=START + 120)
    mt5 = build_terminal(faults=plan)
    assert mt5.initialize() and mt5.account_info() is not None
    clock_of(mt5).advance(61)
    assert mt5.account_info() is None
    assert mt5.last_error() == (-10001, "IPC send failed")
    assert mt5.positions_total() is None
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.initialize() is False
    assert mt5.last_error() == (-10005, "IPC timeout")
    clock_of(mt5).advance(60)
    assert mt5.account_info() is None  # still needs a new initialize()
    assert mt5.initialize() is True and mt5.account_info() is not None


def test_offline_window_shows_connected_false_and_refuses_trades() -> None:
    mt5 = build_terminal(faults=FaultPlan(offline_from=START, offline_until=START + 60))
    mt5.initialize()
    assert mt5.terminal_info().connected is False
    result = mt5.order_send(market_request())
    assert result.retcode == mt5.TRADE_RETCODE_CONNECTION
    clock_of(mt5).advance(60)
    assert mt5.terminal_info().connected is True
    assert mt5.order_send(market_request()).retcode == mt5.TRADE_RETCODE_DONE


def test_latency_is_spent_through_the_injected_sleep() -> None:
    sleeper = SleepRecorder()
    mt5 = build_terminal(faults=FaultPlan(latency_seconds=0.25), sleep=sleeper)
    mt5.initialize()
    mt5.version()
    mt5.symbols_total()
    assert sleeper.calls == [0.25, 0.25]


def test_initialize_fails_the_planned_number_of_times() -> None:
    mt5 = build_terminal(faults=FaultPlan(initialize_fails=2))
    assert mt5.initialize() is False and mt5.last_error() == (-10005, "IPC timeout")
    assert mt5.initialize() is False
    assert mt5.initialize() is True


def test_requotes_carry_fresh_prices_and_the_wheel_retries_them() -> None:
    mt5 = build_terminal(faults=FaultPlan(seed=1, requote_rate=1.0))
    mt5.initialize()
    result = mt5.order_send(market_request())
    tick = mt5.symbol_info_tick("EURUSD")
    assert result.retcode == mt5.TRADE_RETCODE_REQUOTE and result.comment == "Requote"
    assert (result.bid, result.ask) == (tick.bid, tick.ask)
    assert mt5.Buy("EURUSD", 0.1).retcode == mt5.TRADE_RETCODE_REQUOTE
    assert mt5.positions_total() == 0


def test_autotrading_off() -> None:
    mt5 = build_terminal(faults=FaultPlan(autotrading_off=True))
    mt5.initialize()
    assert mt5.terminal_info().trade_allowed is False
    result = mt5.order_send(market_request())
    assert result.retcode == mt5.TRADE_RETCODE_CLIENT_DISABLES_AT
    assert mt5.last_error() == (1, "Success")


def test_python_api_switch_makes_order_send_return_none() -> None:
    mt5 = build_terminal(faults=FaultPlan(tradeapi_disabled=True))
    mt5.initialize()
    assert mt5.terminal_info().tradeapi_disabled is True
    assert mt5.order_send(market_request()) is None
    assert mt5.last_error() == (-8, "Auto-Trading using Python API disabled in Terminal")


def test_missing_symbol_is_unknown_everywhere() -> None:
    mt5 = build_terminal(faults=FaultPlan(missing_symbols={"GBPUSD"}))
    mt5.initialize()
    assert "GBPUSD" not in {s.name for s in mt5.symbols_get()}
    assert mt5.symbol_info("GBPUSD") is None
    assert mt5.copy_rates_from_pos("GBPUSD", mt5.TIMEFRAME_M1, 0, 5) is None
    assert mt5.order_send(market_request("GBPUSD")).retcode == mt5.TRADE_RETCODE_INVALID
    assert mt5.symbol_info("EURUSD") is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"ipc_timeout_rate": 1.5},
        {"requote_rate": -0.1},
        {"latency_seconds": -1.0},
        {"initialize_fails": -1},
    ],
)
def test_fault_plan_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        FaultPlan(**bad)
