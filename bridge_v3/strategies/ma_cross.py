"""Moving-average crossover with stops at a multiple of the average true range."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs
    import pandas as pd

from bridge_v3.strategies.base import Signal, Strategy
from bridge_v3.strategies.indicators import atr, sma


class MovingAverageCross(Strategy):
    """Buy when the fast SMA of closes crosses above the slow one, sell when it crosses
    below. SL ``sl_atr`` ATRs and TP ``tp_atr`` ATRs from the close."""

    name = "ma_cross"
    defaults = {"fast": 10, "slow": 30, "atr_period": 14, "sl_atr": 2.0, "tp_atr": 3.0}

    def _checked(self, params: dict) -> dict:
        params = super()._checked(params)
        if params["fast"] >= params["slow"]:
            raise ValueError(f"fast ({params['fast']}) must be below slow ({params['slow']})")
        return params

    @property
    def warmup(self) -> int:
        p = self.params
        return int(max(p["slow"], p["atr_period"] + 1)) + 1

    def evaluate(self, bars: pd.DataFrame) -> Signal | None:
        p = self.params
        close = bars["close"]
        fast, slow = sma(close, p["fast"]), sma(close, p["slow"])
        before, now = fast.iloc[-2] - slow.iloc[-2], fast.iloc[-1] - slow.iloc[-1]
        if before <= 0 < now:
            side = "buy"
        elif before >= 0 > now:
            side = "sell"
        else:
            return None  # no cross on this bar (or not enough bars: NaN compares False)
        price, band = float(close.iloc[-1]), float(atr(bars, p["atr_period"]).iloc[-1])
        sign = 1.0 if side == "buy" else -1.0
        return Signal(
            side,
            price,
            sl=price - sign * p["sl_atr"] * band,
            tp=price + sign * p["tp_atr"] * band,
            strength=min(1.0, abs(now) / band) if band > 0 else 1.0,
            reason=f"SMA{p['fast']:g} crossed {'above' if side == 'buy' else 'below'} "
            f"SMA{p['slow']:g}",
        )
