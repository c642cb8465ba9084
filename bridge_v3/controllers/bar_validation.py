"""Validate a batch of bars from the terminal before it is stored, with numpy masks.

Each rejected row gets the first failing reason in this fixed precedence:

1. ``non_finite``            open, high, low or close is NaN or infinite
2. ``non_positive_price``    a price is zero or negative
3. ``high_below_low``        high < low (checked before 4 and 5, which it always implies)
4. ``high_below_open_close`` high < max(open, close)
5. ``low_above_open_close``  low > min(open, close)
6. ``misaligned``            the open time is not a period start on the *server* clock:
                             a multiple of the length for intraday and D1 (server
                             midnight), Sunday 00:00 for W1, the 1st of the month for MN1
7. ``in_future``             the bar closes (open + length) after now + tolerance, so it
                             cannot be a closed bar
8. ``duplicate``             an earlier row that passed 1-7 has the same time (the first
                             one is kept)
9. ``out_of_order``          the time is earlier than that of an earlier row that passed
                             1-8 (the earlier rows are kept)

Rows at or before ``last_stored_time`` are not rejected for that: a broker may correct
stored bars. They are marked in ``ValidationResult.revisit`` so the caller can compare
them with what it stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bridge_v3.config.constants import Timeframe
from bridge_v3.controllers.tick_aggregation import Period, parse_period, period_ends, period_starts

REASONS = (
    "non_finite",
    "non_positive_price",
    "high_below_low",
    "high_below_open_close",
    "low_above_open_close",
    "misaligned",
    "in_future",
    "duplicate",
    "out_of_order",
)
_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Rejection:
    """One refused row: its position in the batch, its time (UTC epoch), why, its values."""

    index: int
    time: int
    reason: str
    row: dict

    def payload(self) -> dict:
        """The row for a JSON column: non-finite floats become "nan", "inf", "-inf"."""
        return {
            name: str(value) if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in self.row.items()
        }


@dataclass(frozen=True)
class ValidationResult:
    """``good`` rows (input order), their input positions and revisit flags, rejections."""

    good: np.ndarray
    rejected: list[Rejection]
    good_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    revisit: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def revisits(self) -> np.ndarray:
        """Good rows at or before the last stored time (possible broker corrections)."""
        return self.good[self.revisit]

    def counts(self) -> dict[str, int]:
        """Number of rejections per reason (reasons with none are left out)."""
        totals: dict[str, int] = {}
        for rejection in self.rejected:
            totals[rejection.reason] = totals.get(rejection.reason, 0) + 1
        return totals


def timeframe_period(timeframe: int | str | Timeframe | Period) -> Period:
    """A Timeframe, its name, or its ``seconds`` (0 is MN1, 604800 is W1) as a Period."""
    if isinstance(timeframe, (int, np.integer)) and not isinstance(timeframe, bool):
        return parse_period({0: "MN1", 604_800: "W1"}.get(int(timeframe), int(timeframe)))
    return parse_period(timeframe)


def _epoch(value: datetime | float | None) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a tz-aware UTC datetime or an epoch")
        return value.timestamp()
    return value


def _price_masks(rates: np.ndarray) -> list[np.ndarray]:
    o, h, lo, c = (np.asarray(rates[name], dtype=np.float64) for name in _PRICES)
    with np.errstate(invalid="ignore"):
        return [
            ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)),
            (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0),
            h < lo,
            h < np.maximum(o, c),
            lo > np.minimum(o, c),
        ]


def _time_masks(
    times: np.ndarray,
    server: np.ndarray,
    period: Period,
    latest_close: float,
    ends: np.ndarray | None,
) -> list[np.ndarray]:
    misaligned = period_starts(server, period) != server
    # Without the true ends, the length is read on the server clock, where calendar
    # periods are defined (right except across a daylight-saving change).
    closes = times + (period_ends(server, period) - server) if ends is None else ends
    return [misaligned, closes > latest_close]


def _sequence_masks(times: np.ndarray, passed: np.ndarray) -> list[np.ndarray]:
    """Duplicates and out-of-order rows among the rows that passed every other check
    (``times`` may be sequence keys: see ``validate_bars``' ``groups``)."""
    duplicate = np.zeros(times.size, dtype=bool)
    out_of_order = np.zeros(times.size, dtype=bool)
    candidates = np.flatnonzero(passed)
    order = candidates[np.argsort(times[candidates], kind="stable")]
    duplicate[order[1:][times[order[1:]] == times[order[:-1]]]] = True
    remaining = np.flatnonzero(passed & ~duplicate)
    if remaining.size > 1:
        seen_max = np.maximum.accumulate(times[remaining])
        out_of_order[remaining[1:][times[remaining[1:]] < seen_max[:-1]]] = True
    return [duplicate, out_of_order]


def validate_bars(
    rates: np.ndarray,
    timeframe: int | str | Timeframe | Period,
    now_utc: datetime | float,
    last_stored_time: datetime | float | None = None,
    *,
    server_times: np.ndarray | None = None,
    end_times: np.ndarray | None = None,
    tolerance_seconds: float = 60.0,
    groups: np.ndarray | None = None,
) -> ValidationResult:
    """Split ``rates`` (RATES_DTYPE, ``time`` already UTC seconds) into good and rejected.

    ``server_times`` are the same bars' times on the broker clock (as the terminal sent
    them) and are used for alignment; without them ``time`` itself is checked, which is
    right only for a UTC broker clock. ``end_times`` are the bars' ends in UTC when the
    caller knows them (found on the broker's clock, across daylight-saving changes too).
    ``timeframe`` is a Timeframe, its name or its seconds. ``tolerance_seconds`` absorbs
    clock skew between this machine and the broker. ``groups`` (ascending, one per row)
    tells apart several series validated together: duplicates and order are checked
    within each series only.
    """
    times = np.asarray(rates["time"], dtype=np.int64)
    server = times if server_times is None else np.asarray(server_times, dtype=np.int64)
    if server.shape != times.shape:
        raise ValueError("server_times must have one entry per bar")
    period = timeframe_period(timeframe)
    latest_close = _epoch(now_utc) + tolerance_seconds
    ends = None if end_times is None else np.asarray(end_times, dtype=np.int64)
    masks = _price_masks(rates) + _time_masks(times, server, period, latest_close, ends)
    # A series number above the time bits: rows of different series never meet.
    keys = times if groups is None else (np.asarray(groups, np.int64) << 40) + times
    masks += _sequence_masks(keys, ~np.vstack(masks).any(axis=0))
    return _result(rates, times, np.vstack(masks), _epoch(last_stored_time))


def _result(
    rates: np.ndarray, times: np.ndarray, stacked: np.ndarray, last_stored: float | None
) -> ValidationResult:
    bad = stacked.any(axis=0)
    bad_index = np.flatnonzero(bad)
    reasons = stacked[:, bad_index].argmax(axis=0).tolist()
    names = rates.dtype.names
    # tolist() turns the rejected rows into Python values in one C call per array.
    rejected = [
        Rejection(index, time, REASONS[reason], dict(zip(names, row, strict=True)))
        for index, time, reason, row in zip(
            bad_index.tolist(),
            times[bad_index].tolist(),
            reasons,
            rates[bad_index].tolist(),
            strict=True,
        )
    ]
    good_index = np.flatnonzero(~bad)
    good = rates[good_index]
    if last_stored is None:
        revisit = np.zeros(good_index.size, dtype=bool)
    else:
        revisit = times[good_index] <= last_stored
    return ValidationResult(good, rejected, good_index, revisit)
