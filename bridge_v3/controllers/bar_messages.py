"""Bars as Redis messages (the ``data`` part of the envelope)."""

from __future__ import annotations

import numpy as np

from bridge_v3.services.bar_store import utc_iso
from bridge_v3.services.publisher import Publisher

BAR_FIELDS = ("open", "high", "low", "close", "tick_volume", "spread", "real_volume")


def bar_data(symbol: str, timeframe: str, times: list[str], rates: np.ndarray) -> list[dict]:
    columns = [rates[name].tolist() for name in BAR_FIELDS]
    return [
        {
            "symbol": symbol,
            "timeframe": timeframe,
            "time": time,
            **dict(zip(BAR_FIELDS, values, strict=False)),
        }
        for time, *values in zip(times, *columns, strict=False)
    ]


def bar_messages(
    publisher: Publisher, symbol: str, timeframe: str, rates: np.ndarray
) -> list[tuple[str, str, dict]]:
    """(channel, type, data) for each closed bar, oldest first, on ``mt5:bar:{SYMBOL}:{TF}``."""
    channel = publisher.redis.channel("bar", symbol, timeframe)
    times = utc_iso(rates["time"].astype(np.int64)).tolist()
    return [(channel, "bar", data) for data in bar_data(symbol, timeframe, times, rates)]


def correction_message(publisher: Publisher, batch, rate: np.void, previous: tuple | None):
    """(channel, type, data) for a bar the broker changed after it was published: the bar
    as it is now, ``correction: true``, and the ``previous`` values (None: never stored)."""
    ((channel, type_, data),) = bar_messages(
        publisher, batch.symbol, batch.timeframe.name, np.array([rate], dtype=rate.dtype)
    )
    if previous is not None:
        data["correction"] = True
        data["previous"] = dict(zip(BAR_FIELDS, previous, strict=True))
    return channel, type_, data


def forming_bar_messages(series: list[tuple[str, str]], rates: np.ndarray) -> list[dict]:
    """The bar still forming, ``rates[i]``, of each ``series[i]`` (symbol, timeframe): for
    the ``mt5:last:bar:…`` keys only (never on the channel)."""
    times = utc_iso(rates["time"].astype(np.int64)).tolist()
    columns = [rates[name].tolist() for name in BAR_FIELDS]
    return [
        {
            "symbol": symbol,
            "timeframe": timeframe,
            "time": time,
            **dict(zip(BAR_FIELDS, values, strict=True)),
            "forming": True,
        }
        for (symbol, timeframe), time, *values in zip(series, times, *columns, strict=True)
    ]
