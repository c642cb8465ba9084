"""The risk state machine: which state a reading calls for, and when the state may move.

A reading calls for HALTED when the daily loss reaches the limit, REDUCING when it
reaches ``RISK_REDUCING_AT_PCT`` of it or the margin level is below ``MIN_MARGIN_LEVEL``,
else ACTIVE. The state moves only on ``confirm_samples`` consecutive valid readings:
up to the mildest state all of them call for, down to the most severe one. HALTED never
moves down here: it is a latch only a person lifts (``--risk-reset``). Pure, in memory:
a restart starts the count again, and the persisted state holds meanwhile.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bridge_v3.models.risk import RiskLimits, RiskReading, RiskState


@dataclass(frozen=True)
class Call:
    """What one reading calls for, and why."""

    state: RiskState
    reason: str


def daily_loss_pct(start_equity: float, equity: float) -> float:
    """Loss since the day started, in percent of the day-start equity (negative: a gain)."""
    if start_equity <= 0:
        return 0.0
    return (start_equity - equity) / start_equity * 100.0


class RiskMachine:
    def __init__(self, limits: RiskLimits, confirm_samples: int) -> None:
        if confirm_samples < 1:
            raise ValueError(f"confirm_samples must be at least 1, got {confirm_samples}")
        self._limits = limits
        self._window: deque[Call] = deque(maxlen=confirm_samples)

    def call(self, loss_pct: float, reading: RiskReading) -> Call:
        limits = self._limits
        if loss_pct >= limits.max_daily_loss_pct:
            reason = (
                f"daily loss {loss_pct:.2f}% reached MAX_DAILY_LOSS_PCT "
                f"{limits.max_daily_loss_pct:g}%"
            )
            return Call(RiskState.HALTED, reason)
        if loss_pct >= limits.reducing_loss_pct:
            reason = (
                f"daily loss {loss_pct:.2f}% reached {limits.reducing_at_pct:g}% of "
                f"MAX_DAILY_LOSS_PCT ({limits.reducing_loss_pct:.2f}%)"
            )
            return Call(RiskState.REDUCING, reason)
        level = limits.min_margin_level
        if level and reading.uses_margin and reading.margin_level < level:
            reason = f"margin level {reading.margin_level:.0f}% below MIN_MARGIN_LEVEL {level:g}%"
            return Call(RiskState.REDUCING, reason)
        return Call(RiskState.ACTIVE, f"daily loss {loss_pct:.2f}% and margin level within limits")

    def observe(self, current: RiskState, call: Call) -> Call | None:
        """Count ``call``; return the state to move to once confirmed, else None."""
        self._window.append(call)
        if len(self._window) < (self._window.maxlen or 1) or current is RiskState.HALTED:
            return None
        mildest = min(self._window, key=lambda c: c.state.severity)
        harshest = max(self._window, key=lambda c: c.state.severity)
        latest = self._window[-1]
        if mildest.state.severity > current.severity:
            return latest if latest.state is mildest.state else mildest
        if harshest.state.severity < current.severity:
            return latest if latest.state is harshest.state else harshest
        return None

    def forget(self) -> None:
        """Start counting afresh (after a person lifted a halt)."""
        self._window.clear()
