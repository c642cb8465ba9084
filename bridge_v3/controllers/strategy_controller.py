"""Strategies: each new closed bar of a series runs the strategies that trade it.

Driven by the price cycle, not by a poll of its own: after each cycle the daemon asks
``due()`` which (strategy, symbol) pairs have a newer stored bar than they last saw and
runs ``run(name, symbol)`` for each as a worker task at NORMAL priority. ``run`` reads the
bars from PostgreSQL (warm-up included), evaluates every bar it has not seen yet (after a
gap, at most ``MAX_CATCH_UP`` of them), stores each signal once in ``signals`` and stages
its ``signal`` envelope on ``mt5:signal`` in the same transaction, in both modes.

In live mode only the signal of the newest stored bar is acted on (an older bar's signal,
seen after a gap, is history): see :class:`bridge_v3.controllers.strategy_actions.Actions`.
A strategy that raises is logged once with its traceback, counted, and skipped for that
bar; other strategies run on in their own tasks.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from bridge_v3.config.constants import Timeframe
from bridge_v3.controllers.strategy_actions import Actions
from bridge_v3.exceptions import ConfigError
from bridge_v3.models.trade import iso
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.strategy_store import SignalRow, StrategyStore
from bridge_v3.strategies.base import Signal, Strategy

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs
    import pandas as pd

logger = logging.getLogger(__name__)

MAX_CATCH_UP = 500  # bars evaluated at most in one run after a gap


@dataclass(frozen=True)
class Reload:
    """What ``reload()`` did: ``ok``, the strategies now running, or why the old set stays."""

    ok: bool
    strategies: tuple[str, ...]
    error: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "strategies": list(self.strategies), "error": self.error}


class StrategyController:
    def __init__(
        self,
        store: StrategyStore,
        publisher: Publisher,
        actions: Actions | None,
        strategies: list[Strategy],
        *,
        watermark: Callable[[str, Timeframe], int | None],
        load: Callable[[], list[Strategy]],
        mode: str,
    ) -> None:
        """``actions`` None: safety mode, signals only. ``watermark(symbol, timeframe)`` is
        the newest stored closed bar (UTC seconds); ``load`` reads the strategy settings
        again (for ``reload``)."""
        self._store = store
        self._publisher = publisher
        self._actions = actions
        self._watermark = watermark
        self._load = load
        self._mode = mode
        self._lock = threading.Lock()
        self._strategies: dict[str, Strategy] = {}
        self._cursors: dict[tuple[str, str], int | None] = {}
        self._paused: set[str] = set()
        self._failing: set[tuple[str, str]] = set()
        self._magics: set[int] = set()
        self.totals: Counter[str] = Counter()
        self._install(strategies)

    # -- the set of strategies ---------------------------------------------------------

    def _install(self, strategies: list[Strategy]) -> None:
        """Make ``strategies`` the running set; a pair seen for the first time starts at
        the newest stored bar (nothing before now is evaluated)."""
        with self._lock:
            self._strategies = {s.name: s for s in strategies}
            cursors = {}
            for s in strategies:
                for symbol in s.symbols:
                    key = (s.name, symbol)
                    cursors[key] = self._cursors.get(key, self._watermark(symbol, s.timeframe))
            self._cursors = cursors
            self._magics |= {s.magic for s in strategies}

    @property
    def names(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._strategies)

    def is_own(self, magic: int) -> bool:
        """A magic number of one of this run's strategies (past ones included)."""
        return int(magic) in self._magics

    def pause(self, name: str) -> bool:
        """Stop running ``name`` (its positions stay as they are); False if unknown."""
        with self._lock:
            if name not in self._strategies:
                return False
            self._paused.add(name)
        logger.warning("Strategy %s paused: no signals, no orders until resumed", name)
        return True

    def resume(self, name: str) -> bool:
        """Run ``name`` again from the newest stored bar (bars during the pause are skipped)."""
        with self._lock:
            strategy = self._strategies.get(name)
            if strategy is None:
                return False
            self._paused.discard(name)
            for symbol in strategy.symbols:
                self._cursors[(name, symbol)] = self._watermark(symbol, strategy.timeframe)
        logger.warning("Strategy %s resumed from the newest stored bar", name)
        return True

    def reload(self) -> Reload:
        """Read STRATEGIES / STRATEGIES_FILE again. A bad entry keeps the running set and
        says why."""
        try:
            strategies = self._load()
        except ConfigError as error:
            logger.error("Strategies not reloaded, the running set stays: %s", error)
            return Reload(False, self.names, str(error))
        self._install(strategies)
        logger.warning("Strategies reloaded: %s", ", ".join(self.names) or "none")
        return Reload(True, self.names)

    def status(self) -> dict:
        """For the heartbeat."""
        with self._lock:
            running = [
                {
                    "name": s.name,
                    "symbols": list(s.symbols),
                    "timeframe": s.timeframe.name,
                    "magic": s.magic,
                    "paused": s.name in self._paused,
                }
                for s in self._strategies.values()
            ]
        return {"mode": self._mode, "strategies": running, **dict(self.totals)}

    # -- running -----------------------------------------------------------------------

    def due(self) -> list[tuple[str, str]]:
        """(strategy, symbol) pairs with a stored bar newer than the last one they saw."""
        with self._lock:
            pairs = [
                (name, symbol, strategy.timeframe)
                for name, strategy in self._strategies.items()
                if name not in self._paused
                for symbol in strategy.symbols
            ]
            cursors = dict(self._cursors)
        due = []
        for name, symbol, timeframe in pairs:
            newest = self._watermark(symbol, timeframe)
            seen = cursors.get((name, symbol))
            if newest is not None and (seen is None or newest > seen):
                due.append((name, symbol))
        return due

    def run(self, name: str, symbol: str) -> int:
        """Evaluate the new bars of one pair; returns the signals stored now."""
        with self._lock:
            strategy = self._strategies.get(name)
            seen = self._cursors.get((name, symbol))
        if strategy is None or name in self._paused:
            return 0
        newest = self._watermark(symbol, strategy.timeframe)
        if newest is None or (seen is not None and newest <= seen):
            return 0
        bars = self._store.bars(
            symbol, strategy.timeframe.name, newest, strategy.warmup + MAX_CATCH_UP
        )
        found = self._evaluate(strategy, symbol, bars, seen)
        stored = self._store_signals(strategy, symbol, found)
        with self._lock:
            self._cursors[(name, symbol)] = newest
        self._act(strategy, symbol, stored, newest)
        return len(stored)

    def _evaluate(
        self, strategy: Strategy, symbol: str, bars: pd.DataFrame, seen: int | None
    ) -> list[tuple[int, Signal]]:
        times = [int(t.timestamp()) for t in bars.index]
        first = (
            len(times) - 1
            if seen is None
            else next((i for i, t in enumerate(times) if t > seen), len(times))
        )
        found = []
        for i in range(max(first, strategy.warmup - 1), len(times)):
            self.totals["evaluations"] += 1
            signal = self._one(strategy, symbol, bars.iloc[: i + 1], times[i])
            if signal is not None:
                found.append((times[i], signal))
        return found

    def _one(self, strategy: Strategy, symbol: str, frame: pd.DataFrame, time: int):
        try:
            return strategy.evaluate(frame)
        except Exception as error:  # a plug-in's bug must not stop the bridge or the others
            self.totals["errors"] += 1
            kind = (strategy.name, type(error).__name__)
            if kind not in self._failing:
                self._failing.add(kind)
                logger.exception(
                    "Strategy %s failed on %s at bar %s; skipped for that bar (further "
                    "%s errors of it are counted only)",
                    strategy.name,
                    symbol,
                    iso(datetime.fromtimestamp(time, tz=timezone.utc)),
                    type(error).__name__,
                )
            return None

    def _store_signals(
        self, strategy: Strategy, symbol: str, found: list[tuple[int, Signal]]
    ) -> list[SignalRow]:
        if not found:
            return []
        rows = [self._row(strategy, symbol, time, signal) for time, signal in found]
        channel = self._publisher.redis.channel("signal")
        with self._store.transaction() as conn:
            new = self._store.insert_signals(conn, rows)
            self._publisher.stage(conn, [(channel, "signal", _message(r)) for r in new])
        self._publisher.deliver()
        self.totals["signals"] += len(new)
        for row in new:
            logger.info(
                "Signal %s %s %s %s at %s (%s)",
                row.strategy,
                row.side,
                row.symbol,
                row.timeframe,
                iso(row.time),
                row.reason,
            )
        return new

    def _row(self, strategy: Strategy, symbol: str, time: int, signal: Signal) -> SignalRow:
        return SignalRow(
            strategy=strategy.name,
            symbol=symbol,
            timeframe=strategy.timeframe.name,
            time=datetime.fromtimestamp(time, tz=timezone.utc),
            side=signal.side,
            price=signal.price,
            sl=signal.sl,
            tp=signal.tp,
            strength=signal.strength,
            reason=signal.reason,
            mode=self._mode,
            payload={"magic": strategy.magic, "params": strategy.params},
        )

    def _act(self, strategy: Strategy, symbol: str, stored: list[SignalRow], newest: int) -> None:
        """Live mode: the newest bar's signal becomes orders (older ones are history)."""
        if self._actions is None:
            return
        for row in stored:
            if int(row.time.timestamp()) == newest:
                self._actions.follow(strategy, row)


def _message(row: SignalRow) -> dict:
    return {
        "strategy": row.strategy,
        "symbol": row.symbol,
        "timeframe": row.timeframe,
        "time": iso(row.time),
        "side": row.side,
        "price": row.price,
        "sl": row.sl,
        "tp": row.tp,
        "strength": row.strength,
        "reason": row.reason,
        "mode": row.mode,
        "magic": row.payload["magic"],
    }
