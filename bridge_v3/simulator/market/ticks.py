"""Ticks drawn inside bars, and bars made back from ticks.

A bar's ticks start at its open, touch its high and its low, end at its close and never
leave its range; their number is the bar's ``tick_volume``. The ask is the bid plus the
bar's spread; when the bid repeats, the ask moves by one point instead (a tick always
changes something), so the smallest spread of the bar is still the bar's spread. Prices
are handled as integer points, so re-aggregating ticks gives the bar back exactly.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE

FLAG_BID, FLAG_ASK = mc.TICK_FLAG_BID, mc.TICK_FLAG_ASK
INFO_FLAGS = mc.TICK_FLAG_BID | mc.TICK_FLAG_ASK
TRADE_FLAGS = mc.TICK_FLAG_LAST | mc.TICK_FLAG_VOLUME


def to_price(points: np.ndarray, digits: int) -> np.ndarray:
    """Integer points -> the float nearest to the decimal price (as a price file has it)."""
    return np.asarray(points, dtype=np.float64) / 10.0**digits


def to_points(prices: np.ndarray, digits: int) -> np.ndarray:
    return np.rint(np.asarray(prices, dtype=np.float64) * 10.0**digits).astype(np.int64)


def waypoints(o, h, l, c) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """The prices a bar's ticks must visit in order, and which of them count.

    open -> low -> high -> close for a rising bar, open -> high -> low -> close otherwise;
    a waypoint equal to the one before it is dropped.
    """
    rising = c >= o
    path = np.stack([o, np.where(rising, l, h), np.where(rising, h, l), c], axis=1)
    keep = np.ones(path.shape, dtype=bool)
    last = path[:, 0]
    for k in (1, 2, 3):
        keep[:, k] = path[:, k] != last
        last = np.where(keep[:, k], path[:, k], last)
    return path, keep


def min_ticks(o, h, l, c) -> np.ndarray:  # noqa: E741
    """The fewest ticks that can draw each bar (1 to 4)."""
    return waypoints(o, h, l, c)[1].sum(axis=1)


def synthesise(bars: dict[str, np.ndarray], span_ms: int, digits: int, rng) -> np.ndarray:
    """Ticks (TICKS_DTYPE) inside ``bars``: arrays ``start_ms, open, high, low, close, n,
    spread`` (prices in points, ``n`` >= :func:`min_ticks`, ``n`` <= ``span_ms``).

    Tick times are distinct milliseconds within ``[start_ms, start_ms + span_ms)``.
    """
    n = bars["n"].astype(np.int64)
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, dtype=TICKS_DTYPE)
    firsts = np.cumsum(n) - n
    bar = np.repeat(np.arange(len(n)), n)
    within = np.arange(total) - firsts[bar]
    is_wp, wp_value = _place_waypoints(bars, firsts, rng)
    bids = _walk(bars, bar, is_wp, wp_value, rng)
    times = bars["start_ms"][bar] + _offsets(n, bar, within, span_ms, rng)
    return _records(bids, times, bars["spread"][bar], within, digits)


def _place_waypoints(bars, firsts, rng) -> tuple[np.ndarray, np.ndarray]:
    o, h, l, c, n = (bars[k] for k in ("open", "high", "low", "close", "n"))  # noqa: E741
    path, keep = waypoints(o, h, l, c)
    count = keep.sum(axis=1)
    values = np.zeros_like(path)
    rows, cols = np.nonzero(keep)
    values[rows, (np.cumsum(keep, axis=1) - 1)[rows, cols]] = path[rows, cols]
    u = rng.random((len(n), 2))
    three, four = count == 3, count == 4
    p1 = 1 + np.floor(u[:, 0] * np.maximum(n - 3, 0)).astype(np.int64)
    positions = np.full(path.shape, -1, dtype=np.int64)
    positions[:, 0] = 0
    positions[three, 1] = (1 + np.floor(u[:, 0] * np.maximum(n - 2, 0)).astype(np.int64))[three]
    positions[four, 1] = p1[four]
    positions[four, 2] = (p1 + 1 + np.floor(u[:, 1] * np.maximum(n - 2 - p1, 0)))[four]
    several = count >= 2
    positions[several, count[several] - 1] = n[several] - 1
    total = int(n.sum())
    is_wp, wp_value = np.zeros(total, dtype=bool), np.zeros(total, dtype=np.int64)
    placed = positions >= 0
    index = (firsts[:, None] + positions)[placed]
    is_wp[index], wp_value[index] = True, values[placed]
    ends = firsts + n - 1  # the last tick is the close, also for one-price bars
    is_wp[ends], wp_value[ends] = True, c
    return is_wp, wp_value


def _walk(bars, bar, is_wp, wp_value, rng) -> np.ndarray:
    """Bids: each waypoint exactly, a Brownian bridge between them, clipped to the bar."""
    total = len(bar)
    index = np.arange(total)
    before = np.maximum.accumulate(np.where(is_wp, index, 0))
    after = np.minimum.accumulate(np.where(is_wp, index, total)[::-1])[::-1]
    span = np.where(after > before, after - before, 1)
    frac = (index - before) / span
    low, high, n = bars["low"][bar], bars["high"][bar], bars["n"][bar]
    step = np.maximum(0.5, (high - low) / (2.0 * np.sqrt(n)))
    walk = np.cumsum(rng.standard_normal(total) * step)
    noise = (walk - walk[before]) - frac * (walk[after] - walk[before])
    line = wp_value[before] + (wp_value[after] - wp_value[before]) * frac
    return np.rint(np.clip(line + noise, low, high)).astype(np.int64)


def _offsets(n, bar, within, span_ms: int, rng) -> np.ndarray:
    """Distinct, increasing millisecond offsets of each bar's ticks inside its span."""
    ordered = np.sort(bar + rng.random(len(bar))) - bar
    room = np.maximum(span_ms - n[bar], 0)
    return np.floor(ordered * room).astype(np.int64) + within


