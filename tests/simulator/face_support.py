"""Shared pieces of the terminal-face tests: the contract JSON and real simulated terminals.

Terminals are built from the real Market and PaperBroker on a ManualClock, so the tests
exercise the same objects the product runs; nothing here is a fake.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

CONTRACT_PATH = Path(__file__).with_name("mt5_contract.json")
CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))

# Wednesday 2025-01-15 12:00 UTC: forex open, far from any DST change.
START = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.timezone.utc).timestamp()
SUNDAY_NOON = dt.datetime(2025, 1, 19, 12, 0, tzinfo=dt.timezone.utc).timestamp()
LOGIN = 10000001
PASSWORD = "sim-secret"


class SleepRecorder:
    """Stands in for time.sleep: records the requested delays, never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def build_terminal(faults: Any = None, start: float = START, **options: Any) -> Any:
    """A SimulatedTerminal over a real Market and PaperBroker on a ManualClock."""
    from bridge_v3.simulator.broker.broker import PaperBroker
    from bridge_v3.simulator.clock import BrokerTime, ManualClock
    from bridge_v3.simulator.market.market import Market
    from bridge_v3.simulator.terminal import SimulatedTerminal

    clock = ManualClock(start)
    market = Market(clock, BrokerTime("Europe/Athens"), seed=7, history_days=20)
    broker = PaperBroker(market, login=LOGIN)
    options.setdefault("sleep", SleepRecorder())
    options.setdefault("password", PASSWORD)
    return SimulatedTerminal(market, broker, faults=faults, **options)


def clock_of(terminal: Any) -> Any:
    return terminal._market.clock


def failure_value(function: str) -> Any:
    """The documented failure return of ``function`` (None, False) from the contract."""
    text = CONTRACT["functions"][function]["returns_failure"]
    return False if text.startswith("False") else None


def market_request(symbol: str = "EURUSD", volume: float = 0.1, **fields: Any) -> dict:
    """A plain market BUY request (fields override)."""
    request = {
        "action": 1,  # TRADE_ACTION_DEAL
        "symbol": symbol,
        "volume": volume,
        "type": 0,  # ORDER_TYPE_BUY
        "deviation": 20,
        "type_filling": 1,  # ORDER_FILLING_IOC, allowed for market-execution forex
    }
    request.update(fields)
    return request


def valid_calls(now_server: int) -> dict[str, tuple[tuple, dict]]:
    """One well-formed call (args, kwargs) for every module function of the contract."""
    day = 86400
    return {
        "initialize": ((), {}),
        "login": ((LOGIN,), {}),
        "shutdown": ((), {}),
        "version": ((), {}),
        "last_error": ((), {}),
        "account_info": ((), {}),
        "terminal_info": ((), {}),
        "symbols_total": ((), {}),
        "symbols_get": ((), {}),
        "symbol_info": (("EURUSD",), {}),
        "symbol_info_tick": (("EURUSD",), {}),
        "symbol_select": (("EURUSD", True), {}),
        "market_book_add": (("EURUSD",), {}),
        "market_book_release": (("EURUSD",), {}),
        "market_book_get": (("EURUSD",), {}),
        "copy_rates_from": (("EURUSD", 16385, now_server, 10), {}),
        "copy_rates_from_pos": (("EURUSD", 16385, 0, 10), {}),
        "copy_rates_range": (("EURUSD", 16385, now_server - day, now_server), {}),
        "copy_ticks_from": (("EURUSD", now_server - 600, 100, -1), {}),
        "copy_ticks_range": (("EURUSD", now_server - 600, now_server, -1), {}),
        "orders_total": ((), {}),
        "positions_total": ((), {}),
        "orders_get": ((), {}),
        "positions_get": ((), {}),
        "order_calc_margin": ((0, "EURUSD", 1.0, 1.1), {}),
        "order_calc_profit": ((0, "EURUSD", 1.0, 1.1, 1.2), {}),
        "order_check": ((market_request(),), {}),
        "order_send": ((market_request(),), {}),
        "history_orders_total": ((now_server - day, now_server), {}),
        "history_deals_total": ((now_server - day, now_server), {}),
        "history_orders_get": ((now_server - day, now_server), {}),
        "history_deals_get": ((now_server - day, now_server), {}),
    }
