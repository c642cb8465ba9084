"""Sending one journalled order and settling its intent from the answer.

``order_send`` is called once per attempt, at HIGH priority, after the attempt is
journalled. 10009/10008 settle the intent filled/placed with its tickets; 10004/10020/10021
(the order was *not* executed) are sent again with a fresh price, at most ``ORDER_RETRIES``
times and never beyond the price tolerance; any other retcode is ``rejected``; no answer
(None, an IPC timeout, a lost connection) is ``unknown``, then resolved by looking the order
up (:mod:`intent_lookup`), never by sending again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from bridge_v3.controllers.intent_lookup import IntentLookup
from bridge_v3.controllers.order_requests import market_price, within
from bridge_v3.exceptions import (
    BridgeError,
    DependencyError,
    FatalError,
    TemporaryError,
    TerminalDisconnectedError,
    TerminalOutcomeUnknownError,
)
from bridge_v3.models.intent import OrderIntent, Outcome
from bridge_v3.services.intent_store import IntentStore
from bridge_v3.services.mt5 import errors as mt5_errors
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service

logger = logging.getLogger(__name__)

DONE = {mc.TRADE_RETCODE_DONE: "filled", mc.TRADE_RETCODE_DONE_PARTIAL: "filled"}
DONE[mc.TRADE_RETCODE_PLACED] = "placed"
RESEND = frozenset(
    {mc.TRADE_RETCODE_REQUOTE, mc.TRADE_RETCODE_PRICE_CHANGED, mc.TRADE_RETCODE_PRICE_OFF}
)
# None from order_send with these codes: refused inside the terminal, nothing left it.
LOCAL_REFUSALS = frozenset({-2, mt5_errors.API_DISABLED_CODE})


class OrderSender:
    def __init__(
        self,
        mt5: MT5Service,
        store: IntentStore,
        lookup: IntentLookup,
        retries: int,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._mt5 = mt5
        self._store = store
        self._lookup = lookup
        self._retries = retries
        self._clock = clock
        self.totals: Counter[str] = Counter()  # outcomes by status, and order_send calls

    def send(self, intent: OrderIntent, reference: float | None, tolerance) -> Outcome:
        """Journal, send once, read the answer (see the module docstring); each resend
        journalled first."""
        request = intent.request
        for attempt in range(1, self._retries + 2):
            intent = self.record(intent.but(status="pending", attempts=attempt, request=request))
            self.totals["sent"] += 1
            try:
                result = self._mt5.order_send(request)
            except (TerminalOutcomeUnknownError, TerminalDisconnectedError) as error:
                return self._lost(intent, error)
            except (FatalError, DependencyError) as error:  # -8 API disabled, -2 bad field
                return self.finish(intent.but(status="rejected", error=str(error)))
            except BridgeError as error:
                if getattr(error, "code", None) in LOCAL_REFUSALS:
                    return self.finish(intent.but(status="rejected", error=str(error)))
                return self._lost(intent, error)
            retcode = int(result["retcode"])
            if retcode in DONE:
                return self.finish(self._done(intent, result, retcode))
            fresh = self._resend_price(intent, retcode, attempt, reference, tolerance)
            if fresh is None:
                return self.finish(self._rejected(intent, result, retcode))
            request = {**request, "price": fresh}
        raise AssertionError("unreachable: the last attempt always returns")

    def _resend_price(self, intent, retcode, attempt, reference, tolerance) -> float | None:
        """A fresh price to send again at, or None (not a resend case, no attempts left, or
        the market moved beyond the tolerance)."""
        if retcode not in RESEND or attempt > self._retries:
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
        intent = self.record(intent.but(status="unknown", error=f"no answer: {error}"))
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
        return Outcome.of(self.record(found) if found is not None else intent)

    def finish(self, intent: OrderIntent) -> Outcome:
        """Record a settled intent, count it and log it once."""
        self.record(intent)
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

    def record(self, intent: OrderIntent) -> OrderIntent:
        """Committed when this returns."""
        self._store.save(intent, datetime.fromtimestamp(self._clock(), tz=timezone.utc))
        return intent


def _plain(result: Mapping) -> dict:
    """The answer as JSON-ready values (its request echo dropped: the row has it)."""
    return {k: v for k, v in result.items() if k != "request"}
