"""Walking the tick path: pending orders, stop-limits, SL/TP, expiry, swaps, stop-out.

``Sweep.run(start, end)`` replays the ticks between two server instants in time order,
one event at a time: each step finds the earliest thing that fires (an order reached,
a stop hit, an order lapsing, a rollover, the margin level falling to the stop-out
level), applies it at that tick's prices and searches again from there, so a position
opened by a pending order can hit its own stop later in the same window, and nothing
between two calls is skipped. The window is cut into chunks to bound memory.
"""

from __future__ import annotations

import logging

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc

from .account import AccountConfig, figures, lacks_money, position_value
from .execution import closing_order, fill
from .ledger import Ledger
from .money import Money, is_buy
from .records import Order, Position
from .triggers import TickWindow, first_order_hit, first_stop_hit, is_stop_limit

logger = logging.getLogger(__name__)
CHUNK_MSC = 6 * 3_600_000
DAY_MSC = 86_400_000
_EXPIRE, _STOP, _ORDER, _STOP_OUT, _ROLLOVER = range(5)  # order of events at the same time
_DEAL_REASON = {mc.ORDER_REASON_SL: mc.DEAL_REASON_SL, mc.ORDER_REASON_TP: mc.DEAL_REASON_TP}
_LIMIT_OF = {
    mc.ORDER_TYPE_BUY_STOP_LIMIT: mc.ORDER_TYPE_BUY_LIMIT,
    mc.ORDER_TYPE_SELL_STOP_LIMIT: mc.ORDER_TYPE_SELL_LIMIT,
}


