"""Ticks -> OHLC bars and bars -> coarser bars, vectorised, for any period S1..MN1.

Periods are MT5-shaped: fixed lengths (``S<n>``, ``M<n>``, ``H<n>``, ``D1`` or a number
of seconds) start at multiples of the length since the epoch; ``W1`` starts on Sunday
00:00 (as MT5 weeks do) and ``MN1`` on the 1st of the calendar month. Starts are
computed on whatever clock the times are written in: to reproduce the terminal's D1,
W1 and MN1 bars aggregate in *server* time, then convert the ``time`` column to UTC
(``ServerTime.to_utc_array``). Periods without ticks produce no bar, as in MT5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bridge_v3.config.constants import Timeframe
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE

_WEEK = 7 * 86_400
_FIRST_SUNDAY = 3 * 86_400  # 1970-01-04 00:00, the first Sunday after the epoch
_UNITS = {"S": 1, "M": 60, "H": 3_600}
_NAME = re.compile(r"^(?P<unit>S|M|H)(?P<count>[1-9]\d*)$")


@dataclass(frozen=True)
class Period:
    """A bar period: ``kind`` is ``fixed`` (``seconds`` long), ``week`` or ``month``."""

    name: str
    kind: str
    seconds: int  # fixed: the length; week: 604800; month: 0 (calendar)


def parse_period(period: str | int | Timeframe | Period) -> Period:
    """``"S1"``, ``"M15"``, ``"H4"``, ``"D1"``, ``"W1"``, ``"MN1"``, a Timeframe or seconds."""
    if isinstance(period, Period):
        return period
    if isinstance(period, Timeframe):
        period = period.name
    if isinstance(period, (int, np.integer)) and not isinstance(period, bool):
        if period <= 0:
            raise ValueError(f"a period in seconds must be positive, got {period}")
        return Period(f"{int(period)}s", "fixed", int(period))
    name = str(period).strip().upper()
    if name == "MN1":
        return Period(name, "month", 0)
    if name == "W1":
        return Period(name, "week", _WEEK)
    if name == "D1":
        return Period(name, "fixed", 86_400)
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"unknown period {period!r}: use S<n>, M<n>, H<n>, D1, W1, MN1 or seconds")
    return Period(name, "fixed", int(match["count"]) * _UNITS[match["unit"]])


def period_starts(times: np.ndarray, period: str | int | Timeframe | Period) -> np.ndarray:
    """Start (epoch seconds, int64) of the period holding each time (epoch seconds)."""
    spec = parse_period(period)
    seconds = np.asarray(times, dtype=np.int64)
    if spec.kind == "fixed":
        return seconds - seconds % spec.seconds  # numpy's % floors: fine before 1970
    if spec.kind == "week":
        return seconds - (seconds - _FIRST_SUNDAY) % _WEEK
    months = seconds.astype("datetime64[s]").astype("datetime64[M]")
    return months.astype("datetime64[s]").astype(np.int64)


def period_ends(starts: np.ndarray, period: str | int | Timeframe | Period) -> np.ndarray:
    """End (exclusive, epoch seconds) of periods given their starts."""
    spec = parse_period(period)
    starts = np.asarray(starts, dtype=np.int64)
    if spec.kind != "month":
        return starts + spec.seconds
    months = starts.astype("datetime64[s]").astype("datetime64[M]") + 1
    return months.astype("datetime64[s]").astype(np.int64)


def _period_groups(times: np.ndarray, period: Period, unit: int) -> tuple[np.ndarray, np.ndarray]:
    """First index of each period in sorted ``times`` (``unit`` per second) and its start.

    Works on integer period numbers (one floor division) so no full-length array of
    starts is built; months are found among the starts of day runs, which are few.
    """
    if period.kind == "month":
        firsts, day_starts = _period_groups(times, Period("D1", "fixed", 86_400), unit)
        month_starts = period_starts(day_starts, period)
        changes = np.flatnonzero(month_starts[1:] != month_starts[:-1]) + 1
        keep = np.concatenate(([0], changes))
        return firsts[keep], month_starts[keep]
    origin = _FIRST_SUNDAY if period.kind == "week" else 0
    shifted = times - origin * unit if origin else times
    keys = shifted // (period.seconds * unit)
    firsts = np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1))
    return firsts, keys[firsts] * period.seconds + origin


def _sum_volume(volume: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    if np.issubdtype(volume.dtype, np.integer):
        return np.add.reduceat(volume.astype(np.uint64), firsts)
    return np.rint(np.add.reduceat(volume.astype(np.float64), firsts)).astype(np.uint64)


def aggregate_ticks(
    time_msc: np.ndarray,
    price: np.ndarray,
    period: str | int | Timeframe | Period,
    volume: np.ndarray | None = None,
) -> np.ndarray:
    """Aggregate ticks into bars (``RATES_DTYPE``), one bar per period that has ticks.

    ``time_msc`` are epoch milliseconds (any clock; see module docstring), ``price`` the
    price to aggregate (e.g. bid). Ticks whose price is NaN or infinite are ignored;
    unsorted input is sorted stably by time. ``time`` is the period start in seconds,
    ``tick_volume`` the number of ticks, ``real_volume`` the summed ``volume`` (0 when
    not given, rounded when fractional), ``spread`` 0.
    """
    msc = np.asarray(time_msc, dtype=np.int64)
    prices = np.asarray(price, dtype=np.float64)
    volumes = None if volume is None else np.asarray(volume)
    if prices.shape != msc.shape or (volumes is not None and volumes.shape != msc.shape):
        raise ValueError("time_msc, price and volume must have the same length")
    keep = np.isfinite(prices)
    if not keep.all():
        msc, prices = msc[keep], prices[keep]
        volumes = None if volumes is None else volumes[keep]
    if msc.size > 1 and np.any(msc[1:] < msc[:-1]):
        order = np.argsort(msc, kind="stable")
        msc, prices = msc[order], prices[order]
        volumes = None if volumes is None else volumes[order]
    return _bars_from_sorted(msc, prices, parse_period(period), volumes)


def _bars_from_sorted(
    msc: np.ndarray, prices: np.ndarray, period: Period, volumes: np.ndarray | None
) -> np.ndarray:
    if msc.size == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    firsts, starts = _period_groups(msc, period, 1000)
    ends = np.append(firsts[1:], msc.size)
    bars = np.zeros(firsts.size, dtype=RATES_DTYPE)
    bars["time"] = starts
    bars["open"] = prices[firsts]
    bars["high"] = np.maximum.reduceat(prices, firsts)
    bars["low"] = np.minimum.reduceat(prices, firsts)
    bars["close"] = prices[ends - 1]
    bars["tick_volume"] = ends - firsts
    if volumes is not None:
        bars["real_volume"] = _sum_volume(volumes, firsts)
    return bars


def aggregate_rates(rates: np.ndarray, period: str | int | Timeframe | Period) -> np.ndarray:
    """Re-aggregate bars (``RATES_DTYPE``) into a coarser period.

    Open of the first bar, highest high, lowest low, close of the last bar, summed tick
    and real volumes; ``spread`` is the lowest spread of the merged bars. Bars are
    sorted by time first if needed. Used to compare the terminal's bars across
    timeframes (M1 -> H1 must equal the terminal's H1, on the server clock).
    """
    if rates.size == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    times = np.asarray(rates["time"], dtype=np.int64)
    if np.any(times[1:] < times[:-1]):
        rates = rates[np.argsort(times, kind="stable")]
        times = np.asarray(rates["time"], dtype=np.int64)
    firsts, starts = _period_groups(times, parse_period(period), 1)
    bars = np.zeros(firsts.size, dtype=RATES_DTYPE)
    bars["time"] = starts
    bars["open"] = rates["open"][firsts]
    bars["high"] = np.maximum.reduceat(rates["high"], firsts)
    bars["low"] = np.minimum.reduceat(rates["low"], firsts)
    bars["close"] = rates["close"][np.append(firsts[1:], times.size) - 1]
    bars["tick_volume"] = np.add.reduceat(rates["tick_volume"].astype(np.uint64), firsts)
    bars["spread"] = np.minimum.reduceat(rates["spread"], firsts)
    bars["real_volume"] = np.add.reduceat(rates["real_volume"].astype(np.uint64), firsts)
    return bars
