"""Where, in the tick path, each pending order, stop loss and take profit fires first.

A ``TickWindow`` holds the ticks of the symbols in play between two server instants;
the ``first_*`` functions search it with numpy for the earliest tick that meets an
order's or a position's condition. Conditions are the terminal's: a buy closes at the
bid and opens at the ask, so a buy's SL/TP watch the bid, a buy limit/stop the ask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.market.errors import MarketError

from .money import is_buy
from .records import Order, Position
from .validation import LIMIT_TYPES, STOP_LIMIT_TYPES, Quote

logger = logging.getLogger(__name__)
LOOKBACK_MSC = 600_000  # ticks before the window, to know the price at its start


@dataclass(frozen=True)
class Hit:
    """A tick at which something fires: its index in the symbol's arrays and time."""

    index: int
    time_msc: int


class TickWindow:
    """Ticks of ``symbols`` with ``start_msc < time_msc <= end_msc`` (server ms)."""

    def __init__(self, market, symbols, start_msc: int, end_msc: int) -> None:
        self.start_msc, self.end_msc = start_msc, end_msc
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for symbol in symbols:
            self._arrays[symbol] = _load(market, symbol, start_msc - LOOKBACK_MSC, end_msc)

    def arrays(self, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time_msc, bid, ask) of ``symbol``, the look-back ticks included."""
        return self._arrays.get(symbol) or _EMPTY

    def first_index(self, symbol: str, after_msc: int) -> int:
        """Index of the first tick strictly after ``after_msc`` (and inside the window)."""
        times = self.arrays(symbol)[0]
        return int(np.searchsorted(times, max(after_msc, self.start_msc), side="right"))

    def quote_at(self, symbol: str, time_msc: int) -> Quote | None:
        """The quote in force at ``time_msc``: the last tick at or before it."""
        times, bids, asks = self.arrays(symbol)
        index = int(np.searchsorted(times, time_msc, side="right")) - 1
        if index < 0:
            index = 0 if len(times) else -1
        if index < 0:
            return None
        return Quote(float(bids[index]), float(asks[index]), int(times[index]))

    def times_after(self, after_msc: int) -> np.ndarray:
        """Every tick time of every symbol strictly after ``after_msc``, sorted, unique."""
        parts = [
            t[np.searchsorted(t, after_msc, side="right") :] for t, _, _ in self._arrays.values()
        ]
        parts = [p for p in parts if len(p)]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))


def _load(market, symbol: str, start_msc: int, end_msc: int):
    try:
        ticks = market.ticks_range(symbol, start_msc, end_msc, mc.COPY_TICKS_ALL)
    except MarketError as error:  # a symbol without data triggers nothing
        logger.warning("no ticks for %s between %d and %d: %s", symbol, start_msc, end_msc, error)
        return _EMPTY
    if ticks is None or len(ticks) == 0:
        return _EMPTY
    order = np.argsort(ticks["time_msc"], kind="stable")
    ticks = ticks[order]
    return (
        ticks["time_msc"].astype(np.int64),
        ticks["bid"].astype(float),
        ticks["ask"].astype(float),
    )


def first_order_hit(window: TickWindow, order: Order, after_msc: int) -> Hit | None:
    """First tick at which a pending order (or a stop-limit's stop) is reached."""
    times, bids, asks = window.arrays(order.symbol)
    start = window.first_index(order.symbol, max(after_msc, order.armed_msc))
    buying, price = is_buy(order.type), order.price_open
    side = asks[start:] if buying else bids[start:]
    if order.type in LIMIT_TYPES:
        reached = side <= price if buying else side >= price
    else:  # stop and stop-limit orders fire when the market reaches them from the other side
        reached = side >= price if buying else side <= price
    return _first(reached, start, times)


def first_stop_hit(window: TickWindow, position: Position, after_msc: int):
    """First tick at which a position's SL or TP is reached: (Hit, ORDER_REASON_SL|TP)."""
    if not position.sl and not position.tp:
        return None
    times, bids, asks = window.arrays(position.symbol)
    start = window.first_index(position.symbol, max(after_msc, position.armed_msc))
    buying = position.type == mc.POSITION_TYPE_BUY
    side = bids[start:] if buying else asks[start:]
    sl_hit = (
        _never(side)
        if not position.sl
        else (side <= position.sl if buying else side >= position.sl)
    )
    tp_hit = (
        _never(side)
        if not position.tp
        else (side >= position.tp if buying else side <= position.tp)
    )
    hit = _first(sl_hit | tp_hit, start, times)
    if hit is None:
        return None
    reason = mc.ORDER_REASON_SL if sl_hit[hit.index - start] else mc.ORDER_REASON_TP
    return hit, reason


def is_stop_limit(order: Order) -> bool:
    return order.type in STOP_LIMIT_TYPES


def _never(side: np.ndarray) -> np.ndarray:
    return np.zeros(len(side), dtype=bool)


def _first(mask: np.ndarray, offset: int, times: np.ndarray) -> Hit | None:
    if not len(mask) or not mask.any():
        return None
    index = offset + int(np.argmax(mask))
    return Hit(index, int(times[index]))
