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
5. reads the answer: 10009/10008 filled/placed with the tickets; 10004/10020/10021 (the
   order was *not* executed) sent again with a fresh price, at most ``ORDER_RETRIES``
   times and never beyond the price tolerance, each attempt journalled first; any other
   retcode ``rejected``; no answer (None, an IPC timeout, a lost connection) ``unknown``,
   then resolved by looking the order up (:mod:`intent_lookup`), never by sending again.

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
from bridge_v3.exceptions import (
    BridgeError,
    DependencyError,
    FatalError,
    TemporaryError,
    TerminalDisconnectedError,
    TerminalOutcomeUnknownError,
)
from bridge_v3.models.intent import OrderIntent, Outcome, new_intent_id
from bridge_v3.models.risk import Decision
from bridge_v3.services.intent_store import IntentStore
from bridge_v3.services.mt5 import errors as mt5_errors
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service

logger = logging.getLogger(__name__)

CONTROL_MAGIC = 700_000  # orders a person asked for, with no strategy of their own
DONE = {mc.TRADE_RETCODE_DONE: "filled", mc.TRADE_RETCODE_DONE_PARTIAL: "filled"}
DONE[mc.TRADE_RETCODE_PLACED] = "placed"
RESEND = frozenset(
    {mc.TRADE_RETCODE_REQUOTE, mc.TRADE_RETCODE_PRICE_CHANGED, mc.TRADE_RETCODE_PRICE_OFF}
)
CHECK_PASSED = (0, mc.TRADE_RETCODE_DONE)
# None from order_send with these codes: refused inside the terminal, nothing left it.
LOCAL_REFUSALS = frozenset({-2, mt5_errors.API_DISABLED_CODE})


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
        self._lock = threading.RLock()  # one execution at a time; the terminal is serial
        self.totals: Counter[str] = Counter()  # outcomes by status, and order_send calls

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
            return self._send(intent.but(request=request), reference, price_tolerance)

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
            return self._send(intent.but(request=request), None, None)

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
            return self._send(intent.but(request=request), None, None)

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
            return self._send(intent.but(request=request), None, None)

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
                    settled.append(self._record(found))
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

    # -- sending ------------------------------------------------------------------------

    def _send(self, intent: OrderIntent, reference: float | None, tolerance) -> Outcome:
        request = intent.request
        for attempt in range(1, self._settings.retries + 2):
            intent = self._record(intent.but(status="pending", attempts=attempt, request=request))
            self.totals["sent"] += 1
            try:
                result = self._mt5.order_send(request)
            except (TerminalOutcomeUnknownError, TerminalDisconnectedError) as error:
                return self._lost(intent, error)
            except (FatalError, DependencyError) as error:  # -8 API disabled, -2 bad field
                return self._finish(intent.but(status="rejected", error=str(error)))
            except BridgeError as error:
                if getattr(error, "code", None) in LOCAL_REFUSALS:
                    return self._finish(intent.but(status="rejected", error=str(error)))
                return self._lost(intent, error)
            retcode = int(result["retcode"])
            if retcode in DONE:
                return self._finish(self._done(intent, result, retcode))
            fresh = self._resend_price(intent, retcode, attempt, reference, tolerance)
            if fresh is None:
                return self._finish(self._rejected(intent, result, retcode))
            request = {**request, "price": fresh}
        raise AssertionError("unreachable: the last attempt always returns")

    def _resend_price(self, intent, retcode, attempt, reference, tolerance) -> float | None:
        """A fresh price to send again at, or None (not a resend case, no attempts left, or
        the market moved beyond the tolerance)."""
        if retcode not in RESEND or attempt > self._settings.retries:
            return None
        if intent.request.get("action") != mc.TRADE_ACTION_DEAL:
            return None
        buying = intent.request["type"] == mc.ORDER_TYPE_BUY
        try:
            fresh = market_price(self._mt5.tick(intent.symbol), buying)
        except BridgeError:
            return None
        if not within(fresh, reference, tolerance):
            logger.info(
                "Intent %s: %s moved to %s, beyond the tolerance around %s: not sent again",
                intent.intent_id,
                intent.symbol,
                fresh,
                reference,
            )
            return None
        return fresh

    def _done(self, intent: OrderIntent, result: dict, retcode: int) -> OrderIntent:
        kind = intent.kind
        status = DONE[retcode] if kind in ("open", "close") else "done"
        order, deal = int(result.get("order") or 0) or None, int(result.get("deal") or 0) or None
        position = intent.request.get("position") or None
        if kind == "open" and order is not None:
            position = self._position_of(order) or position
        return intent.but(
            status=status,
            retcode=retcode,
            order_ticket=order,
            deal_ticket=deal,
            position_ticket=position,
            result=_plain(result),
            error=None,
        )

    def _position_of(self, order: int) -> int | None:
        try:
            deals = self._mt5.order_deals(order)
        except BridgeError:
            return None  # the trades sync mirrors the position anyway
        return int(deals[0]["position_id"]) if deals else None

    @staticmethod
    def _rejected(intent: OrderIntent, result: dict, retcode: int) -> OrderIntent:
        comment = result.get("comment") or ""
        return intent.but(
            status="rejected",
            retcode=retcode,
            result=_plain(result),
            error=f"the terminal answered {retcode} {comment}".strip(),
        )

    def _lost(self, intent: OrderIntent, error: Exception) -> Outcome:
        """No answer: the order may exist. Recorded as unknown, then looked up now; if the
        terminal cannot tell yet, resolved later (before any new entry of this strategy and
        symbol), never by sending again."""
        intent = self._record(intent.but(status="unknown", error=f"no answer: {error}"))
        self.totals["unknown"] += 1
        logger.warning(
            "Intent %s (%s %s): order_send gave no answer (%s); the order may exist: looking "
            "it up, it is not sent again",
            intent.intent_id,
            intent.kind,
            intent.symbol,
            error,
        )
        try:
            found = self._lookup.resolve(intent)
        except TemporaryError as lookup_error:
            logger.info("Intent %s stays unknown for now: %s", intent.intent_id, lookup_error)
            found = None
        return Outcome.of(self._record(found) if found is not None else intent)

    # -- recording -----------------------------------------------------------------------

    def _refuse(self, intent: OrderIntent, refusal: Refused) -> Outcome:
        refused = intent.but(status=refusal.status, retcode=refusal.retcode, error=refusal.reason)
        return self._finish(refused)

    def _finish(self, intent: OrderIntent) -> Outcome:
        self._record(intent)
        self.totals[intent.status] += 1
        level = logging.INFO if intent.status in ("filled", "placed", "done") else logging.WARNING
        if intent.status == "refused":
            level = logging.INFO
        logger.log(
            level,
            "Intent %s (%s %s for %s): %s%s",
            intent.intent_id,
            intent.kind,
            intent.symbol or "?",
            intent.requested_by,
            intent.status,
            f" - {intent.error}" if intent.error else "",
        )
        return Outcome.of(intent)

    def _record(self, intent: OrderIntent) -> OrderIntent:
        """Committed when this returns."""
        self._store.save(intent, datetime.fromtimestamp(self._clock(), tz=timezone.utc))
        return intent


def _plain(result: Mapping) -> dict:
    """The answer as JSON-ready values (its request echo dropped: the row has it)."""
    return {k: v for k, v in result.items() if k != "request"}
