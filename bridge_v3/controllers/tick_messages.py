"""Ticks as Redis messages (the ``data`` part of the envelope).

Live, each tick is one ``tick`` message. A catch-up (hours of ticks after downtime) is sent
as ``ticks`` messages of up to ``BATCH_SIZE`` ticks each, column by column: per message the
envelope, outbox row, PUBLISH and XADD cost as much as the data, so one message per tick
would make Redis publishing, not storage, the limit of a catch-up.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.services.publisher import Publisher
from bridge_v3.services.redis_service import TICKS_PER_BATCH

TICK_FIELDS = ("bid", "ask", "last", "volume", "flags", "volume_real")
BATCH_SIZE = TICKS_PER_BATCH  # the ``ticks`` stream's cap is sized by it


def utc_iso_ms(time_msc: np.ndarray) -> np.ndarray:
    """UTC epoch milliseconds -> ISO-8601 strings with milliseconds, ending in Z."""
    return np.datetime_as_string(
        np.asarray(time_msc, dtype=np.int64).astype("datetime64[ms]"), unit="ms", timezone="UTC"
    )


def tick_data(symbol: str, ticks: np.ndarray) -> list[dict]:
    """One dict per tick, oldest first: symbol, time (UTC, ms, Z) and the quote fields."""
    times = utc_iso_ms(ticks["time_msc"]).tolist()
    columns = [ticks[name].tolist() for name in TICK_FIELDS]
    return [
        {"symbol": symbol, "time": time, **dict(zip(TICK_FIELDS, values, strict=True))}
        for time, *values in zip(times, *columns, strict=True)
    ]


def tick_messages(
    publisher: Publisher, symbol: str, ticks: np.ndarray
) -> list[tuple[str, str, dict]]:
    """(channel, type, data) for each tick, oldest first, on ``mt5:tick:{SYMBOL}``."""
    channel = publisher.redis.channel("tick", symbol)
    return [(channel, "tick", data) for data in tick_data(symbol, ticks)]


def tick_batch_data(symbol: str, ticks: np.ndarray) -> dict:
    """Ticks in one dict of columns, oldest first: ``time`` and each quote field a list."""
    data = {"symbol": symbol, "time": utc_iso_ms(ticks["time_msc"]).tolist()}
    data.update((name, ticks[name].tolist()) for name in TICK_FIELDS)
    return data


def tick_batch_messages(
    publisher: Publisher, symbol: str, ticks: np.ndarray, size: int = BATCH_SIZE
) -> list[tuple[str, str, dict]]:
    """(channel, ``ticks``, columns) per ``size`` ticks, oldest first, on ``mt5:tick:{SYMBOL}``."""
    channel = publisher.redis.channel("tick", symbol)
    return [
        (channel, "ticks", tick_batch_data(symbol, ticks[start : start + size]))
        for start in range(0, len(ticks), size)
    ]
