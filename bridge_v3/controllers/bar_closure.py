"""Which fetched bars are closed: the terminal decides, the host clock only as a fallback.

A bar is closed when the terminal shows a newer bar, or when its newest tick is past the
bar's end. A VPS clock that runs ahead, or ticks that arrive late, must never make a bar
that is still growing final. Only when the terminal shows neither (a quiet or closed
market: the last bar of the week gets no newer bar until Sunday) does the host clock
decide, and then only ``GRACE`` seconds after the bar's end, with the newest tick at least
as old: a live market answers well within that.

A bar's end is found on the broker's clock, where periods are defined (a broker day is
25 hours long when its clock goes back; a month starts at the broker's midnight), then
converted to UTC.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bridge_v3.controllers.tick_aggregation import Period, period_ends

GRACE = 180.0  # seconds; beyond the broker-clock tolerance of the clock watch (120 s)

Convert = Callable[[np.ndarray], np.ndarray]  # epochs on one clock -> epochs on the other


def bar_ends(opens_utc: np.ndarray, period: Period, to_server: Convert, to_utc: Convert):
    """UTC second at which each bar (its open time in UTC) ends: its period's end on the
    broker's clock, in UTC."""
    return server_bar_ends(to_server(np.asarray(opens_utc, dtype=np.int64)), period, to_utc)


def server_bar_ends(server_opens: np.ndarray, period: Period, to_utc: Convert) -> np.ndarray:
    """``bar_ends`` for bars whose opens are already on the broker's clock."""
    return to_utc(period_ends(server_opens, period))


def closed_mask(ends: np.ndarray, *, newest_tick: float | None, now: float) -> np.ndarray:
    """True for the closed bars among bars (oldest first) ending at ``ends`` (UTC).

    ``newest_tick``: UTC time of the terminal's newest tick of the symbol (None: unknown);
    ``now``: the host's UTC clock.
    """
    closed = np.ones(len(ends), dtype=bool)  # every bar but the last has a newer one
    if len(ends):
        closed[-1] = last_is_closed(float(ends[-1]), newest_tick, now)
    return closed


def needs_tick(ends: np.ndarray, now: float) -> bool:
    """True when the newest tick could change the verdict on the last bar (the host clock
    puts it at or near its end); otherwise the last bar is forming and no tick is asked."""
    return len(ends) > 0 and float(ends[-1]) <= now + GRACE


def last_is_closed(end: float, newest_tick: float | None, now: float) -> bool:
    if newest_tick is not None and newest_tick >= end:
        return True
    quiet = newest_tick is None or newest_tick + GRACE <= now
    return quiet and end + GRACE <= now
