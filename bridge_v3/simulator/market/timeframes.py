"""Timeframes in server time: bar boundaries and aggregation of finer bars.

As MT5 draws them: intraday bars start at multiples of their length from server
midnight, D1 at server midnight, W1 on Sunday 00:00 server time, MN1 on the 1st.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.config.constants import TIMEFRAMES, TIMEFRAMES_BY_MT5
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE
from bridge_v3.simulator.market.errors import MarketError

_DAY = 86_400
_W1 = TIMEFRAMES["W1"].mt5
_MN1 = TIMEFRAMES["MN1"].mt5
_SUNDAY = 3  # 1970-01-04, day 3 of the epoch, was a Sunday


def check(timeframe: int) -> int:
    """``timeframe`` if it is a TIMEFRAME_* value, else the terminal's invalid-params error."""
    if isinstance(timeframe, bool) or timeframe not in TIMEFRAMES_BY_MT5:
        raise MarketError.invalid_params(f"unknown timeframe {timeframe!r}")
    return int(timeframe)


def nominal_seconds(timeframe: int) -> int:
    """Length of a bar in seconds (31 days for MN1, the longest month)."""
    return TIMEFRAMES_BY_MT5[timeframe].seconds or 31 * _DAY


def is_multiple_of(timeframe: int, seconds: int) -> bool:
    """True when every bar boundary of ``timeframe`` is also a boundary of ``seconds`` bars.

    ``seconds`` must divide a day (every replayable timeframe does).
    """
    if timeframe in (_W1, _MN1):
        return True
    return TIMEFRAMES_BY_MT5[timeframe].seconds % seconds == 0


def bucket_starts(timeframe: int, times: np.ndarray) -> np.ndarray:
    """Open time (server seconds) of the ``timeframe`` bar holding each server time."""
    times = np.asarray(times, dtype=np.int64)
    if timeframe == _W1:
        days = times // _DAY
        return (days - (days - _SUNDAY) % 7) * _DAY
    if timeframe == _MN1:
        months = times.astype("datetime64[s]").astype("datetime64[M]")
        return months.astype("datetime64[s]").astype(np.int64)
    seconds = TIMEFRAMES_BY_MT5[timeframe].seconds
    return times - times % seconds


def bucket_start(timeframe: int, time: int) -> int:
    return int(bucket_starts(timeframe, np.array([time], dtype=np.int64))[0])


def next_start(timeframe: int, start: int) -> int:
    """Open time of the bar after the one opening at ``start``."""
    if timeframe == _MN1:
        month = np.array([start], dtype="datetime64[s]").astype("datetime64[M]") + 1
        return int(month.astype("datetime64[s]").astype(np.int64)[0])
    if timeframe == _W1:
        return start + 7 * _DAY
    return start + TIMEFRAMES_BY_MT5[timeframe].seconds


def aggregate(bars: np.ndarray, timeframe: int) -> np.ndarray:
    """Bars of ``timeframe`` made from finer, time-ordered bars (RATES_DTYPE).

    open = first open, close = last close, high/low = extremes, volumes summed, spread =
    the smallest spread of the bar (as the terminal's spread column shows).
    """
    if len(bars) == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    keys = bucket_starts(timeframe, bars["time"])
    firsts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    lasts = np.concatenate((firsts[1:], [len(bars)])) - 1
    out = np.zeros(len(firsts), dtype=RATES_DTYPE)
    out["time"] = keys[firsts]
    out["open"] = bars["open"][firsts]
    out["close"] = bars["close"][lasts]
    out["high"] = np.maximum.reduceat(bars["high"], firsts)
    out["low"] = np.minimum.reduceat(bars["low"], firsts)
    out["tick_volume"] = np.add.reduceat(bars["tick_volume"], firsts)
    out["spread"] = np.minimum.reduceat(bars["spread"], firsts)
    out["real_volume"] = np.add.reduceat(bars["real_volume"], firsts)
    return out
