"""Bookkeeping of positions, orders and deals, and the balance they move.

The ledger is the only place the balance changes, and it changes only by booking a
deal (profit + commission + swap + fee), so the history of deals always adds up to the
balance. A position is only ever created together with its opening deal.
"""

from __future__ import annotations

import dataclasses

from bridge_v3.services.mt5.contract import constants as mc

from .money import Money, cents, is_buy
from .records import Deal, Order, Position

ORDER_TICKET_START = 1_000_001
DEAL_TICKET_START = 2_000_001
VOLUME_EPSILON = 1e-9


@dataclasses.dataclass
class Ledger:
    """Balance, ticket counters, open positions, active orders and history."""

    balance: float = 0.0
    next_order: int = ORDER_TICKET_START
    next_deal: int = DEAL_TICKET_START
    next_request: int = 1
    positions: dict[int, Position] = dataclasses.field(default_factory=dict)
    orders: dict[int, Order] = dataclasses.field(default_factory=dict)
    history_orders: dict[int, Order] = dataclasses.field(default_factory=dict)
    deals: list[Deal] = dataclasses.field(default_factory=list)
    closed_positions: set[int] = dataclasses.field(default_factory=set)

    def sandbox(self) -> Ledger:
        """A copy that can be changed freely: tried first, kept only if the trade passes."""
        return dataclasses.replace(
            self,
            positions={k: dataclasses.replace(p) for k, p in self.positions.items()},
            orders={k: dataclasses.replace(o) for k, o in self.orders.items()},
            history_orders=dict(self.history_orders),
            deals=list(self.deals),
            closed_positions=set(self.closed_positions),
        )

    def order_ticket(self) -> int:
        ticket, self.next_order = self.next_order, self.next_order + 1
        return ticket

    def deal_ticket(self) -> int:
        ticket, self.next_deal = self.next_deal, self.next_deal + 1
        return ticket

    def request_id(self) -> int:
        ticket, self.next_request = self.next_request, self.next_request + 1
        return ticket

    def book(self, deal: Deal) -> Deal:
        """Record ``deal`` and move the balance by exactly its money."""
        self.deals.append(deal)
        self.balance = cents(self.balance + deal.money)
        return deal

    def deposit(self, amount: float, time_msc: int, comment: str = "Deposit") -> Deal:
        """A balance operation, as the real history starts with."""
        deal = Deal(
            ticket=self.deal_ticket(),
            order=0,
            time_msc=time_msc,
            type=mc.DEAL_TYPE_BALANCE,
            entry=mc.DEAL_ENTRY_IN,
            volume=0.0,
            price=0.0,
            symbol="",
            reason=mc.DEAL_REASON_CLIENT,
            profit=cents(amount),
            comment=comment,
        )
        return self.book(deal)

    def archive(self, order: Order, state: int, time_msc: int) -> None:
        """Move ``order`` (active or just executed) to history in its final ``state``."""
        self.orders.pop(order.ticket, None)
        order.state = state
        order.time_done_msc = time_msc
        self.history_orders[order.ticket] = order

    def open(
        self,
        order: Order,
        volume: float,
        price: float,
        time_msc: int,
        money: Money,
        deal_reason: int,
    ) -> Deal:
        """Open a position for ``order`` with its opening deal (entry IN)."""
        position = Position(
            ticket=order.ticket,
            identifier=order.ticket,
            symbol=order.symbol,
            type=mc.POSITION_TYPE_BUY if is_buy(order.type) else mc.POSITION_TYPE_SELL,
            volume=volume,
            price_open=price,
            sl=order.sl,
            tp=order.tp,
            time_msc=time_msc,
            time_update_msc=time_msc,
            magic=order.magic,
            comment=order.comment,
            reason=mc.POSITION_REASON_EXPERT,
            armed_msc=time_msc,
        )
        self.positions[position.ticket] = position
        order.position_id = position.identifier
        deal = self.deal_for(order, position, volume, price, time_msc, money, deal_reason)
        return self.book(deal)

    def close(
        self,
        position: Position,
        volume: float,
        order: Order,
        price: float,
        time_msc: int,
        money: Money,
        spec,
        deal_reason: int,
        entry: int = mc.DEAL_ENTRY_OUT,
    ) -> Deal:
        """Close ``volume`` of ``position`` at ``price``: the deal books profit and swap."""
        deal = self.deal_for(order, position, volume, price, time_msc, money, deal_reason)
        deal.entry = entry
        deal.type = closing_deal_type(position.type)
        deal.profit = money.profit(spec, position.type, volume, position.price_open, price)
        share = min(volume / position.volume, 1.0)
        deal.swap = cents(position.swap * share)
        position.swap = cents(position.swap - deal.swap)
        self.reduce(position, volume, time_msc)
        order.position_id = position.identifier
        return self.book(deal)

    def reduce(self, position: Position, volume: float, time_msc: int) -> None:
        """Take ``volume`` off ``position``; it leaves the book when nothing is left."""
        position.volume = round(position.volume - volume, 8)
        position.time_update_msc = time_msc
        if position.volume <= VOLUME_EPSILON:
            del self.positions[position.ticket]
            self.closed_positions.add(position.identifier)

    def deal_for(
        self,
        order: Order,
        position: Position,
        volume: float,
        price: float,
        time_msc: int,
        money: Money,
        reason: int,
    ) -> Deal:
        """An opening-shaped deal for ``order``; closing callers adjust entry and type."""
        return Deal(
            ticket=self.deal_ticket(),
            order=order.ticket,
            time_msc=time_msc,
            type=mc.DEAL_TYPE_BUY if is_buy(order.type) else mc.DEAL_TYPE_SELL,
            entry=mc.DEAL_ENTRY_IN,
            volume=volume,
            price=price,
            symbol=order.symbol,
            magic=order.magic,
            position_id=position.identifier,
            reason=reason,
            commission=money.commission(volume),
            comment=order.comment,
        )


def closing_deal_type(position_type: int) -> int:
    """A buy position is closed by a sell deal and a sell position by a buy deal."""
    return mc.DEAL_TYPE_SELL if position_type == mc.POSITION_TYPE_BUY else mc.DEAL_TYPE_BUY
