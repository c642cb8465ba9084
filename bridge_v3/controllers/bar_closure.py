"""Which fetched bars are closed: the terminal decides, the host clock only as a fallback.

A bar is closed when the terminal shows a newer bar, or when its newest tick is past the
bar's end. A VPS clock that runs ahead, or ticks that arrive late, must never make a bar
that is still growing final. Only when the terminal shows neither (a quiet or closed
market: the last bar of the week gets no newer bar until Sunday) does the host clock
decide, and then only ``GRACE`` seconds after the bar's end, with the newest tick at least
as old: a live market answers well within that.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.config.constants import Timeframe

GRACE = 180.0  # seconds; beyond the broker-clock tolerance of the clock watch (120 s)


def bar_ends(rates: np.ndarray, timeframe: Timeframe) -> np.ndarray:
    """UTC second at which each bar's period ends (its next bar's open time)."""
    if timeframe.seconds:
        return rates["time"].astype(np.int64) + timeframe.seconds
    opens = rates["time"].astype("datetime64[s]")
    next_month = (opens.astype("datetime64[M]") + 1).astype("datetime64[s]")
    return next_month.astype(np.int64)


def needs_tick(rates: np.ndarray, timeframe: Timeframe, now: float) -> bool:
    """True when the newest tick could change the verdict on the last bar (the host clock
    puts it at or near its end); otherwise the last bar is forming and no tick is asked."""
    return len(rates) > 0 and bar_ends(rates[-1:], timeframe)[0] <= now + GRACE


def closed_mask(
    rates: np.ndarray, timeframe: Timeframe, *, newest_tick: float | None, now: float
) -> np.ndarray:
    """True for closed bars of ``rates`` (oldest first, ``time`` in UTC seconds).

    ``newest_tick``: UTC time of the terminal's newest tick of the symbol (None: unknown);
    ``now``: the host's UTC clock.
    """
    closed = np.ones(len(rates), dtype=bool)  # every bar but the last has a newer one
    if len(rates):
        closed[-1] = last_is_closed(bar_ends(rates[-1:], timeframe)[0], newest_tick, now)
    return closed


def last_is_closed(end: float, newest_tick: float | None, now: float) -> bool:
    if newest_tick is not None and newest_tick >= end:
        return True
    quiet = newest_tick is None or newest_tick + GRACE <= now
    return quiet and end + GRACE <= now
