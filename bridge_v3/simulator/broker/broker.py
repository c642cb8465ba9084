"""``PaperBroker``: the simulated terminal's trade server and account.

It keeps a hedging or netting account, accepts the trade requests ``order_send`` and
``order_check`` carry, and lets prices act on positions and orders. Every public call
first processes the prices up to ``market.clock.now()`` (see ``update``), so the account
figures, positions and orders it returns are true at that instant. All times in the
dicts it returns are server time, as the terminal shows them. Thread-safe: one lock
serialises every call, as the real terminal serialises its pipe.
"""

from __future__ import annotations

import dataclasses
import threading

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.market.errors import MarketError

from . import state as saved
from .account import AccountConfig, Figures, account_dict, figures, lacks_money, position_value
from .desk import DONE, Desk, Outcome
from .ledger import Ledger
from .money import Money, is_buy
from .retcodes import CHECK_OK, comment
from .sweep import Sweep
from .validation import Quote

_CALC_TYPES = frozenset(range(mc.ORDER_TYPE_BUY, mc.ORDER_TYPE_SELL_STOP_LIMIT + 1))
_REQUEST_DEFAULTS = {
    "action": 0,
    "magic": 0,
    "order": 0,
    "symbol": "",
    "volume": 0.0,
    "price": 0.0,
    "stoplimit": 0.0,
    "sl": 0.0,
    "tp": 0.0,
    "deviation": 0,
    "type": 0,
    "type_filling": 0,
    "type_time": 0,
    "expiration": 0,
    "comment": "",
    "position": 0,
    "position_by": 0,
}


