"""Rules a request must meet before the broker acts on it; each returns a retcode.

Every function answers ``CHECK_OK`` (0) when the rule holds, or the TRADE_RETCODE_* the
real trade server gives when it does not. They read the symbol's specification and the
current quote only, so ``order_check`` and ``order_send`` run exactly the same rules.
"""

from __future__ import annotations

from typing import NamedTuple

from bridge_v3.services.mt5.contract import constants as mc

from .money import is_buy
from .retcodes import CHECK_OK

SYMBOL_FILLING_FOK = mc.INTERNAL["SYMBOL_FILLING_FOK"]
SYMBOL_FILLING_IOC = mc.INTERNAL["SYMBOL_FILLING_IOC"]
SYMBOL_FILLING_BOC = mc.INTERNAL["SYMBOL_FILLING_BOC"]
MARKET_TYPES = frozenset({mc.ORDER_TYPE_BUY, mc.ORDER_TYPE_SELL})
LIMIT_TYPES = frozenset({mc.ORDER_TYPE_BUY_LIMIT, mc.ORDER_TYPE_SELL_LIMIT})
STOP_TYPES = frozenset({mc.ORDER_TYPE_BUY_STOP, mc.ORDER_TYPE_SELL_STOP})
STOP_LIMIT_TYPES = frozenset({mc.ORDER_TYPE_BUY_STOP_LIMIT, mc.ORDER_TYPE_SELL_STOP_LIMIT})
PENDING_TYPES = LIMIT_TYPES | STOP_TYPES | STOP_LIMIT_TYPES
_FOK_ONLY_EXECUTIONS = frozenset(
    {mc.SYMBOL_TRADE_EXECUTION_REQUEST, mc.SYMBOL_TRADE_EXECUTION_INSTANT}
)
_TIME_TYPES = frozenset(
    {mc.ORDER_TIME_GTC, mc.ORDER_TIME_DAY, mc.ORDER_TIME_SPECIFIED, mc.ORDER_TIME_SPECIFIED_DAY}
)
_EPS = 1e-9


class Quote(NamedTuple):
    """The prices a request is judged and filled against (times in server ms)."""

    bid: float
    ask: float
    time_msc: int

    def fill_price(self, buying: bool) -> float:
        return self.ask if buying else self.bid

    def close_price(self, position_is_buy: bool) -> float:
        return self.bid if position_is_buy else self.ask


def volume(spec, lots: float) -> int:
    """Volume within min/max and a whole number of steps, else 10014."""
    if lots < spec.volume_min - _EPS or lots > spec.volume_max + _EPS:
        return mc.TRADE_RETCODE_INVALID_VOLUME
    steps = lots / spec.volume_step
    if abs(steps - round(steps)) > 1e-6:
        return mc.TRADE_RETCODE_INVALID_VOLUME
    return CHECK_OK


def trade_mode(spec, order_type: int, closing: bool) -> int:
    """The symbol's trade mode allows this direction (closing is allowed unless disabled)."""
    mode = spec.trade_mode
    if mode == mc.SYMBOL_TRADE_MODE_DISABLED:
        return mc.TRADE_RETCODE_TRADE_DISABLED
    if closing:
        return CHECK_OK
    if mode == mc.SYMBOL_TRADE_MODE_CLOSEONLY:
        return mc.TRADE_RETCODE_CLOSE_ONLY
    if mode == mc.SYMBOL_TRADE_MODE_LONGONLY and not is_buy(order_type):
        return mc.TRADE_RETCODE_LONG_ONLY
    if mode == mc.SYMBOL_TRADE_MODE_SHORTONLY and is_buy(order_type):
        return mc.TRADE_RETCODE_SHORT_ONLY
    return CHECK_OK


