"""Bridges in live or safety mode on a simulated terminal, and ways to break order_send.

Faults are put where a real terminal shows them: before the call reaches the terminal (an
IPC timeout, a terminal that is gone: the order does not exist) or after it (the answer is
lost on the way back: the order exists). Calls are counted by the simulator itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from bridge_v3.config.constants import Backend, TradingMode
from bridge_v3.config.settings import Settings, TradingSettings
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.simulator.faults import FaultPlan
from tests.controllers.trade_support import Desk, EditingClient, rows

LOGIN = 10000001  # the simulated account


class FaultyClient(EditingClient):
    """``before[function]`` runs before the call reaches the terminal, ``after[function]``
    once it has returned (``edits`` may still rewrite the answer)."""

    def __init__(self, client) -> None:
        super().__init__(client)
        self.before: dict[str, Callable[[], None]] = {}
        self.after: dict[str, Callable[[], None]] = {}

    def call(self, function: str, *args, **kwargs):
        self.before.get(function, _nothing)()
        try:
            return super().call(function, *args, **kwargs)
        finally:
            self.after.get(function, _nothing)()

    def fault_during(self, function: str, terminal, plan: FaultPlan) -> None:
        """The terminal shows ``plan`` for each ``function`` call only."""
        self.before[function] = lambda: terminal._set_fault_plan(plan)
        self.after[function] = lambda: terminal._set_fault_plan(None)


def _nothing() -> None:
    pass


def configured(desk: Desk, *, live: bool, **trading) -> Settings:
    settings = desk.settings
    mode = TradingMode.LIVE if live else TradingMode.SAFETY
    return replace(
        settings,
        mt5=replace(settings.mt5, account=LOGIN if live else None),
        risk=replace(settings.risk, trading_mode=mode),
        trading=TradingSettings(**trading),
    )


def start(desk: Desk, settings: Settings, source: Callable[[], Settings] | None = None) -> Bridge:
    """A connected bridge on the desk's terminal (reconciled, intents resolved)."""
    backend = TerminalBackend(
        Backend.SIMULATOR, "simulated terminal", lambda: desk.client, clock=desk.clock.now
    )
    bridge = Bridge(settings, threading.Event(), backend, settings_source=source)
    desk.bridges.append(bridge)
    bridge.connect()
    bridge.risk.run_check()  # the first jobs run at once: opening waits for a risk check
    return bridge


def faulty(desk: Desk) -> FaultyClient:
    """Swap the desk's client for one that can break calls (before the bridge starts)."""
    client = FaultyClient(desk.client._client)
    desk.client = client
    return client


def sends(desk: Desk) -> int:
    return desk.simulation.calls().get("order_send", 0)


def checks(desk: Desk) -> int:
    return desk.simulation.calls().get("order_check", 0)


def intents(pg: dict) -> list[dict]:
    names = (
        "intent_id, kind, strategy, symbol, status, retcode, attempts, volume, magic, comment,"
        " order_ticket, deal_ticket, position_ticket, error, requested_by, signal_time"
    )
    found = rows(pg, f"SELECT {names} FROM order_intents ORDER BY created_at, updated_at")
    keys = [n.strip() for n in names.split(",")]
    return [dict(zip(keys, row, strict=True)) for row in found]
