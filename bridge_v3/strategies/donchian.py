"""Donchian-channel breakout: enter when the close first leaves the recent range."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs
    import pandas as pd

from bridge_v3.strategies.base import Signal, Strategy
from bridge_v3.strategies.indicators import channel


class DonchianBreakout(Strategy):
    """Buy when the close breaks above the highest high of the ``period`` bars before it
    (and the close before did not), sell on the mirror break below the lowest low. SL at
    the channel's middle, TP ``reward`` times that distance beyond the close."""

    name = "donchian"
    defaults = {"period": 20, "reward": 2.0}

    @property
    def warmup(self) -> int:
        return int(self.params["period"]) + 2

    def evaluate(self, bars: pd.DataFrame) -> Signal | None:
        p = self.params
        close = bars["close"]
        upper, lower = channel(bars, p["period"])
        if close.iloc[-1] > upper.iloc[-1] and not close.iloc[-2] > upper.iloc[-2]:
            side = "buy"
        elif close.iloc[-1] < lower.iloc[-1] and not close.iloc[-2] < lower.iloc[-2]:
            side = "sell"
        else:
            return None
        price = float(close.iloc[-1])
        middle = float(upper.iloc[-1] + lower.iloc[-1]) / 2
        risk = abs(price - middle)
        sign = 1.0 if side == "buy" else -1.0
        width = float(upper.iloc[-1] - lower.iloc[-1])
        return Signal(
            side,
            price,
            sl=middle,
            tp=price + sign * p["reward"] * risk,
            strength=min(1.0, risk / width) if width > 0 else 1.0,
            reason=f"close broke the {p['period']:g}-bar {'high' if side == 'buy' else 'low'}",
        )
