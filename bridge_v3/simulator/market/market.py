"""The simulated market: symbols, prices at the clock's now, history, currency conversion.

All times in and out are server time (see :mod:`bridge_v3.simulator.clock`): seconds for
bars, milliseconds (``*_msc``) for ticks. Rates come back as RATES_DTYPE arrays and ticks
as TICKS_DTYPE arrays, oldest first, each a fresh array owning its data. Requests the
real terminal refuses raise :class:`MarketError` with its code and message.

Generated history starts ``history_days`` before the server day the market was built
on; a replayed symbol's history is its file. Nothing after the clock's now is shown.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.contract.dtypes import TICKS_DTYPE
from bridge_v3.simulator.clock import BrokerTime, SimClock
from bridge_v3.simulator.market import timeframes as tfs
from bridge_v3.simulator.market.cache import ChunkCache
from bridge_v3.simulator.market.errors import MarketError
from bridge_v3.simulator.market.replay import read_bars
from bridge_v3.simulator.market.series import SymbolSeries
from bridge_v3.simulator.market.shocks import factor_of
from bridge_v3.simulator.market.sources import GeneratedSource, ReplaySource
from bridge_v3.simulator.market.symbols import SymbolSpec, default_catalogue
from bridge_v3.simulator.market.ticks import select

logger = logging.getLogger(__name__)

_DAY = 86_400
_TICK_KINDS = (mc.COPY_TICKS_ALL, mc.COPY_TICKS_INFO, mc.COPY_TICKS_TRADE)
_PIVOT = "USD"  # conversions between two non-USD currencies go through it


class Market:
    """Prices of every symbol in the catalogue, deterministic for ``seed``."""

    def __init__(
        self,
        clock: SimClock,
        broker_time: BrokerTime,
        seed: int = 0,
        symbols: list[SymbolSpec] | None = None,
        replays: dict[str, str | Path] | None = None,
        history_days: int = 400,
        cache_chunks: int = 1024,
        cache_tick_chunks: int = 64,
    ) -> None:
        if history_days < 1:
            raise ValueError(f"history_days must be at least 1, got {history_days}")
        self.clock = clock
        self.broker_time = broker_time
        self.seed = int(seed)
        self.history_days = int(history_days)
        self._specs = {spec.name: spec for spec in (symbols or default_catalogue())}
        # A day of bars is ~90 kB, a day of ticks ~2 MB: they get separate bounds.
        self._caches = (ChunkCache(cache_chunks), ChunkCache(cache_tick_chunks))
        today = broker_time.to_server(clock.now()) // _DAY * _DAY
        self._history_start = max(0, today - self.history_days * _DAY)
        self._series = {name: self._generated(spec) for name, spec in self._specs.items()}
        for symbol, path in (replays or {}).items():
            self._add_replay(symbol, path)

    def cached_bytes(self) -> int:
        """Bytes of generated bars and ticks held in the caches."""
        return sum(cache.nbytes() for cache in self._caches)

    def _generated(self, spec: SymbolSpec) -> SymbolSeries:
        source = GeneratedSource(spec, self.seed, self.broker_time, *self._caches)
        return SymbolSeries(source, spec.digits, self._history_start)

    def _add_replay(self, symbol: str, path: str | Path) -> None:
        spec = self._replay_spec(symbol)
        replay = read_bars(path, spec.digits)
        source = ReplaySource(spec, self.seed, replay, self._caches[1])
        self._series[spec.name] = SymbolSeries(source, spec.digits, source.first_time)
        logger.info(
            "market: %s replays %s (%d bars of %d s, server time %d..%d)",
            spec.name,
            path,
            len(replay.time),
            replay.seconds,
            replay.time[0],
            replay.time[-1],
        )

    def _replay_spec(self, symbol: str) -> SymbolSpec:
        """The symbol a replay is for: its full name, or its pair when that is unique."""
        if symbol in self._specs:
            return self._specs[symbol]
        matches = [spec for spec in self._specs.values() if spec.pair == symbol]
        if len(matches) != 1:
            raise ValueError(f"replay given for {symbol!r}, which is not a symbol of the market")
        return matches[0]

    # -- catalogue ----------------------------------------------------------------------

    def symbols(self) -> list[SymbolSpec]:
        return list(self._specs.values())

    def spec(self, name: str) -> SymbolSpec | None:
        return self._specs.get(name)

    def is_replayed(self, name: str) -> bool:
        return isinstance(self._get(name).source, ReplaySource)

    def history_start(self, name: str) -> int:
        """Server time of the oldest bar kept for ``name``."""
        return self._get(name).first_time

    def is_open(self, name: str, utc: float | None = None) -> bool:
        """True when ``name`` quotes at ``utc`` (default: the clock's now)."""
        source = self._get(name).source
        utc = self.clock.now() if utc is None else utc
        if isinstance(source, ReplaySource):
            return source.covers(self.broker_time.to_server(utc)) and not self.broker_time.repeated(
                utc
            )
        return source.is_open(utc)

    def _get(self, name: str) -> SymbolSeries:
        series = self._series.get(name) if isinstance(name, str) else None
        if series is None:
            raise MarketError.call_failed(f"unknown symbol {name!r}")
        return series

    def _horizon(self) -> int:
        return self.broker_time.server_msc(self.clock.now())

    # -- prices -------------------------------------------------------------------------

    def tick(self, name: str) -> np.void | None:
        """The latest tick at the clock's now (TICKS_DTYPE record), None if none yet."""
        return self._get(name).last_tick(self._horizon())

    def rates_range(self, name: str, timeframe: int, server_from: int, server_to: int):
        """Bars with server_from <= open time <= server_to."""
        series, timeframe = self._get(name), tfs.check(timeframe)
        bars = series.rates_between(timeframe, int(server_from), int(server_to), self._horizon())
        return bars.copy()

    def rates_from(self, name: str, timeframe: int, server_date_from: int, count: int):
        """The ``count`` bars opening at or before ``server_date_from``."""
        series, timeframe = self._get(name), tfs.check(timeframe)
        _check_count(count)
        bars = series.rates_last(timeframe, int(server_date_from), count, self._horizon())
        if not len(bars):
            raise MarketError.call_failed(f"no {name} bars at or before {server_date_from}")
        return bars.copy()

    def rates_from_pos(self, name: str, timeframe: int, start_pos: int, count: int):
        """``count`` bars ending ``start_pos`` bars before the forming one (position 0)."""
        series, timeframe = self._get(name), tfs.check(timeframe)
        _check_count(count)
        if start_pos < 0:
            raise MarketError.invalid_params(f"negative start position {start_pos}")
        horizon = self._horizon()
        bars = series.rates_last(timeframe, horizon // 1000, start_pos + count, horizon)
        if len(bars) <= start_pos:
            raise MarketError.call_failed(f"{name} has no bar at position {start_pos}")
        return bars[max(0, len(bars) - start_pos - count) : len(bars) - start_pos].copy()

    def ticks_from(self, name: str, server_from_msc: int, count: int, flags: int):
        """The first ``count`` ticks at or after ``server_from_msc``."""
        series = self._get(name)
        _check_count(count)
        _check_tick_kind(flags)
        found = series.ticks_after(int(server_from_msc), count, flags, self._horizon())
        return found.copy()

    def ticks_range(self, name: str, server_from_msc: int, server_to_msc: int, flags: int):
        """Ticks with server_from_msc <= time_msc <= server_to_msc."""
        series = self._get(name)
        _check_tick_kind(flags)
        found = series.ticks_between(int(server_from_msc), int(server_to_msc), self._horizon())
        return np.array(select(found, flags), dtype=TICKS_DTYPE, copy=True)

    # -- moving the market -----------------------------------------------------------------

    def shock(self, name: str, percent: float) -> int:
        """Shift ``name``'s prices by ``percent`` from now on (a gap); returns the server
        millisecond from which the shift applies. MarketError for an unknown symbol,
        ValueError for a percent that is not a finite number from -99 to 1000."""
        factor = factor_of(percent)
        series = self._get(name)
        start = self._horizon() + 1  # what was shown up to now stays as it was
        series.shocks.add(start, factor)
        logger.warning(
            "market: %s prices shifted by %+g %% from server ms %d", name, percent, start
        )
        return start

    def shocks_state(self) -> dict[str, list]:
        """The shocks of every symbol, for the state file."""
        return {name: s.shocks.to_state() for name, s in self._series.items() if s.shocks}

    def restore_shocks(self, state: dict[str, list]) -> None:
        for name, steps in state.items():
            if name in self._series:
                self._series[name].shocks.restore(steps)

    # -- money --------------------------------------------------------------------------

    def mid(self, name: str) -> float:
        """(bid + ask) / 2 of the latest tick; MarketError when there is none."""
        tick = self.tick(name)
        if tick is None:
            raise MarketError.call_failed(f"{name} has no price yet")
        return (float(tick["bid"]) + float(tick["ask"])) / 2.0

    def convert(self, amount: float, from_ccy: str, to_ccy: str) -> float:
        """``amount`` of ``from_ccy`` in ``to_ccy`` at the current mid of the pair quoting
        them (directly, inverted, or through USD). MarketError if no symbol links them."""
        if from_ccy == to_ccy or amount == 0:
            return float(amount)
        rate = self._rate(from_ccy, to_ccy)
        if rate is None and _PIVOT not in (from_ccy, to_ccy):
            there, back = self._rate(from_ccy, _PIVOT), self._rate(_PIVOT, to_ccy)
            rate = there * back if there is not None and back is not None else None
        if rate is None:
            raise MarketError.call_failed(f"no symbol converts {from_ccy} to {to_ccy}")
        return float(amount) * rate

    def _rate(self, from_ccy: str, to_ccy: str) -> float | None:
        """Units of ``to_ccy`` per unit of ``from_ccy`` from one symbol, if one quotes it."""
        for spec in self._specs.values():
            if spec.currency_base == from_ccy and spec.currency_profit == to_ccy:
                return self.mid(spec.name)
        for spec in self._specs.values():
            if spec.currency_base == to_ccy and spec.currency_profit == from_ccy:
                return 1.0 / self.mid(spec.name)
        return None


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count <= 0:
        raise MarketError.invalid_params(f"count must be a positive whole number, got {count!r}")


def _check_tick_kind(flags: int) -> None:
    if isinstance(flags, bool) or flags not in _TICK_KINDS:
        raise MarketError.invalid_params(f"unknown COPY_TICKS_* value {flags!r}")
