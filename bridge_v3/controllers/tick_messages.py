"""Ticks as Redis messages (the ``data`` part of the envelope)."""

from __future__ import annotations

import numpy as np

from bridge_v3.services.publisher import Publisher

TICK_FIELDS = ("bid", "ask", "last", "volume", "flags", "volume_real")


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
