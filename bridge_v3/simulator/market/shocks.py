"""Price shocks: from a server instant on, one symbol's prices are multiplied by a factor.

A shock is a gap, as on a news spike: every tick at or after its instant is scaled and
every tick before it stays as it was, so history already shown never changes. Shocks
compound (two of -3 % give a factor of 0.97 ** 2). Bars follow their ticks: a bar wholly
after a shock is scaled, and the one bar a shock cuts through is drawn again from its
ticks, so bars and ticks always agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from bridge_v3.simulator.market.ticks import to_bars

MIN_PERCENT, MAX_PERCENT = -99.0, 1000.0
_PRICE_FIELDS = ("bid", "ask", "last")
_BAR_FIELDS = ("open", "high", "low", "close")


def factor_of(percent: float) -> float:
    """The price factor of a shock of ``percent``; ValueError when it is not a usable one."""
    if isinstance(percent, bool) or not isinstance(percent, (int, float)):
        raise ValueError(f"percent must be a number, got {percent!r}")
    if not math.isfinite(percent) or not MIN_PERCENT <= percent <= MAX_PERCENT:
        raise ValueError(
            f"percent must be from {MIN_PERCENT:g} to {MAX_PERCENT:g}, got {percent!r}"
        )
    return 1.0 + percent / 100.0


class Shocks:
    """The shocks of one symbol, oldest first, as (server ms from which, factor)."""

    def __init__(self, digits: int) -> None:
        self._digits = digits
        self._steps: list[tuple[int, float]] = []

    def __bool__(self) -> bool:
        return bool(self._steps)

    def add(self, from_msc: int, factor: float) -> None:
        """Scale prices at and after ``from_msc`` by ``factor`` (on top of earlier shocks)."""
        if not factor > 0:
            raise ValueError(f"a price factor must be positive, got {factor!r}")
        # A new list, swapped in whole: a reader in another thread sees before or after.
        self._steps = sorted([*self._steps, (int(from_msc), float(factor))])

    def to_state(self) -> list[list[float]]:
        return [[at, factor] for at, factor in self._steps]

    def restore(self, steps: list) -> None:
        for at, factor in steps:
            self.add(int(at), float(factor))

    def factors(self, msc: np.ndarray) -> np.ndarray:
        """The compounded factor in force at each server millisecond."""
        result = np.ones(len(msc), dtype=np.float64)
        for at, factor in self._steps:
            result[msc >= at] *= factor
        return result

    def ticks(self, ticks: np.ndarray) -> np.ndarray:
        """``ticks`` with their prices scaled (a copy; unchanged when there is no shock)."""
        if not self._steps or not len(ticks):
            return ticks
        scaled = np.array(ticks, copy=True)
        factors = self.factors(scaled["time_msc"].astype(np.int64))
        for field in _PRICE_FIELDS:
            scaled[field] = np.round(scaled[field] * factors, self._digits)
        return scaled

    def bars(
        self, bars: np.ndarray, seconds: int, redraw: Callable[[int], np.ndarray]
    ) -> np.ndarray:
        """Base bars of ``seconds`` scaled; a bar a shock cuts through is ``redraw(open)``."""
        if not self._steps or not len(bars):
            return bars
        scaled = np.array(bars, copy=True)
        opens = scaled["time"].astype(np.int64) * 1000
        factors = self.factors(opens)
        for field in _BAR_FIELDS:
            scaled[field] = np.round(scaled[field] * factors, self._digits)
        for index in np.flatnonzero(self._cut(opens, seconds * 1000)):
            scaled[index] = redraw(int(scaled["time"][index]))
        return scaled

    def _cut(self, opens: np.ndarray, span_msc: int) -> np.ndarray:
        cut = np.zeros(len(opens), dtype=bool)
        for at, _ in self._steps:
            cut |= (opens < at) & (at < opens + span_msc)
        return cut


def redrawn_bar(ticks: np.ndarray, digits: int, seconds: int, fallback: np.void) -> np.void:
    """The bar ``ticks`` (already scaled) make; ``fallback`` when they make none."""
    made = to_bars(ticks, digits, seconds)
    return made[0] if len(made) else fallback
