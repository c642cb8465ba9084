"""Order execution: the one place where the bridge asks the terminal to trade.

Strategies and signed control commands call the same five methods: ``open``, ``close``,
``cancel``, ``modify`` and ``resolve_open_intents``. Each call:

1. in safety mode refuses at once, recorded, without reaching the terminal;
2. builds the MT5 request (magic number, the intent id in the comment, the filling mode
   the symbol allows, a size from ``RISK_PER_TRADE`` when none is given);
3. passes the risk gate (``RiskController.check``), then ``order_check`` (a failed check
   stops the order and is recorded);
4. journals the intent (``order_intents``, committed) and only then calls ``order_send``,
   once, at HIGH priority;
5. reads the answer (:mod:`order_sender`): filled or placed with the tickets, sent again
   at a fresh price after a requote within the tolerance, rejected, or ``unknown`` and
   then resolved by looking the order up, never by sending again.

A new entry is refused while an earlier intent of the same strategy and symbol is still
unresolved, so an order whose answer was lost can never be doubled, across restarts too.
Every call returns an :class:`Outcome` (intent id, status, retcode, tickets, reason).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from bridge_v3.controllers.intent_lookup import IntentLookup
from bridge_v3.controllers.order_requests import (
    Unsizable,
    filling_modes,
    market_price,
    risk_volume,
    within,
)
from bridge_v3.controllers.order_sender import OrderSender
from bridge_v3.exceptions import (
    BridgeError,
    TemporaryError,
)
from bridge_v3.models.intent import OrderIntent, Outcome, new_intent_id
from bridge_v3.models.risk import Decision
from bridge_v3.services.intent_store import IntentStore
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service

logger = logging.getLogger(__name__)

CONTROL_MAGIC = 700_000  # orders a person asked for, with no strategy of their own
CHECK_PASSED = (0, mc.TRADE_RETCODE_DONE)


@dataclass(frozen=True)
class ExecutionSettings:
    live: bool
    account: int | None  # MT5_ACCOUNT: orders go out only while the terminal is on it
    risk_per_trade: float  # percent of equity risked to the stop
    retries: int  # ORDER_RETRIES
    deviation: int  # ORDER_DEVIATION, points


class Refused(Exception):
    """The request is not sent: ``status`` refused (never asked) or rejected (refused by
    the terminal's check)."""

    def __init__(self, reason: str, status: str = "refused", retcode: int | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retcode = reason, status, retcode


class OrderExecutor:
    def __init__(
        self,
        mt5: MT5Service,
        gate: Callable[[Mapping], Decision],
        store: IntentStore,
        settings: ExecutionSettings,
        *,
        clock: Callable[[], float],
        lookup: IntentLookup | None = None,
    ) -> None:
        self._mt5 = mt5
        self._gate = gate
        self._store = store
        self._settings = settings
        self._clock = clock
        self._lookup = lookup or IntentLookup(mt5, clock=clock)
        self._sender = OrderSender(mt5, store, self._lookup, settings.retries, clock=clock)
        self._lock = threading.RLock()  # one execution at a time; the terminal is serial
        self.totals: Counter[str] = self._sender.totals  # by status, and order_send calls

    # -- the public methods -----------------------------------------------------------

    def open(
        self,
        strategy: str,
        symbol: str,
        side: str,
        *,
        sl: float,
        tp: float,
        volume: float | None = None,
        price_tolerance: float | None = None,
        reason: str,
        price: float | None = None,
        magic: int = CONTROL_MAGIC,
        signal: tuple[str, datetime] | None = None,
    ) -> Outcome:
        """A market order opening a position ``side`` (buy/sell) with SL/TP (0: none).

        ``volume`` None: sized by RISK_PER_TRADE over the stop distance. ``price`` is the
        signal's price (default: the first quote); no order goes out at a price more than
        ``price_tolerance`` away from it. ``signal`` is (timeframe, bar time) of the signal.
        """
        intent = self._new("open", symbol, magic, strategy, reason, strategy=strategy)
        intent = self._linked(intent, signal)
        with self._lock:
            try:
                self._settle_earlier(strategy, symbol)
                request, reference = self._opening(intent, side, sl, tp, volume, price)
                self._within(request["price"], reference, price_tolerance)
                request = self._judged(request)
            except Refused as refusal:
                return self._refuse(intent, refusal)
            return self._sender.send(intent.but(request=request), reference, price_tolerance)

    def close(
        self,
        position_ticket: int,
        *,
        volume: float | None = None,
        reason: str,
        by: str,
        strategy: str | None = None,
        signal: tuple[str, datetime] | None = None,
    ) -> Outcome:
        """Close a position by ticket (``volume`` None: all of it) at the market. Closing is
        never refused by the risk state."""
        intent = self._new("close", "", CONTROL_MAGIC, by, reason, strategy=strategy)
        intent = self._linked(intent, signal)
        with self._lock:
            try:
                self._require_live()
                position = self._position(position_ticket)
                intent = intent.but(symbol=position["symbol"], magic=int(position["magic"]))
                request = self._judged(self._closing(intent, position, volume))
            except Refused as refusal:
                return self._refuse(intent, refusal)
            return self._sender.send(intent.but(request=request), None, None)

    def cancel(self, order_ticket: int, *, reason: str, by: str) -> Outcome:
        """Delete a pending order by ticket."""
        intent = self._new("cancel", "", CONTROL_MAGIC, by, reason)
        with self._lock:
            try:
                self._require_live()
                order = self._working_order(order_ticket)
                intent = intent.but(symbol=order["symbol"], magic=int(order["magic"]))
                request = {
                    "action": mc.TRADE_ACTION_REMOVE,
                    "order": int(order_ticket),
                    "magic": intent.magic,
                    "comment": intent.comment,
                }
                request = self._judged(request, fill=False)
            except Refused as refusal:
                return self._refuse(intent, refusal)
            return self._sender.send(intent.but(request=request), None, None)

    def modify(
        self, position_ticket: int, *, sl: float, tp: float, reason: str, by: str
    ) -> Outcome:
        """Set a position's SL and TP (0: none). While HALTED only tighter stops pass."""
        intent = self._new("modify", "", CONTROL_MAGIC, by, reason)
        with self._lock:
            try:
                self._require_live()
                position = self._position(position_ticket)
                intent = intent.but(symbol=position["symbol"], magic=int(position["magic"]))
                request = {
                    "action": mc.TRADE_ACTION_SLTP,
                    "position": int(position_ticket),
                    "symbol": position["symbol"],
                    "sl": float(sl),
                    "tp": float(tp),
                    "magic": intent.magic,
                    "comment": intent.comment,
                }
                request = self._judged(request, fill=False)
            except Refused as refusal:
                return self._refuse(intent, refusal)
            return self._sender.send(intent.but(request=request), None, None)

    def resolve_open_intents(self) -> list[Outcome]:
        """Settle every intent left ``pending`` or ``unknown`` (by a crash, a lost answer)
        by looking its order up; call at start-up before any new order. Returns what was
        settled; what the terminal cannot tell yet stays unresolved (and blocks new entries
        of its strategy and symbol). Raises TemporaryError when the terminal cannot be read.
        """
        with self._lock:
            settled = []
            for intent in self._store.unresolved():
                found = self._lookup.resolve(intent)
                if found is not None:
                    settled.append(self._sender.record(found))
                    logger.warning(
                        "Intent %s (%s %s, left %s) resolved by looking it up: %s%s",
                        intent.intent_id,
                        intent.kind,
                        intent.symbol,
                        intent.status,
                        found.status,
                        f" ({found.error})" if found.error else "",
                    )
            return [Outcome.of(intent) for intent in settled]

    def record_refusal(
        self,
        strategy: str,
        symbol: str,
        reason: str,
        *,
        magic: int = CONTROL_MAGIC,
        signal: tuple[str, datetime] | None = None,
    ) -> Outcome:
        """Journal an entry that is not made (already holding, an exit failed): refused,
        the terminal untouched."""
        intent = self._new("open", symbol, magic, strategy, reason, strategy=strategy)
        return self._refuse(self._linked(intent, signal), Refused(reason))

    def unresolved(self) -> list[OrderIntent]:
        """Intents still pending or unknown."""
        return self._store.unresolved()

    # -- preparing ----------------------------------------------------------------------

    def _new(
        self, kind: str, symbol: str, magic: int, by: str, reason: str, **fields
    ) -> OrderIntent:
        moment = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        return OrderIntent(new_intent_id(), kind, symbol, magic, by, reason, moment, **fields)

    @staticmethod
    def _linked(intent: OrderIntent, signal: tuple[str, datetime] | None) -> OrderIntent:
        if signal is None:
            return intent
        return intent.but(signal_timeframe=signal[0], signal_time=signal[1])

    def _require_live(self) -> None:
        if not self._settings.live:
            raise Refused("TRADING_MODE=safety: no order is sent")

    def _settle_earlier(self, strategy: str, symbol: str) -> None:
        """Earlier intents settled first; an unresolved one of this strategy and symbol
        stops a new entry (its order may exist)."""
        self._require_live()
        try:
            self.resolve_open_intents()
        except TemporaryError as error:
            logger.warning("Open intents could not be looked up now: %s", error)
        for earlier in self._store.unresolved():
            if earlier.strategy == strategy and earlier.symbol == symbol:
                raise Refused(
                    f"intent {earlier.intent_id} of {strategy} on {symbol} is still "
                    f"{earlier.status}: its order may exist, so no new entry until it is "
                    "resolved"
                )

    def _opening(self, intent, side, sl, tp, volume, price) -> tuple[dict, float]:
        if side not in ("buy", "sell"):
            raise Refused(f"side must be buy or sell, got {side!r}")
        try:
            info = self._account()
            spec = self._mt5.symbol_info(intent.symbol)
            entry = market_price(self._mt5.tick(intent.symbol), side == "buy")
        except BridgeError as error:
            raise Refused(f"could not prepare the order: {error}") from error
        request = {
            "action": mc.TRADE_ACTION_DEAL,
            "symbol": intent.symbol,
            "volume": 0.0,
            "type": mc.ORDER_TYPE_BUY if side == "buy" else mc.ORDER_TYPE_SELL,
            "price": entry,
            "sl": float(sl or 0.0),
            "tp": float(tp or 0.0),
            "deviation": self._settings.deviation,
            "magic": intent.magic,
            "comment": intent.comment,
            "type_time": mc.ORDER_TIME_GTC,
            "_filling": filling_modes(spec),
        }
        # The gate decides first (the state, the position limits), on the smallest volume;
        # sizing comes after, and the sized request passes the gate again.
        self._gated({**request, "volume": float(spec["volume_min"])})
        request["volume"] = float(volume or self._sized(spec, float(info["equity"]), entry, sl))
        return request, entry if price is None else float(price)

    @staticmethod
    def _within(price: float, reference: float, tolerance: float | None) -> None:
        if not within(price, reference, tolerance):
            raise Refused(
                f"the market is at {price}, more than {tolerance:g} from the signal's {reference}"
                " (beyond the price tolerance): not sent"
            )

    def _account(self) -> dict:
        info = self._mt5.account_info()
        wanted = self._settings.account
        if wanted and int(info["login"]) != wanted:
            raise Refused(
                f"the terminal is logged in to account {info['login']}, not MT5_ACCOUNT "
                f"{wanted}: no order is sent"
            )
        return info

    def _sized(self, spec: dict, equity: float, entry: float, sl: float) -> float:
        try:
            return risk_volume(
                spec, equity=equity, risk_pct=self._settings.risk_per_trade, entry=entry, stop=sl
            )
        except Unsizable as error:
            raise Refused(f"not sized: {error}") from None

    def _position(self, ticket: int) -> dict:
        try:
            positions = self._mt5.positions()
        except BridgeError as error:
            raise Refused(f"could not read the positions: {error}") from error
        found = next((p for p in positions if int(p["ticket"]) == int(ticket)), None)
        if found is None:
            raise Refused(f"position {ticket} is not open")
        return found

    def _working_order(self, ticket: int) -> dict:
        try:
            orders = self._mt5.orders()
        except BridgeError as error:
            raise Refused(f"could not read the orders: {error}") from error
        found = next((o for o in orders if int(o["ticket"]) == int(ticket)), None)
        if found is None:
            raise Refused(f"order {ticket} is not a working pending order")
        return found

    def _closing(self, intent: OrderIntent, position: dict, volume: float | None) -> dict:
        held = float(position["volume"])
        lots = held if volume is None else float(volume)
        if not 0 < lots <= held + 1e-9:
            raise Refused(f"volume {lots:g} is not between 0 and the position's {held:g}")
        selling = position["type"] == mc.POSITION_TYPE_BUY
        try:
            spec = self._mt5.symbol_info(position["symbol"])
            price = market_price(self._mt5.tick(position["symbol"]), not selling)
        except BridgeError as error:
            raise Refused(f"could not prepare the order: {error}") from error
        return {
            "action": mc.TRADE_ACTION_DEAL,
            "symbol": position["symbol"],
            "volume": lots,
            "type": mc.ORDER_TYPE_SELL if selling else mc.ORDER_TYPE_BUY,
            "position": int(position["ticket"]),
            "price": price,
            "deviation": self._settings.deviation,
            "magic": intent.magic,
            "comment": intent.comment,
            "type_time": mc.ORDER_TIME_GTC,
            "_filling": filling_modes(spec),
        }

    def _judged(self, request: dict, *, fill: bool = True) -> dict:
        """The risk gate, then ``order_check`` (each filling mode the symbol may take, in
        turn, while the check says 10030). Returns the request to send."""
        candidates = request.pop("_filling", []) if fill else []
        self._gated(request)
        for filling in candidates or [None]:
            if filling is not None:
                request["type_filling"] = filling
            code, comment = self._check(request)
            if code in CHECK_PASSED:
                return request
            if code != mc.TRADE_RETCODE_INVALID_FILL:
                break
        raise Refused(f"order_check refused it: {code} {comment}", "rejected", code)

    def _gated(self, request: dict) -> None:
        decision = self._gate({k: v for k, v in request.items() if not k.startswith("_")})
        if not decision:
            raise Refused(f"risk gate: {decision.reason}")

    def _check(self, request: dict) -> tuple[int, str]:
        try:
            check = self._mt5.order_check(request)
        except BridgeError as error:
            raise Refused(f"order_check failed: {error}") from error
        return int(check["retcode"]), str(check.get("comment", ""))

    def _refuse(self, intent: OrderIntent, refusal: Refused) -> Outcome:
        refused = intent.but(status=refusal.status, retcode=refusal.retcode, error=refusal.reason)
        return self._sender.finish(refused)