class PaperBroker:
    """A paper trading account at a simulated broker, priced by ``market``."""

    def __init__(
        self,
        market,
        *,
        login: int = 10000001,
        balance: float = 10000.0,
        leverage: int = 100,
        currency: str = "USD",
        hedging: bool = True,
        commission_per_lot: float = 0.0,
        server: str = "BridgeSim-Demo",
        name: str = "Paper Trader",
        company: str = "bridge_v3 simulated broker",
    ) -> None:
        self.market = market
        self.config = AccountConfig(
            login=login,
            leverage=leverage,
            currency=currency,
            hedging=hedging,
            commission_per_lot=commission_per_lot,
            server=server,
            name=name,
            company=company,
        )
        self._lock = threading.RLock()
        self._trade_allowed = True
        self._money = Money(market.convert, currency, leverage, commission_per_lot)
        self._processed_msc = self._now_msc()
        self._ledger = Ledger()
        if balance:
            self._ledger.deposit(balance, self._processed_msc)

    # -- time and prices ------------------------------------------------------------
    def update(self) -> None:
        """Let prices act on orders and positions up to ``market.clock.now()``."""
        with self._lock:
            now = self._now_msc()
            if now > self._processed_msc:
                sweep = Sweep(self.market, self._money, self.config, self._ledger)
                self._ledger = sweep.run(self._processed_msc, now)
                self._processed_msc = now

    def _now_msc(self) -> int:
        """Server time now (ms). The server clock's high mark, so that it never runs
        backwards through the hour repeated when daylight saving ends."""
        return int(self.market.broker_time.server_msc(self.market.clock.now()))

    def _quote(self, symbol: str) -> Quote | None:
        try:
            tick = self.market.tick(symbol)
        except MarketError:
            return None
        if tick is None:
            return None
        return Quote(float(tick["bid"]), float(tick["ask"]), int(tick["time_msc"]))

    def _figures(self, ledger: Ledger | None = None) -> Figures:
        target = self._ledger if ledger is None else ledger
        return figures(target, self._money, self.market.spec, self._quote)

    # -- trading --------------------------------------------------------------------
    def send(self, request: dict) -> dict:
        """Carry out a trade request; keys of ``OrderSendResult`` except ``request``."""
        with self._lock:
            self.update()
            request_id = self._ledger.request_id()
            outcome, trial = self._attempt(request)
            if outcome.retcode == DONE:
                self._ledger = trial
            return {
                "retcode": outcome.retcode,
                "deal": outcome.deal,
                "order": outcome.order,
                "volume": float(outcome.volume),
                "price": float(outcome.price),
                "bid": float(outcome.bid),
                "ask": float(outcome.ask),
                "comment": comment(outcome.retcode),
                "request_id": request_id,
                "retcode_external": 0,
            }

    def check(self, request: dict) -> dict:
        """Judge a request without acting; keys of ``OrderCheckResult`` except ``request``.

        Passing answers retcode 0 "Done" with the account figures the trade would leave.
        """
        with self._lock:
            self.update()
            outcome, trial = self._attempt(request)
            retcode = CHECK_OK if outcome.retcode == DONE else outcome.retcode
            after = retcode in (CHECK_OK, mc.TRADE_RETCODE_NO_MONEY)
            numbers = self._figures(trial if after else None)
            return {
                "retcode": retcode,
                "balance": numbers.balance,
                "equity": numbers.equity,
                "profit": numbers.profit,
                "margin": numbers.margin,
                "margin_free": numbers.margin_free,
                "margin_level": numbers.margin_level,
                "comment": comment(retcode),
            }

    def _attempt(self, request: dict) -> tuple[Outcome, Ledger]:
        """Run ``request`` on a copy of the ledger; the copy is kept only by ``send``."""
        trial = self._ledger.sandbox()
        if not self._trade_allowed:
            return Outcome(mc.TRADE_RETCODE_CLIENT_DISABLES_AT), trial
        full = {**_REQUEST_DEFAULTS, **request}
        desk = Desk(
            self.market,
            self._money,
            self.config.hedging,
            trial,
            self._processed_msc,
            self._quote,
            self.config.limit_orders,
        )
        outcome = desk.run(full)
        if outcome.retcode == DONE and self._lacks_money(trial):
            outcome = Outcome(mc.TRADE_RETCODE_NO_MONEY)
        return outcome, trial

    def _lacks_money(self, trial: Ledger) -> bool:
        """More margin is needed than the free margin the trade would leave."""
        return lacks_money(self._figures(), self._figures(trial))

    def calc_margin(
        self, order_type: int, symbol: str, volume: float, price: float
    ) -> float | None:
        """Margin ``volume`` lots need, in the account currency; None if not computable."""
        spec = self.market.spec(symbol)
        if spec is None or order_type not in _CALC_TYPES:
            return None
        return self._money.margin(spec, order_type, volume, price)

    def calc_profit(
        self, order_type: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> float | None:
        """Profit of the trade in the account currency; None if not computable."""
        spec = self.market.spec(symbol)
        if spec is None or order_type not in (mc.ORDER_TYPE_BUY, mc.ORDER_TYPE_SELL):
            return None
        return self._money.profit(spec, order_type, volume, price_open, price_close)

    def set_trade_allowed(self, allowed: bool) -> None:
        """The terminal's AutoTrading switch: off, every request answers 10027."""
        with self._lock:
            self._trade_allowed = bool(allowed)

    @property
    def trade_allowed(self) -> bool:
        return self._trade_allowed

    # -- reading --------------------------------------------------------------------
    def account(self) -> dict:
        """``AccountInfo`` fields (all 28) at this instant."""
        with self._lock:
            self.update()
            return account_dict(self.config, self._figures())

    def positions(self) -> list[dict]:
        """Open positions as ``TradePosition`` fields, oldest first."""
        with self._lock:
            self.update()
            result = []
            for position in self._ledger.positions.values():
                spec = self.market.spec(position.symbol)
                quote = self._quote(position.symbol)
                price, profit = position_value(self._money, spec, position, quote)
                result.append(position.as_dict(price, profit))
            return result

    def orders(self) -> list[dict]:
        """Active pending orders as ``TradeOrder`` fields, oldest first."""
        with self._lock:
            self.update()
            result = []
            for order in self._ledger.orders.values():
                quote = self._quote(order.symbol)
                price = quote.fill_price(is_buy(order.type)) if quote else order.price_current
                result.append(order.as_dict(price))
            return result

    def history_orders(self, server_from: int, server_to: int) -> list[dict]:
        """Finished orders set up between the two server times (seconds, inclusive)."""
        with self._lock:
            self.update()
            return [
                o.as_dict()
                for o in self._ledger.history_orders.values()
                if server_from <= o.time_setup_msc // 1000 <= server_to
            ]

    def history_deals(self, server_from: int, server_to: int) -> list[dict]:
        """Deals done between the two server times (seconds, inclusive)."""
        with self._lock:
            self.update()
            return [
                d.as_dict()
                for d in self._ledger.deals
                if server_from <= d.time_msc // 1000 <= server_to
            ]

    def history_order(self, ticket: int) -> list[dict]:
        with self._lock:
            self.update()
            order = self._ledger.history_orders.get(ticket)
            return [order.as_dict()] if order else []

    def history_orders_by_position(self, position: int) -> list[dict]:
        with self._lock:
            self.update()
            orders = self._ledger.history_orders.values()
            return [o.as_dict() for o in orders if o.position_id == position]

    def history_deals_by_order(self, order: int) -> list[dict]:
        with self._lock:
            self.update()
            return [d.as_dict() for d in self._ledger.deals if d.order == order]

    def history_deals_by_position(self, position: int) -> list[dict]:
        with self._lock:
            self.update()
            return [d.as_dict() for d in self._ledger.deals if d.position_id == position]

    # -- persistence ----------------------------------------------------------------
    def to_state(self) -> dict:
        """The full state as JSON-serialisable data (see ``from_state``)."""
        with self._lock:
            return {
                "version": saved.STATE_VERSION,
                "config": dataclasses.asdict(self.config),
                "trade_allowed": self._trade_allowed,
                "processed_msc": self._processed_msc,
                "ledger": saved.ledger_to_state(self._ledger),
            }

    @classmethod
    def from_state(cls, market, state: dict) -> PaperBroker:
        """A broker continuing from ``state``; raises ``BrokerStateError`` if it is corrupt.

        Prices between the saved instant and now are processed at the next call.
        """
        saved.check_version(state)
        config = saved.config_from_state(state)
        ledger = saved.ledger_from_state(saved.require(state, "ledger", dict))
        processed = saved.require(state, "processed_msc", int)
        fields = dataclasses.asdict(config)
        kept = {
            k: fields[k]
            for k in (
                "login",
                "leverage",
                "currency",
                "hedging",
                "commission_per_lot",
                "server",
                "name",
                "company",
            )
        }
        broker = cls(market, balance=0.0, **kept)
        broker.config = config
        broker._ledger, broker._processed_msc = ledger, processed
        broker._trade_allowed = bool(state.get("trade_allowed", True))
        return broker