def filling(spec, order_type: int, type_filling: int) -> int:
    """Filling policy allowed by the symbol's mask and execution mode, else 10030.

    Instant/Request execution always takes FOK; FOK/IOC need their mask bit otherwise;
    RETURN is for pending orders, or market orders under Exchange execution; BOC only
    for limit and stop-limit orders whose symbol allows it.
    """
    mask, execution = spec.filling_mode, spec.trade_exemode
    pending = order_type in PENDING_TYPES
    if type_filling == mc.ORDER_FILLING_FOK:
        allowed = bool(mask & SYMBOL_FILLING_FOK) or execution in _FOK_ONLY_EXECUTIONS
    elif type_filling == mc.ORDER_FILLING_IOC:
        allowed = bool(mask & SYMBOL_FILLING_IOC)
    elif type_filling == mc.ORDER_FILLING_RETURN:
        allowed = pending or execution == mc.SYMBOL_TRADE_EXECUTION_EXCHANGE
    elif type_filling == mc.ORDER_FILLING_BOC:
        limit_like = order_type in LIMIT_TYPES | STOP_LIMIT_TYPES
        allowed = limit_like and bool(mask & SYMBOL_FILLING_BOC)
    else:
        allowed = False
    return CHECK_OK if allowed else mc.TRADE_RETCODE_INVALID_FILL


def requote(spec, buying: bool, price: float, deviation: int, quote: Quote) -> int:
    """Under Instant/Request execution a stated price more than ``deviation`` points away
    from the market is requoted (10004); Market/Exchange execution ignores the price."""
    if price <= 0.0 or spec.trade_exemode not in _FOK_ONLY_EXECUTIONS:
        return CHECK_OK
    if abs(price - quote.fill_price(buying)) > deviation * spec.point + spec.point * 1e-3:
        return mc.TRADE_RETCODE_REQUOTE
    return CHECK_OK


def stops(spec, buying: bool, reference: float, sl: float, tp: float) -> int:
    """SL/TP on the correct side of ``reference`` and at least the stops level away.

    ``reference`` is the price the position would close at (bid for a buy, ask for a
    sell), or the open price of a pending order. 0 means "no stop".
    """
    gap = spec.trade_stops_level * spec.point - spec.point * 1e-3
    sign = 1.0 if buying else -1.0
    if sl and not (sign * (reference - sl) > 0 and sign * (reference - sl) >= gap):
        return mc.TRADE_RETCODE_INVALID_STOPS
    if tp and not (sign * (tp - reference) > 0 and sign * (tp - reference) >= gap):
        return mc.TRADE_RETCODE_INVALID_STOPS
    return CHECK_OK


def pending_price(spec, order_type: int, price: float, stoplimit: float, quote: Quote) -> int:
    """A pending order's price on the right side of the market, stops level away (10015)."""
    if price <= 0.0:
        return mc.TRADE_RETCODE_INVALID_PRICE
    gap = spec.trade_stops_level * spec.point - spec.point * 1e-3
    if order_type in LIMIT_TYPES:
        distance = quote.ask - price if is_buy(order_type) else price - quote.bid
    else:
        distance = price - quote.ask if is_buy(order_type) else quote.bid - price
    if not (distance > 0 and distance >= gap):
        return mc.TRADE_RETCODE_INVALID_PRICE
    if order_type in STOP_LIMIT_TYPES:
        below = price - stoplimit if is_buy(order_type) else stoplimit - price
        if stoplimit <= 0.0 or not (below > 0 and below >= gap):
            return mc.TRADE_RETCODE_INVALID_PRICE
    return CHECK_OK


def expiration(type_time: int, expiration_server: int, now_server: int) -> int:
    """A known time type, and a future expiration for the SPECIFIED ones (10022)."""
    if type_time not in _TIME_TYPES:
        return mc.TRADE_RETCODE_INVALID_EXPIRATION
    specified = (mc.ORDER_TIME_SPECIFIED, mc.ORDER_TIME_SPECIFIED_DAY)
    if type_time in specified and expiration_server <= now_server:
        return mc.TRADE_RETCODE_INVALID_EXPIRATION
    return CHECK_OK


def first_failure(*codes: int) -> int:
    """The first non-zero retcode, or CHECK_OK."""
    return next((code for code in codes if code != CHECK_OK), CHECK_OK)
