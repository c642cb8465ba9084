"""The risk gate's rules: what a trade request would do, and whether it may.

Pure: it judges one MT5 trade request (the dict ``order_send`` takes) against the risk
state and the account's book as the terminal shows it now. Closing, partial closing,
closing by an opposite position, cancelling and tightening stops always pass (a halt
must never trap a position). Anything else passes only while trading is enabled and
the state is ACTIVE; opening (a market order or a pending one) must also keep within
the position limits and the symbol's volume rules. A pending order counts as the
position it may open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bridge_v3.models.risk import Decision, RiskLimits, RiskState
from bridge_v3.services.mt5.contract import constants as mc

_EPSILON = 1e-9
_REDUCING = frozenset({"close", "partial_close", "close_by", "cancel", "tighten_stops"})
_OPENING = frozenset({"open", "place"})
_BUY_ORDERS = frozenset(
    {
        mc.ORDER_TYPE_BUY,
        mc.ORDER_TYPE_BUY_LIMIT,
        mc.ORDER_TYPE_BUY_STOP,
        mc.ORDER_TYPE_BUY_STOP_LIMIT,
    }
)


@dataclass(frozen=True)
class Book:
    """The account's open positions and pending orders (terminal records), and its mode."""

    positions: list[dict]
    orders: list[dict]
    hedging: bool = True


@dataclass(frozen=True)
class Gate:
    """Everything a judgement needs besides the request."""

    state: RiskState | None  # None: not known yet (nothing read since start)
    state_reason: str
    enabled: bool  # False until the start-up reconciliation has succeeded
    disabled_reason: str
    book: Book
    limits: RiskLimits
    spec: Callable[[str], dict | None]  # the symbol's SymbolInfo fields
    category: Callable[[str], str]  # forex / crypto / other


def judge(request: Mapping, gate: Gate) -> Decision:
    action, why = classify(request, gate.book)
    if action == "invalid":
        return Decision.refuse(action, why, gate.state)
    if action in _REDUCING:
        return Decision.allow(action, f"{why}: reduces exposure, always allowed", gate.state)
    refusal = _state_refusal(gate)
    if refusal is None and action in _OPENING:
        refusal = _volume_refusal(request, gate) or _limit_refusal(request, gate)
    if refusal is not None:
        return Decision.refuse(action, f"{why} refused: {refusal}", gate.state)
    return Decision.allow(action, f"{why}: allowed", gate.state)


def _state_refusal(gate: Gate) -> str | None:
    if not gate.enabled:
        return f"trading is disabled ({gate.disabled_reason})"
    if gate.state is None:
        return "the risk state is not known yet"
    if gate.state is RiskState.HALTED:
        return f"HALTED ({gate.state_reason}); only closing, cancelling and tighter stops pass"
    if gate.state is RiskState.REDUCING:
        return f"REDUCING ({gate.state_reason}); only orders that reduce exposure pass"
    return None


# -- what a request does ------------------------------------------------------------------


def classify(request: Mapping, book: Book) -> tuple[str, str]:
    """(action, a short description) of ``request``; ``invalid`` with the problem."""
    action = request.get("action")
    if action == mc.TRADE_ACTION_DEAL:
        return _market(request, book)
    if action == mc.TRADE_ACTION_PENDING:
        return "place", f"pending order on {request.get('symbol')}"
    if action == mc.TRADE_ACTION_REMOVE:
        return "cancel", f"cancelling order {request.get('order')}"
    if action == mc.TRADE_ACTION_CLOSE_BY:
        return "close_by", f"closing position {request.get('position')} by an opposite one"
    if action == mc.TRADE_ACTION_SLTP:
        return _stops(request, book)
    if action == mc.TRADE_ACTION_MODIFY:
        return "modify_order", f"modifying order {request.get('order')}"
    return "invalid", f"unknown trade action {action!r}"


def _market(request: Mapping, book: Book) -> tuple[str, str]:
    volume = _volume(request)
    if volume is None:
        return "invalid", f"volume {request.get('volume')!r} is not a positive number"
    ticket = int(request.get("position") or 0)
    if ticket:
        position = _position(book, ticket)
        if position is None:
            return "invalid", f"position {ticket} is not open"
    else:
        position = None if book.hedging else _net_position(book, request.get("symbol"))
    if (
        position is not None
        and _opposite(request, position)
        and volume <= position["volume"] + _EPSILON
    ):
        whole = volume >= position["volume"] - _EPSILON
        name = "close" if whole else "partial_close"
        return name, f"{'closing' if whole else 'partly closing'} position {position['ticket']}"
    return "open", f"{_side(request)} {volume:g} {request.get('symbol')}"


