"""Price models: a closed or forming bar and a tick, always in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLC bar. ``time`` is the bar's open time in UTC (tz-aware)."""

    symbol: str
    timeframe: str
    time: datetime
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int
    real_volume: int


@dataclass(frozen=True, slots=True)
class Tick:
    """One quote. ``time`` is UTC (tz-aware) with millisecond precision."""

    symbol: str
    time: datetime
    bid: float
    ask: float
    last: float
    volume: int
    flags: int
    volume_real: float
