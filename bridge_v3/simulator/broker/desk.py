"""The dealing desk: one trade request judged and carried out on a ledger.

``Desk.run`` applies a request to the ledger it was given, which the broker passes as a
sandbox copy: ``order_check`` throws the copy away, ``order_send`` keeps it when the
request succeeded. Both therefore see exactly the same rules and the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge_v3.services.mt5.contract import constants as mc

from . import validation as rules
from .execution import close_by, fill, net_position
from .ledger import Ledger
from .money import Money, is_buy
from .records import Order, Position
from .retcodes import CHECK_OK
from .validation import MARKET_TYPES, PENDING_TYPES, STOP_LIMIT_TYPES, Quote

DONE = mc.TRADE_RETCODE_DONE
DAY_MSC = 86_400_000
_SPECIFIED = (mc.ORDER_TIME_SPECIFIED, mc.ORDER_TIME_SPECIFIED_DAY)


@dataclass
class Outcome:
    """What a request came to; the fields of ``OrderSendResult`` it determines."""

    retcode: int
    deal: int = 0
    order: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0


class Desk:
    """Applies requests to ``ledger`` at server time ``now_msc``."""

    def __init__(
        self,
        market,
        money: Money,
        hedging: bool,
        ledger: Ledger,
        now_msc: int,
        quote_of: Callable[[str], Quote | None],
        limit_orders: int = 200,
    ) -> None:
        self.limit_orders = limit_orders
        self.market, self.money, self.hedging = market, money, hedging
        self.ledger, self.now_msc, self.quote_of = ledger, now_msc, quote_of
        self._handlers = {
            mc.TRADE_ACTION_DEAL: self._deal,
            mc.TRADE_ACTION_PENDING: self._pending,
            mc.TRADE_ACTION_SLTP: self._sltp,
            mc.TRADE_ACTION_MODIFY: self._modify,
            mc.TRADE_ACTION_REMOVE: self._remove,
            mc.TRADE_ACTION_CLOSE_BY: self._close_by,
        }

    def run(self, request: dict) -> Outcome:
        handler = self._handlers.get(request["action"])
        return handler(request) if handler else Outcome(mc.TRADE_RETCODE_INVALID)

    # -- market deals ---------------------------------------------------------------
    def _deal(self, r: dict) -> Outcome:
        spec = self.market.spec(r["symbol"])
        if spec is None or r["type"] not in MARKET_TYPES:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        buying = is_buy(r["type"])
        target, code = self._closing_target(r, spec, buying)
        if code:
            return Outcome(code)
        quote = self.quote_of(spec.name)
        code = self._market_rules(spec, r, quote, closing=target is not None)
        if not code and target is None:
            code = rules.stops(spec, buying, quote.close_price(buying), r["sl"], r["tp"])
        if not code:
            code = rules.requote(spec, buying, r["price"], r["deviation"], quote)
        if code == mc.TRADE_RETCODE_REQUOTE:
            return Outcome(code, bid=quote.bid, ask=quote.ask)
        if code:
            return Outcome(code)
        return self._execute_market(r, spec, quote, target)

    def _closing_target(self, r: dict, spec, buying: bool) -> tuple[Position | None, int]:
        """The position a market request closes, and a retcode if the reference is bad."""
        if not r["position"]:
            existing = None if self.hedging else net_position(self.ledger, spec.name)
            if existing and (existing.type == mc.POSITION_TYPE_BUY) != buying:
                return (existing if r["volume"] <= existing.volume + 1e-9 else None), CHECK_OK
            return None, CHECK_OK
        position, code = self._position(r["position"])
        if code:
            return None, code
        if position.symbol != spec.name or (position.type == mc.POSITION_TYPE_BUY) == buying:
            return None, mc.TRADE_RETCODE_INVALID
        if r["volume"] > position.volume + 1e-9:
            return None, mc.TRADE_RETCODE_INVALID_CLOSE_VOLUME
        return position, CHECK_OK

    def _market_rules(self, spec, r: dict, quote: Quote | None, closing: bool) -> int:
        """Trade mode, volume, session, quotes and filling, in the server's order."""
        code = rules.trade_mode(spec, r["type"], closing) or rules.volume(spec, r["volume"])
        if code:
            return code
        if not self.market.is_open(spec.name):
            return mc.TRADE_RETCODE_MARKET_CLOSED
        if quote is None:
            return mc.TRADE_RETCODE_PRICE_OFF
        return rules.filling(spec, r["type"], r["type_filling"])

    def _execute_market(self, r: dict, spec, quote: Quote, target: Position | None) -> Outcome:
        buying = is_buy(r["type"])
        price = quote.fill_price(buying)
        order = self._new_order(r, spec, price, volume_current=0.0)
        if target is not None:
            deal = self.ledger.close(
                target,
                r["volume"],
                order,
                price,
                self.now_msc,
                self.money,
                spec,
                mc.DEAL_REASON_EXPERT,
            )
        else:
            deal = fill(
                self.ledger,
                order,
                r["volume"],
                price,
                self.now_msc,
                self.money,
                spec,
                self.hedging,
                mc.DEAL_REASON_EXPERT,
            )
        self.ledger.archive(order, mc.ORDER_STATE_FILLED, self.now_msc)
        return Outcome(DONE, deal.ticket, order.ticket, r["volume"], price, quote.bid, quote.ask)

    # -- pending orders -------------------------------------------------------------
    def _pending(self, r: dict) -> Outcome:
        spec = self.market.spec(r["symbol"])
        if spec is None or r["type"] not in PENDING_TYPES:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        if len(self.ledger.orders) >= self.limit_orders:
            return Outcome(mc.TRADE_RETCODE_LIMIT_ORDERS)
        quote = self.quote_of(spec.name)
        code = self._market_rules(spec, r, quote, closing=False) or self._order_rules(
            spec, r, quote
        )
        if code:
            return Outcome(code)
        order = self._new_order(r, spec, r["price"], volume_current=r["volume"])
        order.state, order.armed_msc = mc.ORDER_STATE_PLACED, self.now_msc
        order.price_current = quote.fill_price(is_buy(r["type"]))
        self._set_expiry(order, r["type_time"], r["expiration"])
        self.ledger.orders[order.ticket] = order
        return Outcome(DONE, order=order.ticket, volume=r["volume"])

    def _order_rules(self, spec, r: dict, quote: Quote) -> int:
        """Price placement, stops around the open price and expiration of a pending order."""
        order_type, stoplimit = r["type"], r["stoplimit"]
        opening = stoplimit if order_type in STOP_LIMIT_TYPES else r["price"]
        return (
            rules.pending_price(spec, order_type, r["price"], stoplimit, quote)
            or rules.stops(spec, is_buy(order_type), opening, r["sl"], r["tp"])
            or rules.expiration(r["type_time"], r["expiration"], self.now_msc // 1000)
        )

    def _set_expiry(self, order: Order, type_time: int, expiration: int) -> None:
        """When the order lapses: end of today, at ``expiration``, or end of its day."""
        order.type_time = type_time
        order.time_expiration = expiration if type_time in _SPECIFIED else 0
        if type_time == mc.ORDER_TIME_DAY:
            order.expires_msc = (self.now_msc // DAY_MSC + 1) * DAY_MSC
        elif type_time == mc.ORDER_TIME_SPECIFIED:
            order.expires_msc = expiration * 1000
        elif type_time == mc.ORDER_TIME_SPECIFIED_DAY:
            order.expires_msc = (expiration * 1000 // DAY_MSC + 1) * DAY_MSC
        else:
            order.expires_msc = 0

    def _modify(self, r: dict) -> Outcome:
        order = self.ledger.orders.get(r["order"])
        if order is None:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        spec, quote = self.market.spec(order.symbol), self.quote_of(order.symbol)
        code = self._session(spec, quote)
        if code:
            return Outcome(code)
        wanted = dict(r, type=order.type, stoplimit=r["stoplimit"] or order.price_stoplimit)
        current = (
            order.price_open,
            order.price_stoplimit,
            order.sl,
            order.tp,
            order.type_time,
            order.time_expiration,
        )
        new = (
            wanted["price"],
            wanted["stoplimit"],
            r["sl"],
            r["tp"],
            r["type_time"],
            r["expiration"] if r["type_time"] != mc.ORDER_TIME_GTC else 0,
        )
        if current == new:
            return Outcome(mc.TRADE_RETCODE_NO_CHANGES)
        code = self._order_rules(spec, wanted, quote)
        if code:
            return Outcome(code)
        order.price_open, order.price_stoplimit, order.sl, order.tp = new[:4]
        self._set_expiry(order, r["type_time"], r["expiration"])
        return Outcome(DONE, order=order.ticket, volume=order.volume_current)

    def _remove(self, r: dict) -> Outcome:
        order = self.ledger.orders.get(r["order"])
        if order is None:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        code = self._session(self.market.spec(order.symbol), self.quote_of(order.symbol))
        if code:
            return Outcome(code)
        self.ledger.archive(order, mc.ORDER_STATE_CANCELED, self.now_msc)
        return Outcome(DONE, order=order.ticket, volume=order.volume_current)

    # -- positions ------------------------------------------------------------------
    def _sltp(self, r: dict) -> Outcome:
        if not r["position"] and not self.hedging:
            position = net_position(self.ledger, r["symbol"])
            code = CHECK_OK if position else mc.TRADE_RETCODE_INVALID
        else:
            position, code = self._position(r["position"])
        if code or (r["symbol"] and r["symbol"] != position.symbol):
            return Outcome(code or mc.TRADE_RETCODE_INVALID)
        spec, quote = self.market.spec(position.symbol), self.quote_of(position.symbol)
        code = self._session(spec, quote)
        if not code and (r["sl"], r["tp"]) == (position.sl, position.tp):
            code = mc.TRADE_RETCODE_NO_CHANGES
        buying = position.type == mc.POSITION_TYPE_BUY
        if not code:
            code = rules.stops(spec, buying, quote.close_price(buying), r["sl"], r["tp"])
        if code:
            return Outcome(code)
        position.sl, position.tp = r["sl"], r["tp"]
        position.time_update_msc = self.now_msc
        return Outcome(DONE)

    def _close_by(self, r: dict) -> Outcome:
        if not self.hedging:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        position, code = self._position(r["position"])
        opposite, code_by = self._position(r["position_by"])
        if code or code_by:
            return Outcome(code or code_by)
        if position.symbol != opposite.symbol or position.type == opposite.type:
            return Outcome(mc.TRADE_RETCODE_INVALID)
        spec, quote = self.market.spec(position.symbol), self.quote_of(position.symbol)
        code = rules.trade_mode(spec, r["type"], closing=True) or self._session(spec, quote)
        if code:
            return Outcome(code)
        volume = min(position.volume, opposite.volume)
        order = Order(
            ticket=self.ledger.order_ticket(),
            symbol=position.symbol,
            type=mc.ORDER_TYPE_CLOSE_BY,
            state=mc.ORDER_STATE_STARTED,
            volume_initial=volume,
            volume_current=0.0,
            price_open=0.0,
            sl=0.0,
            tp=0.0,
            type_filling=r["type_filling"],
            type_time=mc.ORDER_TIME_GTC,
            time_setup_msc=self.now_msc,
            magic=r["magic"],
            comment=r["comment"],
        )
        first, _ = close_by(self.ledger, order, position, opposite, self.now_msc, self.money, spec)
        self.ledger.archive(order, mc.ORDER_STATE_FILLED, self.now_msc)
        return Outcome(DONE, first.ticket, order.ticket, volume, first.price, quote.bid, quote.ask)

    # -- helpers --------------------------------------------------------------------
    def _position(self, ticket: int) -> tuple[Position | None, int]:
        position = self.ledger.positions.get(ticket)
        if position is not None:
            return position, CHECK_OK
        if ticket in self.ledger.closed_positions:
            return None, mc.TRADE_RETCODE_POSITION_CLOSED
        return None, mc.TRADE_RETCODE_INVALID

    def _session(self, spec, quote: Quote | None) -> int:
        if spec is None:
            return mc.TRADE_RETCODE_INVALID
        if not self.market.is_open(spec.name):
            return mc.TRADE_RETCODE_MARKET_CLOSED
        return CHECK_OK if quote is not None else mc.TRADE_RETCODE_PRICE_OFF

    def _new_order(self, r: dict, spec, price: float, volume_current: float) -> Order:
        return Order(
            ticket=self.ledger.order_ticket(),
            symbol=spec.name,
            type=r["type"],
            state=mc.ORDER_STATE_STARTED,
            volume_initial=r["volume"],
            volume_current=volume_current,
            price_open=price,
            sl=r["sl"],
            tp=r["tp"],
            type_filling=r["type_filling"],
            type_time=r["type_time"],
            time_setup_msc=self.now_msc,
            magic=r["magic"],
            comment=r["comment"],
            price_stoplimit=r["stoplimit"],
            price_current=price,
            position_id=r["position"],
        )