def _records(bids, times, spread, within, digits: int) -> np.ndarray:
    total = len(bids)
    repeat = np.zeros(total, dtype=bool)
    repeat[1:] = (bids[1:] == bids[:-1]) & (within[1:] > 0)
    index = np.arange(total)
    run_start = np.maximum.accumulate(np.where(repeat, 0, index))
    asks = bids + spread + (index - run_start) % 2
    new_bar = within == 0
    bid_moved = np.concatenate(([True], bids[1:] != bids[:-1])) | new_bar
    ask_moved = np.concatenate(([True], asks[1:] != asks[:-1])) | new_bar
    out = np.zeros(total, dtype=TICKS_DTYPE)
    out["time_msc"] = times
    out["time"] = times // 1000
    out["bid"] = to_price(bids, digits)
    out["ask"] = to_price(asks, digits)
    out["flags"] = np.where(bid_moved, FLAG_BID, 0) | np.where(ask_moved, FLAG_ASK, 0)
    return out


def to_bars(ticks: np.ndarray, digits: int, seconds: int = 60) -> np.ndarray:
    """Bars of ``seconds`` (RATES_DTYPE) aggregated from time-ordered ticks."""
    if len(ticks) == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    keys = ticks["time_msc"] // (seconds * 1000) * seconds
    firsts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    lasts = np.concatenate((firsts[1:], [len(ticks)])) - 1
    spreads = to_points(ticks["ask"] - ticks["bid"], digits).astype(np.int32)
    out = np.zeros(len(firsts), dtype=RATES_DTYPE)
    out["time"] = keys[firsts]
    out["open"] = ticks["bid"][firsts]
    out["close"] = ticks["bid"][lasts]
    out["high"] = np.maximum.reduceat(ticks["bid"], firsts)
    out["low"] = np.minimum.reduceat(ticks["bid"], firsts)
    out["tick_volume"] = np.diff(np.concatenate((firsts, [len(ticks)])))
    out["spread"] = np.minimum.reduceat(spreads, firsts)
    return out


def select(ticks: np.ndarray, flags: int) -> np.ndarray:
    """The ticks ``copy_ticks_*`` returns for COPY_TICKS_ALL / _INFO / _TRADE."""
    if flags == mc.COPY_TICKS_ALL:
        return ticks
    wanted = INFO_FLAGS if flags == mc.COPY_TICKS_INFO else TRADE_FLAGS
    return ticks[(ticks["flags"] & wanted) != 0]
