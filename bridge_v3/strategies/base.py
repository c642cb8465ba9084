"""The base of every strategy: what it trades, its parameters, and one pure method.

A strategy is given the closed bars of one series (a pandas DataFrame, oldest first, the
newest closed bar last) and returns a :class:`Signal` for that newest bar, or None. It does
no I/O: the strategy controller reads the bars, stores and publishes the signal, and (in
live mode) turns it into at most one order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs
    import pandas as pd

from bridge_v3.config.constants import Timeframe

SIDES = ("buy", "sell")


@dataclass(frozen=True)
class Signal:
    """What a strategy wants on its newest bar: enter ``side`` (closing an opposite
    position of its own first). ``price`` is the price the signal was computed at (the
    bar's close), ``sl``/``tp`` absolute prices (0: none), ``strength`` 0..1."""

    side: str
    price: float
    sl: float = 0.0
    tp: float = 0.0
    strength: float = 1.0
    reason: str = ""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"signal side must be 'buy' or 'sell', got {self.side!r}")
        for name in ("price", "sl", "tp", "strength"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"signal {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"signal {name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))  # plain floats, whatever computed it
        if self.price <= 0:
            raise ValueError(f"signal price must be positive, got {self.price!r}")

    @property
    def buying(self) -> bool:
        return self.side == "buy"


class Strategy:
    """Subclass it: set ``name`` and ``defaults`` (every parameter with its default value),
    implement ``warmup`` and ``evaluate``. ``max_positions`` is how many positions of its
    own it may hold per symbol (1: a signal in the direction it already holds does nothing).
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, float]] = {}
    max_positions: ClassVar[int] = 1

    def __init__(
        self,
        *,
        symbols: tuple[str, ...],
        timeframe: Timeframe,
        magic: int,
        params: Mapping[str, float] | None = None,
        price_tolerance_pct: float | None = None,
    ) -> None:
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.magic = int(magic)
        self.price_tolerance_pct = price_tolerance_pct
        self.params = self._checked({**self.defaults, **(params or {})})

    def _checked(self, params: dict) -> dict:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)} (known: {known})")
        for key, value in params.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"parameter {key} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"parameter {key} must be a positive number, got {value!r}")
        return params

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, symbols={self.symbols}, "
            f"timeframe={self.timeframe.name}, magic={self.magic}, params={self.params})"
        )

    @property
    def warmup(self) -> int:
        """Closed bars ``evaluate`` needs before it can say anything."""
        raise NotImplementedError

    def evaluate(self, bars: pd.DataFrame) -> Signal | None:
        """The signal of the newest bar (the last row), or None. Pure: no I/O, no state.

        ``bars`` has a UTC DatetimeIndex (bar open times) and the columns ``open, high,
        low, close, tick_volume``, oldest first, at least ``warmup`` rows.
        """
        raise NotImplementedError
