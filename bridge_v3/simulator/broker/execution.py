"""Matching: turning an accepted order into deals and positions.

Hedging accounts open one position per fill and close a position only when asked to
(by ``position`` or close-by). Netting accounts keep one position per symbol that fills
increase (IN), reduce or close (OUT) or reverse (INOUT). The same functions serve
market requests and orders triggered by price, so both book identically.
"""

from __future__ import annotations

from bridge_v3.services.mt5.contract import constants as mc

from .ledger import Ledger
from .money import Money, is_buy
from .records import Deal, Order, Position

_EPS = 1e-9


def net_position(ledger: Ledger, symbol: str) -> Position | None:
    """The netting account's position in ``symbol``, if any."""
    return next((p for p in ledger.positions.values() if p.symbol == symbol), None)


def fill(
    ledger: Ledger,
    order: Order,
    volume: float,
    price: float,
    time_msc: int,
    money: Money,
    spec,
    hedging: bool,
    reason: int,
) -> Deal:
    """Execute ``volume`` of ``order`` at ``price``: open, add to, reduce or reverse."""
    existing = None if hedging else net_position(ledger, order.symbol)
    if existing is None:
        return ledger.open(order, volume, price, time_msc, money, reason)
    if (existing.type == mc.POSITION_TYPE_BUY) == is_buy(order.type):
        return _increase(ledger, existing, order, volume, price, time_msc, money, reason)
    if volume <= existing.volume + _EPS:
        return ledger.close(existing, volume, order, price, time_msc, money, spec, reason)
    return _reverse(ledger, existing, order, volume, price, time_msc, money, spec, reason)


def _increase(
    ledger: Ledger,
    position: Position,
    order: Order,
    volume: float,
    price: float,
    time_msc: int,
    money: Money,
    reason: int,
) -> Deal:
    """Netting: same direction adds volume at the volume-weighted average price."""
    total = round(position.volume + volume, 8)
    position.price_open = (position.price_open * position.volume + price * volume) / total
    position.volume = total
    position.time_update_msc = time_msc
    _take_stops(position, order)
    order.position_id = position.identifier
    deal = ledger.deal_for(order, position, volume, price, time_msc, money, reason)
    return ledger.book(deal)


def _reverse(
    ledger: Ledger,
    position: Position,
    order: Order,
    volume: float,
    price: float,
    time_msc: int,
    money: Money,
    spec,
    reason: int,
) -> Deal:
    """Netting: a larger opposite fill closes the position and opens the rest the other
    way, in one INOUT deal; the position keeps its identifier."""
    closed = position.volume
    deal = ledger.deal_for(order, position, volume, price, time_msc, money, reason)
    deal.entry = mc.DEAL_ENTRY_INOUT
    deal.profit = money.profit(spec, position.type, closed, position.price_open, price)
    deal.swap, position.swap = position.swap, 0.0
    position.type = mc.POSITION_TYPE_BUY if is_buy(order.type) else mc.POSITION_TYPE_SELL
    position.volume = round(volume - closed, 8)
    position.price_open = price
    position.time_msc = position.time_update_msc = time_msc
    position.sl = position.tp = 0.0
    _take_stops(position, order)
    position.armed_msc = time_msc
    order.position_id = position.identifier
    return ledger.book(deal)


def _take_stops(position: Position, order: Order) -> None:
    """Netting: stops given with a fill replace the position's."""
    if order.sl:
        position.sl = order.sl
    if order.tp:
        position.tp = order.tp


def close_by(
    ledger: Ledger,
    order: Order,
    position: Position,
    opposite: Position,
    time_msc: int,
    money: Money,
    spec,
) -> tuple[Deal, Deal]:
    """Close two opposite positions against each other (hedging), both at the opposite
    position's open price, so their joint profit is what the two opens locked in."""
    volume = min(position.volume, opposite.volume)
    price = opposite.price_open
    first = ledger.close(
        position,
        volume,
        order,
        price,
        time_msc,
        money,
        spec,
        mc.DEAL_REASON_EXPERT,
        mc.DEAL_ENTRY_OUT_BY,
    )
    second = ledger.close(
        opposite,
        volume,
        order,
        price,
        time_msc,
        money,
        spec,
        mc.DEAL_REASON_EXPERT,
        mc.DEAL_ENTRY_OUT_BY,
    )
    order.position_id = position.identifier
    order.position_by_id = opposite.identifier
    return first, second


def closing_order(
    ledger: Ledger, position: Position, time_msc: int, reason: int, comment: str
) -> Order:
    """The market order the server itself sends to close a position (SL, TP, stop-out)."""
    closing_type = (
        mc.ORDER_TYPE_SELL if position.type == mc.POSITION_TYPE_BUY else mc.ORDER_TYPE_BUY
    )
    return Order(
        ticket=ledger.order_ticket(),
        symbol=position.symbol,
        type=closing_type,
        state=mc.ORDER_STATE_STARTED,
        volume_initial=position.volume,
        volume_current=0.0,
        price_open=0.0,
        sl=position.sl,
        tp=position.tp,
        type_filling=mc.ORDER_FILLING_FOK,
        type_time=mc.ORDER_TIME_GTC,
        time_setup_msc=time_msc,
        magic=position.magic,
        comment=comment,
        reason=reason,
        position_id=position.identifier,
    )
