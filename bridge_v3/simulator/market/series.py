"""One symbol's history as the terminal shows it at a given moment.

Every query takes ``horizon_msc``: the server clock's reading of "now" in milliseconds.
Nothing after it is shown, and the bar holding it (position 0, the forming bar) is made
from its ticks up to that millisecond, so it moves as the clock advances. Bars and ticks
before ``first_time`` (the start of the kept history) are not shown either.
Higher timeframes are aggregated from the source's base bars when their boundaries line
up, else from M1 bars made from ticks; both give the same bars.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.simulator.market import ticks as tick_tools
from bridge_v3.simulator.market import timeframes as tfs
from bridge_v3.simulator.market.shocks import Shocks, redrawn_bar

_DAY = 86_400
MAX_TICKS = 5_000_000  # per call, so one request cannot exhaust the simulator's memory


def _concat(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class SymbolSeries:
    """Rates and ticks of one symbol from a source (generated or replayed)."""

    def __init__(self, source, digits: int, first_time: int) -> None:
        self.source = source
        self.digits = digits
        self.first_time = int(first_time)
        self.shocks = Shocks(digits)

    # -- bars ---------------------------------------------------------------------------

    def rates_between(self, timeframe: int, server_from: int, server_to: int, horizon_msc: int):
        """Bars whose open time is within [server_from, server_to], oldest first."""
        start = tfs.bucket_start(timeframe, server_from)
        if start < server_from:
            start = tfs.next_start(timeframe, start)
        if start > server_to:
            return np.zeros(0, dtype=RATES_DTYPE)
        end = tfs.next_start(timeframe, tfs.bucket_start(timeframe, server_to))
        fine = not tfs.is_multiple_of(timeframe, self.source.base_seconds)
        return tfs.aggregate(self._bars(start, end, horizon_msc, fine), timeframe)

    def rates_last(self, timeframe: int, server_to: int, count: int, horizon_msc: int):
        """The last ``count`` bars opening at or before ``server_to``, oldest first."""
        server_to = min(server_to, horizon_msc // 1000)
        nominal = tfs.nominal_seconds(timeframe)
        span = int(count * nominal * 1.5) + 4 * _DAY
        while True:
            server_from = server_to - span
            bars = self.rates_between(timeframe, server_from, server_to, horizon_msc)
            if len(bars) >= count or server_from <= self.first_time - nominal:
                return bars[-count:] if len(bars) > count else bars
            span *= 2

    def _bars(self, server_from: int, server_to: int, horizon_msc: int, fine: bool):
        """Base bars (or M1 made from ticks when ``fine``) in [server_from, server_to)."""
        low = max(server_from, self.first_time)
        high = min(server_to, horizon_msc // 1000 + 1)
        if high <= low:
            return np.zeros(0, dtype=RATES_DTYPE)
        if fine:
            found = self.ticks_between(low * 1000, high * 1000 - 1, horizon_msc)
            return tick_tools.to_bars(found, self.digits)
        keys = self.source.keys_between(low, high)
        bars = _concat([self.source.bars(key) for key in keys], RATES_DTYPE)
        bars = bars[(bars["time"] >= low) & (bars["time"] < high)]
        bars = self.shocks.bars(bars, self.source.base_seconds, self._redraw(bars))
        return self._finish_forming(bars, horizon_msc)

    def _redraw(self, bars: np.ndarray):
        """How a base bar cut by a shock is drawn again: from its own (scaled) ticks."""
        seconds = self.source.base_seconds

        def redraw(opened: int) -> np.void:
            found = self._base_ticks(opened, (opened + seconds) * 1000 - 1)
            fallback = bars[bars["time"] == opened][0]
            return redrawn_bar(found, self.digits, seconds, fallback)

        return redraw

    def _base_ticks(self, opened: int, until_msc: int) -> np.ndarray:
        """The (scaled) ticks of the base bar opened at ``opened`` up to ``until_msc``."""
        found = self.source.ticks(self.source.key_of(opened))
        found = found[(found["time_msc"] >= opened * 1000) & (found["time_msc"] <= until_msc)]
        return self.shocks.ticks(found)

    def _finish_forming(self, bars: np.ndarray, horizon_msc: int) -> np.ndarray:
        """Replace a last bar that is still forming by what its ticks so far make of it."""
        seconds = self.source.base_seconds
        if not len(bars) or (int(bars["time"][-1]) + seconds) * 1000 - 1 <= horizon_msc:
            return bars
        opened = int(bars["time"][-1])
        found = self._base_ticks(opened, horizon_msc)
        forming = tick_tools.to_bars(found, self.digits, seconds)
        return np.concatenate((bars[:-1], forming))

    # -- ticks --------------------------------------------------------------------------

    def ticks_between(self, msc_from: int, msc_to: int, horizon_msc: int) -> np.ndarray:
        """Ticks with msc_from <= time_msc <= msc_to (and not after the horizon)."""
        low = max(msc_from, self.first_time * 1000)
        high = min(msc_to, horizon_msc)
        if high < low:
            return np.zeros(0, dtype=TICKS_DTYPE)
        parts, total = [], 0
        for key in self.source.keys_between(low // 1000, high // 1000 + 1):
            found = self.source.ticks(key)
            found = found[(found["time_msc"] >= low) & (found["time_msc"] <= high)]
            parts.append(found)
            total += len(found)
            if total >= MAX_TICKS:
                break
        return self.shocks.ticks(_concat(parts, TICKS_DTYPE)[:MAX_TICKS])

    def ticks_after(self, msc_from: int, count: int, flags: int, horizon_msc: int):
        """The first ``count`` ticks (of kind ``flags``) at or after ``msc_from``."""
        low = max(msc_from, self.first_time * 1000)
        last_key = self.source.key_of(horizon_msc // 1000)
        key, parts, total = self.source.key_of(low // 1000), [], 0
        count = min(count, MAX_TICKS)
        while key is not None and key <= last_key and total < count:
            found = self.source.ticks(key)
            found = found[(found["time_msc"] >= low) & (found["time_msc"] <= horizon_msc)]
            found = tick_tools.select(found, flags)
            parts.append(found)
            total += len(found)
            key = self.source.next_key(key)
        return self.shocks.ticks(_concat(parts, TICKS_DTYPE)[:count])

    def last_tick(self, horizon_msc: int):
        """The latest tick up to the horizon (a TICKS_DTYPE record), or None."""
        first_key = self.source.key_of(self.first_time)
        key = self.source.key_of(horizon_msc // 1000)
        if self.source.prev_key(key + 1) is not None:
            key = min(key, self.source.prev_key(key + 1))
        while key is not None and key >= first_key:
            found = self.source.ticks(key)
            index = int(np.searchsorted(found["time_msc"], horizon_msc, "right")) - 1
            if index >= 0 and found["time_msc"][index] >= self.first_time * 1000:
                return self.shocks.ticks(found[index : index + 1].copy())[0]
            key = self.source.prev_key(key)
        return None