def _stops(request: Mapping, book: Book) -> tuple[str, str]:
    ticket = int(request.get("position") or 0)
    position = _position(book, ticket)
    if position is None:
        return "invalid", f"position {ticket} is not open"
    buy = position["type"] == mc.POSITION_TYPE_BUY
    sl_ok = _tighter(buy, True, float(position["sl"]), float(request.get("sl") or 0.0))
    tp_ok = _tighter(buy, False, float(position["tp"]), float(request.get("tp") or 0.0))
    if sl_ok and tp_ok:
        return "tighten_stops", f"tightening the stops of position {ticket}"
    return "loosen_stops", f"loosening the stops of position {ticket}"


def _tighter(buy: bool, stop_loss: bool, old: float, new: float) -> bool:
    """True when ``new`` is the same stop or a closer one (adding a stop counts as closer)."""
    if new == old:
        return True
    if new == 0:
        return False  # removing a stop
    if old == 0:
        return True
    return new > old if buy == stop_loss else new < old


# -- opening: volumes and limits ----------------------------------------------------------


def _volume_refusal(request: Mapping, gate: Gate) -> str | None:
    symbol = str(request.get("symbol") or "")
    spec = gate.spec(symbol)
    if spec is None:
        return f"no specification for symbol {symbol!r}"
    volume = _volume(request) or 0.0
    low, high, step = (
        float(spec["volume_min"]),
        float(spec["volume_max"]),
        float(spec["volume_step"]),
    )
    if volume < low - _EPSILON or volume > high + _EPSILON:
        return f"volume {volume:g} outside {symbol}'s limits {low:g} to {high:g}"
    if step > 0 and abs(volume / step - round(volume / step)) > 1e-6:
        return f"volume {volume:g} is not a multiple of {symbol}'s step {step:g}"
    cap = float(spec.get("volume_limit") or 0.0)
    held = _held(gate.book, symbol, _buying(request))
    if cap > 0 and held + volume > cap + _EPSILON:
        return f"{symbol} would hold {held + volume:g} lots one way, over its limit of {cap:g}"
    return None


def _limit_refusal(request: Mapping, gate: Gate) -> str | None:
    symbol = str(request.get("symbol") or "")
    book, limits = gate.book, gate.limits
    slots = _slots(book)
    if not book.hedging and symbol in slots:
        return None  # a netting account adds to the symbol's one position
    if len(slots) + 1 > limits.max_positions:
        return (
            f"MAX_SIMULTANEOUS_TRADES {limits.max_positions} reached ({len(slots)} open or pending)"
        )
    category = gate.category(symbol)
    cap = limits.by_category().get(category)
    same = sum(1 for s in slots if gate.category(s) == category)
    if cap is not None and same + 1 > cap:
        return f"MAX_{category.upper()}_POSITIONS {cap} reached ({same} open or pending)"
    return None


def _slots(book: Book) -> list[str]:
    """The symbol of each position and pending order (one per symbol on a netting account)."""
    symbols = [str(p["symbol"]) for p in book.positions] + [str(o["symbol"]) for o in book.orders]
    return symbols if book.hedging else list(dict.fromkeys(symbols))


def _held(book: Book, symbol: str, buying: bool) -> float:
    """Lots held and pending in ``symbol`` in one direction."""
    buy_position = mc.POSITION_TYPE_BUY if buying else mc.POSITION_TYPE_SELL
    held = sum(
        float(p["volume"])
        for p in book.positions
        if p["symbol"] == symbol and p["type"] == buy_position
    )
    held += sum(
        float(o["volume_current"])
        for o in book.orders
        if o["symbol"] == symbol and (o["type"] in _BUY_ORDERS) == buying
    )
    return held


# -- small readers ------------------------------------------------------------------------


def _volume(request: Mapping) -> float | None:
    volume = request.get("volume")
    if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not volume > 0:
        return None
    return float(volume)


def _position(book: Book, ticket: int) -> dict | None:
    return next((p for p in book.positions if int(p["ticket"]) == ticket), None)


def _net_position(book: Book, symbol: object) -> dict | None:
    return next((p for p in book.positions if p["symbol"] == symbol), None)


def _buying(request: Mapping) -> bool:
    return request.get("type") in _BUY_ORDERS


def _side(request: Mapping) -> str:
    return "buying" if _buying(request) else "selling"


def _opposite(request: Mapping, position: Mapping) -> bool:
    return _buying(request) == (position["type"] == mc.POSITION_TYPE_SELL)
