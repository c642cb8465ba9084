"""Trading sessions: when a symbol quotes.

Forex and metals follow the interbank week: closed from Friday 22:00 UTC to Sunday
22:00 UTC. Crypto quotes around the clock. Sessions are fixed in UTC (they do not follow
New York's daylight saving) and bank holidays are not modelled.
"""

from __future__ import annotations

import numpy as np

from bridge_v3.simulator.market.symbols import SymbolSpec

_WEEK = 7 * 86_400
# 1970-01-01 was a Thursday: shift so that second 0 of the week is Monday 00:00 UTC.
_MONDAY_SHIFT = 3 * 86_400
_CLOSE = 4 * 86_400 + 22 * 3_600  # Friday 22:00 UTC, seconds into the week
_OPEN = 6 * 86_400 + 22 * 3_600  # Sunday 22:00 UTC


def open_mask(spec: SymbolSpec, utc: np.ndarray) -> np.ndarray:
    """True where ``spec`` quotes at each UTC instant (seconds)."""
    utc = np.asarray(utc)
    if spec.always_open:
        return np.ones(utc.shape, dtype=bool)
    into_week = (np.floor(utc).astype(np.int64) + _MONDAY_SHIFT) % _WEEK
    return (into_week < _CLOSE) | (into_week >= _OPEN)


def is_open(spec: SymbolSpec, utc: float) -> bool:
    """True when ``spec`` quotes at the UTC instant ``utc``."""
    return bool(open_mask(spec, np.array([utc]))[0])
