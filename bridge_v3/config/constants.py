"""Enumerations shared by every layer: priorities, timeframes, trading modes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Priority(enum.IntEnum):
    """Task priority. Lower value runs first."""

    CRITICAL = 0  # risk
    HIGH = 1  # trades, account
    NORMAL = 2  # prices
    LOW = 3  # history, analytics


class TradingMode(str, enum.Enum):
    SAFETY = "safety"  # signals are logged and stored, never sent
    LIVE = "live"


class Backend(str, enum.Enum):
    AUTO = "auto"
    METATRADER5 = "metatrader5"
    REMOTE = "remote"
    SIMULATOR = "simulator"


@dataclass(frozen=True)
class Timeframe:
    """A bar period: our name (``M15``), the MT5 constant and its length in seconds.

    Monthly bars have no fixed length; ``seconds`` is then 0 and callers must use
    calendar arithmetic.
    """

    name: str
    mt5: int
    seconds: int

    def __str__(self) -> str:
        return self.name


# MT5 timeframe constants are flags, not minutes (contract: TIMEFRAME_*).
TIMEFRAMES: dict[str, Timeframe] = {
    tf.name: tf
    for tf in (
        Timeframe("M1", 1, 60),
        Timeframe("M2", 2, 120),
        Timeframe("M3", 3, 180),
        Timeframe("M4", 4, 240),
        Timeframe("M5", 5, 300),
        Timeframe("M6", 6, 360),
        Timeframe("M10", 10, 600),
        Timeframe("M12", 12, 720),
        Timeframe("M15", 15, 900),
        Timeframe("M20", 20, 1200),
        Timeframe("M30", 30, 1800),
        Timeframe("H1", 16385, 3600),
        Timeframe("H2", 16386, 7200),
        Timeframe("H3", 16387, 10800),
        Timeframe("H4", 16388, 14400),
        Timeframe("H6", 16390, 21600),
        Timeframe("H8", 16392, 28800),
        Timeframe("H12", 16396, 43200),
        Timeframe("D1", 16408, 86400),
        Timeframe("W1", 32769, 604800),
        Timeframe("MN1", 49153, 0),
    )
}

TIMEFRAMES_BY_MT5: dict[int, Timeframe] = {tf.mt5: tf for tf in TIMEFRAMES.values()}


# copy_ticks_* flags (contract: COPY_TICKS_*): every tick, quote changes only, trades only.
COPY_TICKS_ALL = -1
COPY_TICKS_INFO = 1
COPY_TICKS_TRADE = 2
