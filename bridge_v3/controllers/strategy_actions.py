"""Live mode: what one signal does to a strategy's positions, through the order executor.

A signal is an entry in its direction and an exit from the other: the strategy's own
positions on that symbol (by magic number, as the terminal shows them now) that face the
other way are closed by ticket, then a position is opened with the signal's SL and TP,
unless the strategy already holds ``max_positions`` in that direction. While HALTED or
REDUCING the risk gate lets the exits go and refuses the entry (recorded). An entry is not
sent when a close failed (the strategy would hold both sides). Every signal acted on leaves
at least one intent: the closes, the entry, or the recorded reason there was none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bridge_v3.controllers.order_executor import OrderExecutor
from bridge_v3.exceptions import BridgeError
from bridge_v3.models.intent import Outcome
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.strategy_store import SignalRow
from bridge_v3.strategies.base import Strategy

logger = logging.getLogger(__name__)


class Actions:
    def __init__(self, mt5: MT5Service, executor: OrderExecutor, tolerance_pct: float) -> None:
        self._mt5 = mt5
        self._executor = executor
        self._tolerance_pct = tolerance_pct

    def follow(self, strategy: Strategy, signal: SignalRow) -> list[Outcome]:
        """Turn one signal into at most one entry (and the exits it implies)."""
        link = (signal.timeframe, signal.time)
        try:
            own = self._own_positions(strategy, signal.symbol)
        except BridgeError as error:
            return [self._no_entry(strategy, signal, f"positions not readable: {error}")]
        buying = signal.side == "buy"
        facing = [p for p in own if (p["type"] == mc.POSITION_TYPE_BUY) != buying]
        outcomes = [
            self._executor.close(
                int(p["ticket"]),
                reason=f"{signal.side} signal of {_bar(signal.time)}: exit",
                by=strategy.name,
                strategy=strategy.name,
                signal=link,
            )
            for p in facing
        ]
        if not all(o.ok for o in outcomes):
            return [*outcomes, self._no_entry(strategy, signal, "an exit did not go through")]
        held = len(own) - len(facing)
        if held >= strategy.max_positions:
            why = f"already holds {held} {signal.side} position(s) on {signal.symbol}"
            return [*outcomes, self._no_entry(strategy, signal, why)]
        return [*outcomes, self._enter(strategy, signal, link)]

    def _own_positions(self, strategy: Strategy, symbol: str) -> list[dict]:
        return [
            p
            for p in self._mt5.positions()
            if int(p["magic"]) == strategy.magic and p["symbol"] == symbol
        ]

    def _enter(self, strategy: Strategy, signal: SignalRow, link) -> Outcome:
        pct = strategy.price_tolerance_pct or self._tolerance_pct
        return self._executor.open(
            strategy.name,
            signal.symbol,
            signal.side,
            sl=signal.sl,
            tp=signal.tp,
            price=signal.price,
            price_tolerance=signal.price * pct / 100.0,
            reason=f"{signal.reason} ({_bar(signal.time)})",
            magic=strategy.magic,
            signal=link,
        )

    def _no_entry(self, strategy: Strategy, signal: SignalRow, why: str) -> Outcome:
        return self._executor.record_refusal(
            strategy.name,
            signal.symbol,
            f"{signal.side} signal of {_bar(signal.time)} not entered: {why}",
            magic=strategy.magic,
            signal=(signal.timeframe, signal.time),
        )


def _bar(moment: datetime) -> str:
    return f"bar {moment:%Y-%m-%d %H:%M}Z"