class Sweep:
    """Processes price events on ``ledger``; read ``ledger`` back after ``run``."""

    def __init__(self, market, money: Money, config: AccountConfig, ledger: Ledger) -> None:
        self.market, self.money, self.config, self.ledger = market, money, config, ledger

    def run(self, start_msc: int, end_msc: int) -> Ledger:
        """Apply everything that happened in ``(start_msc, end_msc]`` (server ms)."""
        begin = start_msc
        while begin < end_msc:
            stop = min(end_msc, begin + CHUNK_MSC)
            if self.ledger.positions or self.ledger.orders:
                self._chunk(begin, stop)
            begin = stop
        return self.ledger

    def _chunk(self, start: int, end: int) -> None:
        symbols = {p.symbol for p in self.ledger.positions.values()}
        symbols |= {o.symbol for o in self.ledger.orders.values()}
        window = TickWindow(self.market, sorted(symbols), start, end)
        after, rolled = start, start
        while (event := self._next_event(window, after, rolled, end)) is not None:
            time_msc, kind, _, payload = event
            self._apply(window, kind, time_msc, payload)
            after = time_msc - 1  # others may still fire on this very tick
            if kind == _ROLLOVER:
                rolled = time_msc

    def _next_event(self, window: TickWindow, after: int, rolled: int, end: int):
        candidates = []
        for order in self.ledger.orders.values():
            if order.expires_msc and after < order.expires_msc <= end:
                candidates.append((order.expires_msc, _EXPIRE, order.ticket, order))
            hit = first_order_hit(window, order, after)
            if hit is not None:
                candidates.append((hit.time_msc, _ORDER, order.ticket, (order, hit)))
        for position in self.ledger.positions.values():
            found = first_stop_hit(window, position, after)
            if found is not None:
                candidates.append((found[0].time_msc, _STOP, position.ticket, (position, found)))
        stop_out = self._stop_out_time(window, after)
        if stop_out is not None:
            candidates.append((stop_out, _STOP_OUT, 0, None))
        rollover = (max(after, rolled) // DAY_MSC + 1) * DAY_MSC
        if self.ledger.positions and rollover <= end:
            candidates.append((rollover, _ROLLOVER, 0, None))
        if not candidates:
            return None
        return min(candidates, key=lambda c: c[:3])

    def _apply(self, window: TickWindow, kind: int, time_msc: int, payload) -> None:
        if kind == _EXPIRE:
            self.ledger.archive(payload, mc.ORDER_STATE_EXPIRED, time_msc)
        elif kind == _ORDER:
            self._trigger_order(window, *payload)
        elif kind == _STOP:
            position, (hit, reason) = payload
            self._close_on_stop(window, position, hit.time_msc, reason)
        elif kind == _STOP_OUT:
            self._stop_out(window, time_msc)
        else:
            self._rollover(time_msc)

    # -- pending orders -------------------------------------------------------------
    def _trigger_order(self, window: TickWindow, order: Order, hit) -> None:
        if is_stop_limit(order):
            # The stop is reached: the order becomes a limit order at its stop-limit price.
            order.type = _LIMIT_OF[order.type]
            order.price_open = order.price_stoplimit
            order.armed_msc = hit.time_msc
            return
        quote = window.quote_at(order.symbol, hit.time_msc)
        spec = self.market.spec(order.symbol)
        trial = self.ledger.sandbox()
        filled = trial.orders[order.ticket]
        price = quote.fill_price(is_buy(filled.type))
        fill(
            trial,
            filled,
            filled.volume_current,
            price,
            hit.time_msc,
            self.money,
            spec,
            self.config.hedging,
            mc.DEAL_REASON_EXPERT,
        )
        filled.volume_current, filled.price_current = 0.0, price
        trial.archive(filled, mc.ORDER_STATE_FILLED, hit.time_msc)
        if self._lacks_money(window, trial, hit.time_msc):
            logger.info("pending order %d rejected on activation: not enough money", order.ticket)
            self.ledger.archive(order, mc.ORDER_STATE_REJECTED, hit.time_msc)
            return
        self.ledger = trial

    def _lacks_money(self, window: TickWindow, trial: Ledger, time_msc: int) -> bool:
        def quote_of(symbol):
            return window.quote_at(symbol, time_msc)

        before = figures(self.ledger, self.money, self.market.spec, quote_of)
        after = figures(trial, self.money, self.market.spec, quote_of)
        return lacks_money(before, after)

    # -- positions ------------------------------------------------------------------
    def _close_on_stop(
        self, window: TickWindow, position: Position, time_msc: int, reason: int
    ) -> None:
        spec = self.market.spec(position.symbol)
        level = position.sl if reason == mc.ORDER_REASON_SL else position.tp
        tag = "sl" if reason == mc.ORDER_REASON_SL else "tp"
        comment = f"[{tag} {level:.{spec.digits}f}]"
        self._close(window, position, time_msc, reason, _DEAL_REASON[reason], comment)

    def _close(
        self,
        window: TickWindow,
        position: Position,
        time_msc: int,
        order_reason: int,
        deal_reason: int,
        comment: str,
    ) -> None:
        spec = self.market.spec(position.symbol)
        quote = window.quote_at(position.symbol, time_msc)
        price = quote.close_price(position.type == mc.POSITION_TYPE_BUY)
        order = closing_order(self.ledger, position, time_msc, order_reason, comment)
        order.price_open = order.price_current = price
        self.ledger.close(
            position, position.volume, order, price, time_msc, self.money, spec, deal_reason
        )
        self.ledger.archive(order, mc.ORDER_STATE_FILLED, time_msc)

    def _stop_out_time(self, window: TickWindow, after: int) -> int | None:
        """First tick time at which the margin level is at or below the stop-out level."""
        if not self.ledger.positions:
            return None
        start = figures(self.ledger, self.money, self.market.spec, lambda s: None)
        times = window.times_after(max(after, window.start_msc))
        if start.margin <= 0 or not len(times):
            return None
        equity = np.full(len(times), self.ledger.balance + start.profit)  # profit = swaps
        for position in self.ledger.positions.values():
            equity += self._profit_path(window, position, times)
        level = equity / start.margin * 100.0
        below = level <= self.config.margin_so_so
        return int(times[int(np.argmax(below))]) if below.any() else None

    def _profit_path(self, window: TickWindow, position: Position, times: np.ndarray):
        """Floating profit of ``position`` at each of ``times``, in the account currency."""
        ticks, bids, asks = window.arrays(position.symbol)
        if not len(ticks):
            return np.zeros(len(times))
        index = np.clip(np.searchsorted(ticks, times, side="right") - 1, 0, None)
        buying = position.type == mc.POSITION_TYPE_BUY
        prices = bids[index] if buying else asks[index]
        move = prices - position.price_open if buying else position.price_open - prices
        spec = self.market.spec(position.symbol)
        rate = self.money.to_account(1.0, spec.currency_profit)
        return move * position.volume * spec.trade_contract_size * rate

    def _stop_out(self, window: TickWindow, time_msc: int) -> None:
        """Close the position losing most, at this tick (the broker repeats while needed)."""

        def quote_of(symbol):
            return window.quote_at(symbol, time_msc)

        now = figures(self.ledger, self.money, self.market.spec, quote_of)
        worst = min(self.ledger.positions.values(), key=lambda p: self._profit_now(p, quote_of))
        comment = f"[so {now.margin_level:.2f}%]"
        logger.warning(
            "stop-out at margin level %.2f%%: closing position %d", now.margin_level, worst.ticket
        )
        self._close(window, worst, time_msc, mc.ORDER_REASON_SO, mc.DEAL_REASON_SO, comment)

    def _profit_now(self, position: Position, quote_of) -> float:
        spec = self.market.spec(position.symbol)
        return position_value(self.money, spec, position, quote_of(position.symbol))[1]

    def _rollover(self, midnight_msc: int) -> None:
        """Charge (or pay) a night's swap on positions open at the server's midnight."""
        weekday = (midnight_msc // DAY_MSC + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        for position in self.ledger.positions.values():
            spec = self.market.spec(position.symbol)
            nights = _nights(spec.always_open, weekday)
            if nights and position.time_msc < midnight_msc:
                swap = self.money.swap(spec, position.type, position.volume, position.price_open)
                position.swap = round(position.swap + nights * swap, 2)


def _nights(always_open: bool, weekday: int) -> int:
    """Nights of swap charged at a midnight starting ``weekday``: the Wednesday night
    counts three (it carries the weekend) and weekend midnights nothing."""
    if always_open:
        return 1
    if weekday in (0, 6):  # Sunday and Monday midnights follow closed days
        return 0
    return 3 if weekday == 3 else 1
