"""The few indicators the built-in strategies use, on pandas Series (no look-ahead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs
    import pandas as pd


def sma(values: pd.Series, period: int) -> pd.Series:
    """Simple moving average of the last ``period`` values (NaN before there are enough)."""
    return values.rolling(int(period)).mean()


def true_range(bars: pd.DataFrame) -> pd.Series:
    """max(high - low, |high - previous close|, |low - previous close|)."""
    import pandas as pd

    previous = bars["close"].shift(1)
    ranges = pd.concat(
        [
            bars["high"] - bars["low"],
            (bars["high"] - previous).abs(),
            (bars["low"] - previous).abs(),
        ],
        axis=1,
    )
    return ranges.max(axis=1, skipna=False)


def atr(bars: pd.DataFrame, period: int) -> pd.Series:
    """Average true range: the simple mean of the last ``period`` true ranges."""
    return sma(true_range(bars), period)


def channel(bars: pd.DataFrame, period: int) -> tuple[pd.Series, pd.Series]:
    """Donchian channel of the ``period`` bars *before* each bar: (highest high, lowest low)."""
    upper = bars["high"].rolling(int(period)).max().shift(1)
    lower = bars["low"].rolling(int(period)).min().shift(1)
    return upper, lower
