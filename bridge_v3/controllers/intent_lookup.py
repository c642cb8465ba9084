"""Resolving an intent whose answer was lost, by looking its order up on the terminal.

A send that timed out, or a bridge killed between journalling and sending, leaves an
intent ``pending`` or ``unknown``. Its order, if it exists, carries the intent's comment
(and the strategy's magic number): the finished orders and deals around the intent's time,
the working orders and the open positions are searched for it. What is found settles the
intent (``filled``, ``placed``, ``done``). When nothing is found the order may still be on
its way, so the intent stays unresolved until ``grace`` seconds after it was journalled;
then it is ``failed`` (never executed). It is never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge_v3.models.intent import OrderIntent
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service

logger = logging.getLogger(__name__)

WINDOW = 3_600  # seconds of history searched either side of the intent's time
GRACE = 60.0  # seconds after which an order that is nowhere is taken as never executed


class IntentLookup:
    def __init__(
        self, mt5: MT5Service, *, clock: Callable[[], float], grace: float = GRACE
    ) -> None:
        self._mt5 = mt5
        self._clock = clock
        self._grace = grace

    def resolve(self, intent: OrderIntent) -> OrderIntent | None:
        """The intent settled by what the terminal shows, or None while it cannot tell yet.
        Raises TemporaryError when the terminal cannot be read."""
        if intent.kind == "modify":
            found = self._modified(intent)
        elif intent.kind == "cancel":
            found = self._cancelled(intent)
        else:
            found = self._dealt(intent)
        if found is not None:
            return found
        if self._clock() - intent.created_at.timestamp() < self._grace:
            return None
        return intent.but(
            status="failed",
            error=f"not found on the terminal {self._grace:g} s after it was journalled: "
            "it was never executed",
        )

    # -- market orders (open, close) -----------------------------------------------------

    def _dealt(self, intent: OrderIntent) -> OrderIntent | None:
        start = intent.created_at.timestamp() - WINDOW
        end = self._clock() + WINDOW
        for order in self._mt5.history_orders(start, end):
            if self._ours(intent, order):
                return self._from_order(intent, int(order["ticket"]))
        for order in self._mt5.orders():
            if self._ours(intent, order):
                return intent.but(status="placed", order_ticket=int(order["ticket"]), error=None)
        for position in self._mt5.positions():
            if self._ours(intent, position):
                return intent.but(
                    status="filled", position_ticket=int(position["ticket"]), error=None
                )
        return None

    def _from_order(self, intent: OrderIntent, ticket: int) -> OrderIntent:
        deals = self._mt5.order_deals(ticket)
        if not deals:
            return intent.but(
                status="failed", order_ticket=ticket, error="the order ended without a deal"
            )
        deal = deals[0]
        return intent.but(
            status="filled",
            order_ticket=ticket,
            deal_ticket=int(deal["ticket"]),
            position_ticket=int(deal["position_id"]) or None,
            error=None,
        )

    @staticmethod
    def _ours(intent: OrderIntent, record: dict) -> bool:
        return record.get("comment") == intent.comment and int(record.get("magic", 0)) == (
            intent.magic
        )

    # -- stops and cancels -----------------------------------------------------------------

    def _modified(self, intent: OrderIntent) -> OrderIntent | None:
        ticket = int(intent.request.get("position", 0))
        position = next((p for p in self._mt5.positions() if int(p["ticket"]) == ticket), None)
        if position is None:
            return intent.but(status="failed", error=f"position {ticket} is no longer open")
        wanted = (float(intent.request.get("sl", 0.0)), float(intent.request.get("tp", 0.0)))
        if (float(position["sl"]), float(position["tp"])) == wanted:
            return intent.but(status="done", position_ticket=ticket, error=None)
        return None

    def _cancelled(self, intent: OrderIntent) -> OrderIntent | None:
        ticket = int(intent.request.get("order", 0))
        if any(int(o["ticket"]) == ticket for o in self._mt5.orders()):
            return None
        finished = self._mt5.history_order(ticket)
        if finished is not None and finished.get("state") == mc.ORDER_STATE_CANCELED:
            return intent.but(status="done", order_ticket=ticket, error=None)
        state = finished.get("state") if finished else "unknown"
        return intent.but(
            status="failed", order_ticket=ticket, error=f"order {ticket} ended otherwise ({state})"
        )
