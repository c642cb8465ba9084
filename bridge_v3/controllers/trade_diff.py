"""What changed between the terminal and the mirror: rows to write, events to publish.

Pure: it reads what the trade controller fetched from the terminal (``TerminalView``) and
from PostgreSQL (``MirrorView``) and decides. Rules:

* a position the terminal shows and the mirror does not hold is ``opened``; one whose
  type, volume, open price, SL or TP differ is ``modified`` (floating profit is not a
  change, but the row is refreshed);
* a mirrored open position the terminal no longer shows is ``closed`` only when its
  deals say so (its volume went back to zero on an exit deal), never because it is
  missing from one read; until then it stays open and is counted as unconfirmed;
* a position seen only in deals (opened and closed between two reads, or while the
  bridge was down) is rebuilt from its deals and gets ``opened`` then ``closed``;
* a pending order new to the mirror is ``placed``, a changed one ``modified``; a
  finished order gets its final event (``filled``, ``cancelled``, ``expired``,
  ``rejected``) once, when the mirror last knew it active or did not know it;
* every deal the mirror does not hold is new (the store decides finally, by key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bridge_v3.models.trade import (
    FINAL_ORDER_EVENTS,
    ORDER_TRACKED,
    POSITION_TRACKED,
    Deal,
    Order,
    Position,
    changes_of,
)
from bridge_v3.services.mt5.contract import constants as mc

_TRADING_DEALS = (mc.DEAL_TYPE_BUY, mc.DEAL_TYPE_SELL)
_EXITS = (mc.DEAL_ENTRY_OUT, mc.DEAL_ENTRY_OUT_BY)
_VOLUME_EPSILON = 1e-8


@dataclass
class TerminalView:
    """What the terminal said in one sync (times already in UTC)."""

    positions: list[dict]
    orders: list[dict]
    deals: list[dict]
    history_orders: list[dict]
    position_deals: dict[int, list[dict]] = field(default_factory=dict)  # full deal lists
    finished_orders: dict[int, dict | None] = field(default_factory=dict)  # looked up by ticket


@dataclass
class MirrorView:
    """What PostgreSQL held for the same tickets before the sync."""

    open_positions: dict[int, Position]
    positions: dict[int, Position]  # every stored position among the tickets concerned
    active_orders: dict[int, Order]
    orders: dict[int, Order]  # every stored order among the tickets concerned
    deals: set[int]


@dataclass(frozen=True)
class Event:
    """One message: ``kind`` is position, order or deal; ``data`` its payload."""

    kind: str
    data: dict
    deal: int = 0  # the deal's ticket for kind "deal" (published only if really stored)


@dataclass
class TradeChanges:
    positions: list[Position] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    open_positions: list[Position] = field(default_factory=list)  # as the terminal shows now


@dataclass(frozen=True)
class Ending:
    """How a position ended, from its deals."""

    at: datetime
    price: float
    profit: float
    swap: float


def diff(
    terminal: TerminalView, mirror: MirrorView, account: int, is_own: Callable[[int], bool]
) -> TradeChanges:
    changes = TradeChanges()
    deals = _all_deals(terminal, account)
    orders = _order_changes(terminal, mirror, account, is_own, changes)
    _deal_changes(deals, mirror, changes)
    _position_changes(terminal, mirror, deals, orders, account, is_own, changes)
    return changes


# -- deals --------------------------------------------------------------------------------


def _all_deals(terminal: TerminalView, account: int) -> dict[int, Deal]:
    records = list(terminal.deals)
    for found in terminal.position_deals.values():
        records += found
    deals = {int(r["ticket"]): Deal.from_mt5(r, account) for r in records}
    return dict(sorted(deals.items(), key=lambda item: (item[1].time_msc, item[0])))


def _deal_changes(deals: dict[int, Deal], mirror: MirrorView, changes: TradeChanges) -> None:
    for ticket, deal in deals.items():
        if ticket not in mirror.deals:
            changes.deals.append(deal)
            changes.events.append(Event("deal", deal.message(), deal=ticket))
            changes.counts["deals_new"] += 1


# -- orders -------------------------------------------------------------------------------


def _order_changes(
    terminal: TerminalView,
    mirror: MirrorView,
    account: int,
    is_own: Callable[[int], bool],
    changes: TradeChanges,
) -> dict[int, Order]:
    """Order rows and events; returns every order the terminal showed, by ticket."""
    pending = [Order.from_mt5(r, account, not is_own(int(r["magic"]))) for r in terminal.orders]
    finished = list(terminal.history_orders)
    finished += [r for r in terminal.finished_orders.values() if r is not None]
    done = [Order.from_mt5(r, account, not is_own(int(r["magic"]))) for r in finished]
    for order in pending:
        _pending_order(order, mirror.orders.get(order.ticket), changes)
    for order in {o.ticket: o for o in done}.values():
        _finished_order(order, mirror.orders.get(order.ticket), changes)
    shown = {o.ticket for o in pending} | {o.ticket for o in done}
    changes.counts["orders_unconfirmed"] += len(set(mirror.active_orders) - shown)
    changes.counts["pending_orders"] = len(pending)
    return {o.ticket: o for o in [*done, *pending]}


def _pending_order(order: Order, old: Order | None, changes: TradeChanges) -> None:
    changes.orders.append(order)  # refreshes price_current too
    if old is None or not old.active:
        _order_event(changes, order, "placed")
    elif moved := changes_of(old, order, ORDER_TRACKED):
        _order_event(changes, order, "modified", moved)


def _finished_order(order: Order, old: Order | None, changes: TradeChanges) -> None:
    if old is not None and not old.active:
        if old != order:
            changes.orders.append(order)  # a late correction: stored, not announced again
        return
    changes.orders.append(order)
    event = FINAL_ORDER_EVENTS.get(order.state)
    if event is not None:
        _order_event(changes, order, event)


def _order_event(changes: TradeChanges, order: Order, event: str, moved=None) -> None:
    changes.events.append(Event("order", order.message(event, moved)))
    changes.counts[f"orders_{event}"] += 1


# -- positions ----------------------------------------------------------------------------


def _position_changes(
    terminal: TerminalView,
    mirror: MirrorView,
    deals: dict[int, Deal],
    orders: dict[int, Order],
    account: int,
    is_own: Callable[[int], bool],
    changes: TradeChanges,
) -> None:
    shown = {}
    for record in terminal.positions:
        position = Position.from_mt5(record, account, not is_own(int(record["magic"])))
        shown[position.ticket] = position
        _shown_position(position, mirror.positions.get(position.ticket), changes)
    changes.open_positions = list(shown.values())
    by_position = _deals_by_position(deals.values())
    for ticket, old in mirror.open_positions.items():
        if ticket not in shown:
            _vanished_position(old, by_position.get(ticket, []), changes)
    for ticket, own_deals in by_position.items():
        if ticket not in shown and ticket not in mirror.positions:
            _rebuilt_position(ticket, own_deals, orders, account, is_own, changes)


def _shown_position(position: Position, old: Position | None, changes: TradeChanges) -> None:
    changes.positions.append(position)
    if old is None or old.closed_at is not None:
        _position_event(changes, position, "opened")
    elif moved := changes_of(old, position, POSITION_TRACKED):
        _position_event(changes, position, "modified", moved)


def _vanished_position(old: Position, own_deals: list[Deal], changes: TradeChanges) -> None:
    ending = position_end(own_deals)
    if ending is None:  # missing from one read is not closed: wait for its exit deal
        changes.counts["positions_unconfirmed"] += 1
        return
    closed = old.closed(ending.at, ending.price, ending.profit, ending.swap)
    changes.positions.append(closed)
    _position_event(changes, closed, "closed")


def _rebuilt_position(
    ticket: int,
    own_deals: list[Deal],
    orders: dict[int, Order],
    account: int,
    is_own: Callable[[int], bool],
    changes: TradeChanges,
) -> None:
    ending = position_end(own_deals)
    first = next((d for d in own_deals if d.entry == mc.DEAL_ENTRY_IN), None)
    if ending is None or first is None:
        return  # still open (opened after the positions were read): next sync shows it
    opening = orders.get(first.order_ticket)
    opened = Position(
        account=account,
        ticket=ticket,
        identifier=ticket,
        symbol=first.symbol,
        type=mc.POSITION_TYPE_BUY if first.type == mc.DEAL_TYPE_BUY else mc.POSITION_TYPE_SELL,
        magic=first.magic,
        reason=first.reason,
        volume=first.volume,
        price_open=first.price,
        sl=opening.sl if opening else 0.0,
        tp=opening.tp if opening else 0.0,
        price_current=first.price,
        swap=0.0,
        profit=0.0,
        comment=first.comment,
        external_id=first.external_id,
        time=first.time,
        time_update=first.time,
        external=not is_own(first.magic),
    )
    _position_event(changes, opened, "opened")
    closed = replace(opened, time_update=ending.at).closed(
        ending.at, ending.price, ending.profit, ending.swap
    )
    changes.positions.append(closed)
    _position_event(changes, closed, "closed")


def _position_event(changes: TradeChanges, position: Position, event: str, moved=None) -> None:
    changes.events.append(Event("position", position.message(event, moved)))
    changes.counts[f"positions_{event}"] += 1


def _deals_by_position(deals: Iterable[Deal]) -> dict[int, list[Deal]]:
    grouped: dict[int, list[Deal]] = {}
    for deal in deals:
        if deal.position_id and deal.type in _TRADING_DEALS:
            grouped.setdefault(deal.position_id, []).append(deal)
    return grouped


def position_end(deals: list[Deal]) -> Ending | None:
    """How a position ended, or None if its deals leave volume open (or there are none).

    Walks the deals oldest first: IN adds volume, OUT and OUT_BY take it away, INOUT (a
    netting reversal) leaves what exceeded the old volume.
    """
    trading = sorted(
        (d for d in deals if d.type in _TRADING_DEALS), key=lambda d: (d.time_msc, d.ticket)
    )
    remaining = 0.0
    for deal in trading:
        if deal.entry == mc.DEAL_ENTRY_IN:
            remaining += deal.volume
        elif deal.entry in _EXITS:
            remaining -= deal.volume
        elif deal.entry == mc.DEAL_ENTRY_INOUT:
            remaining = deal.volume - remaining
    if not trading or remaining > _VOLUME_EPSILON or trading[-1].entry not in _EXITS:
        return None
    exits = [d for d in trading if d.entry != mc.DEAL_ENTRY_IN]
    last = trading[-1]
    return Ending(
        at=last.time,
        price=last.price,
        profit=round(sum(d.profit for d in exits), 2),
        swap=round(sum(d.swap for d in trading), 2),
    )
