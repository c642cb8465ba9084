"""Trading sessions: when a symbol quotes.

Forex and metals follow the interbank week, whose clock is New York's: closed from Friday
17:00 to Sunday 17:00 New York time, so the close moves by an hour in UTC with US daylight
saving (21:00 UTC in summer, 22:00 UTC in winter), as at real brokers. That is what lets a
bridge recognise a broker's clock from its history. Crypto quotes around the clock. Bank
holidays are not modelled.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.simulator.clock import BrokerTime
from bridge_v3.simulator.market.symbols import SymbolSpec

_WEEK = 7 * 86_400
# 1970-01-01 was a Thursday: shift so that second 0 of the week is Monday 00:00.
_MONDAY_SHIFT = 3 * 86_400
_CLOSE = 4 * 86_400 + 17 * 3_600  # Friday 17:00 New York, seconds into the week
_OPEN = 6 * 86_400 + 17 * 3_600  # Sunday 17:00 New York
_NEW_YORK = BrokerTime("America/New_York")


def open_mask(spec: SymbolSpec, utc: np.ndarray) -> np.ndarray:
    """True where ``spec`` quotes at each UTC instant (seconds)."""
    utc = np.asarray(utc)
    if spec.always_open:
        return np.ones(utc.shape, dtype=bool)
    new_york = _NEW_YORK.to_server_array(utc)
    into_week = (new_york + _MONDAY_SHIFT) % _WEEK
    return (into_week < _CLOSE) | (into_week >= _OPEN)


def is_open(spec: SymbolSpec, utc: float) -> bool:
    """True when ``spec`` quotes at the UTC instant ``utc``."""
    return bool(open_mask(spec, np.array([utc]))[0])
