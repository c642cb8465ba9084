"""Where a symbol's prices come from, in day-sized chunks: generated, or replayed from a file.

A source hands out *base bars* (RATES_DTYPE, server time, time-ordered) and the ticks
inside them, one chunk at a time. Chunks are pure functions of (seed, symbol, chunk), so
they can be dropped from the cache and drawn again identically. Arrays handed out are
read-only and shared; callers copy what they return.

* :class:`GeneratedSource`: base bars are M1, chunks are UTC days. Bars exist while the
  session is open; during the repeated hour of an autumn clock change the server clock
  re-lives an hour whose bars already exist, so no new bars or ticks appear then (MT5
  history cannot hold two bars with one time); prices resume after it with a gap.
* :class:`ReplaySource`: base bars are the file's bars, chunks are server days; ticks
  are drawn inside each file bar and M1 bars are made from those ticks.
"""

from __future__ import annotations

import logging

import numpy as np

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.simulator.clock import BrokerTime
from bridge_v3.simulator.market import sessions, ticks
from bridge_v3.simulator.market.cache import ChunkCache
from bridge_v3.simulator.market.prices import PriceModel, symbol_key
from bridge_v3.simulator.market.replay import ReplayBars
from bridge_v3.simulator.market.symbols import SymbolSpec

logger = logging.getLogger(__name__)

_DAY = 86_400
_TICK_STREAM, _REPLAY_TICK_STREAM = 2, 3
_MAX_TICKS_PER_SECOND = 10
_REPLAY_TICKS_PER_MINUTE = 20  # when a file has no volume column


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _rates(server, o, h, l, c, n, spread, digits: int) -> np.ndarray:  # noqa: E741
    out = np.zeros(len(server), dtype=RATES_DTYPE)
    out["time"] = server
    for field, points in (("open", o), ("high", h), ("low", l), ("close", c)):
        out[field] = ticks.to_price(points, digits)
    out["tick_volume"] = n
    out["spread"] = spread
    return _read_only(out)


