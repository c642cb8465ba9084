"""Generated prices: M1 bars of one UTC day, a pure function of (seed, symbol, day).

The log price wanders around the symbol's ``start_price`` (an Ornstein-Uhlenbeck process
with a half-life of about 500 days, sampled once a day at 00:00 UTC from 1970 on: the *anchors*).
Inside a day the path is a Brownian bridge between two anchors, one close per minute,
so any day can be drawn without drawing the days before it. Every minute of the day has
a latent bar; sessions decide later which of them the market shows. Prices are integer
points; tick counts follow the hour of day (busier in London and New York hours).
"""

from __future__ import annotations

import math
import threading
import zlib

import numpy as np

from bridge_v3.simulator.market.symbols import SymbolSpec
from bridge_v3.simulator.market.ticks import min_ticks

MINUTES = 1_440
_BLOCK = 1_024  # anchor days drawn per random stream
# Mean reversion over ~500 days keeps the long-run spread of log prices near one
# year of volatility, so generated prices stay near their level for decades.
_REVERSION_DAYS = 730.0
_YEAR_MINUTES = 525_600
# Relative tick activity per UTC hour: Asia quiet, London and New York busy, rollover dead.
_ACTIVITY = np.array(
    [0.5, 0.45, 0.45, 0.5, 0.55, 0.6, 0.7, 1.0, 1.3, 1.35, 1.3, 1.2]
    + [1.3, 1.5, 1.6, 1.5, 1.3, 1.0, 0.8, 0.7, 0.6, 0.35, 0.3, 0.45]
)
_TICKS_PER_MINUTE = {"forex": 28.0, "metal": 40.0, "crypto": 22.0}
_STREAM_ANCHORS, _STREAM_MINUTES = 0, 1


def symbol_key(spec: SymbolSpec) -> int:
    """A stable number for the instrument (not its broker name, so suffixes don't matter)."""
    return zlib.crc32(f"{spec.category}:{spec.pair}".encode())


class PriceModel:
    """Deterministic M1 bars of one symbol for one seed. Thread-safe."""

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.spec = spec
        self._seed = (int(seed) & 0xFFFFFFFF, symbol_key(spec))
        self._level = math.log(spec.start_price)
        self._daily_sigma = spec.annual_volatility / math.sqrt(365.0)
        self._minute_sigma = spec.annual_volatility / math.sqrt(_YEAR_MINUTES)
        self._anchors = np.zeros(0)
        self._lock = threading.Lock()

    def _rng(self, stream: int, index: int) -> np.random.Generator:
        return np.random.default_rng([*self._seed, stream, index])

    def anchors(self, first_day: int, last_day: int) -> np.ndarray:
        """Log-price deviations at 00:00 UTC of days ``first_day..last_day`` (epoch days)."""
        with self._lock:
            while len(self._anchors) <= last_day:
                self._anchors = np.concatenate((self._anchors, self._next_block()))
            return self._anchors[first_day : last_day + 1].copy()

    def _next_block(self) -> np.ndarray:
        """The next ``_BLOCK`` anchors, continuing the recursion x' = a*x + e exactly."""
        block = len(self._anchors) // _BLOCK
        start = self._anchors[-1] if len(self._anchors) else 0.0
        decay = math.exp(-1.0 / _REVERSION_DAYS)
        shocks = self._rng(_STREAM_ANCHORS, block).standard_normal(_BLOCK) * self._daily_sigma
        steps = np.arange(_BLOCK, dtype=np.float64)
        if block == 0:  # day 0 is the level itself
            shocks[0], start = 0.0, 0.0
            steps = steps - 1.0
        powers = decay ** (steps + 1.0)
        return powers * (start + np.cumsum(shocks / powers))

    def day(self, day: int) -> dict[str, np.ndarray]:
        """The 1440 latent M1 bars of UTC day ``day``: ``utc`` (minute starts, seconds),
        ``open, high, low, close`` (points), ``n`` (ticks) and ``spread`` (points)."""
        spec, rng = self.spec, self._rng(_STREAM_MINUTES, day)
        ends = self.anchors(day, day + 1)
        frac = np.arange(1, MINUTES + 1) / MINUTES
        walk = np.cumsum(rng.standard_normal(MINUTES)) * self._minute_sigma
        path = ends[0] + walk - frac * walk[-1] + frac * (ends[1] - ends[0])
        scale = 10.0**spec.digits
        close = np.rint(np.exp(self._level + path) * scale).astype(np.int64)
        first = np.rint(math.exp(self._level + ends[0]) * scale)
        previous = np.concatenate(([first], close[:-1])).astype(np.int64)
        sigma = close * self._minute_sigma  # one minute's typical move, in points
        jump = np.rint(rng.standard_normal(MINUTES) * 0.25 * sigma).astype(np.int64)
        # A bar opens on a new quote: its first tick never repeats the previous close.
        jump = np.where(jump == 0, rng.integers(0, 2, MINUTES) * 2 - 1, jump)
        open_ = previous + jump
        high = np.maximum(open_, close) + np.floor(rng.exponential(0.6 * sigma)).astype(np.int64)
        low = np.minimum(open_, close) - np.floor(rng.exponential(0.6 * sigma)).astype(np.int64)
        bars = {"open": open_, "high": high, "low": low, "close": close}
        bars = {k: np.maximum(v, 1) for k, v in bars.items()}  # prices stay positive
        hours = np.arange(MINUTES) // 60
        bars["n"] = self._tick_counts(rng, hours, bars)
        bars["spread"] = self._spreads(rng, hours)
        bars["utc"] = day * 86_400 + np.arange(MINUTES, dtype=np.int64) * 60
        return bars

    def _tick_counts(self, rng, hours: np.ndarray, bars: dict) -> np.ndarray:
        rate = _TICKS_PER_MINUTE[self.spec.category] * _ACTIVITY[hours]
        drawn = rng.poisson(rate).astype(np.int64)
        return np.maximum(drawn, min_ticks(bars["open"], bars["high"], bars["low"], bars["close"]))

    def _spreads(self, rng, hours: np.ndarray) -> np.ndarray:
        """Typical spread plus a little noise, doubled around the 21:00 UTC rollover."""
        spread = self.spec.spread
        noise = rng.integers(0, max(1, spread // 4) + 1, MINUTES)
        return ((spread + noise) * np.where(hours == 21, 2, 1)).astype(np.int64)