class GeneratedSource:
    """Deterministic M1 bars and ticks of one symbol, in UTC-day chunks."""

    base_seconds = 60

    def __init__(
        self,
        spec: SymbolSpec,
        seed: int,
        broker_time: BrokerTime,
        bar_cache: ChunkCache,
        tick_cache: ChunkCache,
    ) -> None:
        self.spec = spec
        self._seed = int(seed)
        self._model = PriceModel(spec, seed)
        self._time = broker_time
        self._bar_cache, self._tick_cache = bar_cache, tick_cache
        self._id = (spec.name, seed, broker_time.zone)

    def key_of(self, server: int) -> int:
        return int(self._time.to_utc(server) // _DAY)

    def keys_between(self, server_from: int, server_to: int) -> list[int]:
        """Chunks holding bars with server time in [server_from, server_to)."""
        return list(range(self.key_of(server_from), self.key_of(server_to - 1) + 1))

    def prev_key(self, key: int) -> int | None:
        return key - 1 if key > 0 else None

    def next_key(self, key: int) -> int | None:
        return key + 1

    def is_open(self, utc: float) -> bool:
        return sessions.is_open(self.spec, utc) and not self._time.repeated(utc)

    def bars(self, key: int) -> np.ndarray:
        return self._bar_cache.get((self._id, key), lambda: self._build_bars(key))

    def ticks(self, key: int) -> np.ndarray:
        return self._tick_cache.get((self._id, key), lambda: self._build_ticks(key))

    def _open_day(self, key: int) -> dict[str, np.ndarray]:
        day = self._model.day(key)
        shown = sessions.open_mask(self.spec, day["utc"])
        day = {name: values[shown] for name, values in day.items()}
        day["server"] = self._time.to_server_array(day["utc"])
        day["repeated"] = self._time.repeated_array(day["utc"])
        return day

    def _build_bars(self, key: int) -> np.ndarray:
        if key < 0:
            return _read_only(np.zeros(0, dtype=RATES_DTYPE))
        day = self._open_day(key)
        kept = {name: values[~day["repeated"]] for name, values in day.items()}
        fields = ("server", "open", "high", "low", "close", "n", "spread")
        return _rates(*(kept[name] for name in fields), self.spec.digits)

    def _build_ticks(self, key: int) -> np.ndarray:
        if key < 0:
            return _read_only(np.zeros(0, dtype=TICKS_DTYPE))
        day = self._open_day(key)
        day["start_ms"] = day["server"] * 1000
        rng = np.random.default_rng(
            [self._seed & 0xFFFFFFFF, symbol_key(self.spec), _TICK_STREAM, key]
        )
        drawn = ticks.synthesise(day, 60_000, self.spec.digits, rng)
        return _read_only(drawn[~np.repeat(day["repeated"], day["n"])])


class ReplaySource:
    """The bars of a price file, with ticks drawn inside them, in server-day chunks."""

    def __init__(
        self, spec: SymbolSpec, seed: int, replay: ReplayBars, tick_cache: ChunkCache
    ) -> None:
        self.spec = spec
        self.path = replay.path
        self.base_seconds = replay.seconds
        self._seed = int(seed)
        self._tick_cache = tick_cache
        self._id = (spec.name, seed, replay.path)
        self._points = {k: getattr(replay, k) for k in ("open", "high", "low", "close")}
        self._times = replay.time
        self._n = self._tick_counts(replay)
        self._spread = np.where(replay.spread < 0, spec.spread, replay.spread)
        self._rates = _rates(
            replay.time, *self._points.values(), self._n, self._spread, spec.digits
        )
        self._days, self._day_starts = np.unique(replay.time // _DAY, return_index=True)
        self.first_time = int(replay.time[0])

    def _tick_counts(self, replay: ReplayBars) -> np.ndarray:
        """The file's tick volume, raised to what can draw the bar and capped at 10/s."""
        given = replay.tick_volume
        default = _REPLAY_TICKS_PER_MINUTE * replay.seconds // 60
        wanted = np.where(given < 0, default, given)
        least = ticks.min_ticks(*self._points.values())
        counts = np.clip(wanted, least, _MAX_TICKS_PER_SECOND * replay.seconds)
        changed = int(np.count_nonzero((given >= 0) & (counts != given)))
        if changed:
            logger.warning(
                "replay %s: tick volume of %d bar(s) adjusted to what the bar can hold "
                "(at least its 1-4 turning points, at most %d a second)",
                replay.path,
                changed,
                _MAX_TICKS_PER_SECOND,
            )
        return counts

    def key_of(self, server: int) -> int:
        return int(server) // _DAY

    def keys_between(self, server_from: int, server_to: int) -> list[int]:
        low = np.searchsorted(self._days, server_from // _DAY, "left")
        high = np.searchsorted(self._days, (server_to - 1) // _DAY, "right")
        return [int(day) for day in self._days[low:high]]

    def prev_key(self, key: int) -> int | None:
        index = int(np.searchsorted(self._days, key, "left")) - 1
        return int(self._days[index]) if index >= 0 else None

    def next_key(self, key: int) -> int | None:
        index = int(np.searchsorted(self._days, key, "right"))
        return int(self._days[index]) if index < len(self._days) else None

    def covers(self, server: int) -> bool:
        """True when a bar of the file spans the server time ``server``."""
        index = int(np.searchsorted(self._times, server, "right")) - 1
        return index >= 0 and server < self._times[index] + self.base_seconds

    def _slice(self, key: int) -> slice:
        index = int(np.searchsorted(self._days, key))
        if index >= len(self._days) or self._days[index] != key:
            return slice(0, 0)
        end = self._day_starts[index + 1] if index + 1 < len(self._days) else len(self._times)
        return slice(int(self._day_starts[index]), int(end))

    def bars(self, key: int) -> np.ndarray:
        return self._rates[self._slice(key)]

    def ticks(self, key: int) -> np.ndarray:
        return self._tick_cache.get((self._id, key), lambda: self._build_ticks(key))

    def _build_ticks(self, key: int) -> np.ndarray:
        part = self._slice(key)
        bars = {name: points[part] for name, points in self._points.items()}
        bars.update(n=self._n[part], spread=self._spread[part])
        bars["start_ms"] = self._times[part] * 1000
        rng = np.random.default_rng(
            [self._seed & 0xFFFFFFFF, symbol_key(self.spec), _REPLAY_TICK_STREAM, key]
        )
        drawn = ticks.synthesise(bars, self.base_seconds * 1000, self.spec.digits, rng)
        return _read_only(drawn)
