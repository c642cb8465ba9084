"""Order intents: one journalled request to the terminal, and what came of it.

An intent is written (committed) before ``order_send``, with a short unique id that the
order's comment carries, so that a send whose answer was lost is resolved by looking the
order up, never by sending it again.

Statuses: ``pending`` (journalled, being sent), ``unknown`` (sent, answer lost: looked up
later), ``filled`` (a deal was made), ``placed`` (a pending order is working), ``done``
(a cancel or an SL/TP change took effect), ``rejected`` (the terminal or the trade server
refused; ``retcode`` says why), ``refused`` (never sent: safety mode, the risk gate, sizing,
a failed check of the request), ``failed`` (an unknown one that the terminal never executed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

UNRESOLVED = ("pending", "unknown")
SUCCEEDED = ("filled", "placed", "done")
COMMENT_PREFIX = "b3:"


def new_intent_id() -> str:
    """12 lower-case hex characters: unique enough per account, short enough for a comment."""
    return secrets.token_hex(6)


@dataclass(frozen=True)
class OrderIntent:
    """One row of ``order_intents``. ``request`` is the dict given to ``order_send``."""

    intent_id: str
    kind: str  # open, close, cancel, modify
    symbol: str
    magic: int
    requested_by: str
    reason: str
    created_at: datetime
    strategy: str | None = None
    request: dict = field(default_factory=dict)
    status: str = "pending"
    attempts: int = 0
    retcode: int | None = None
    order_ticket: int | None = None
    deal_ticket: int | None = None
    position_ticket: int | None = None
    error: str | None = None
    result: dict | None = None
    signal_timeframe: str | None = None
    signal_time: datetime | None = None

    @property
    def comment(self) -> str:
        """What the order's comment carries: at most 15 ASCII characters."""
        return COMMENT_PREFIX + self.intent_id

    def but(self, **changes) -> OrderIntent:
        return replace(self, **changes)


@dataclass(frozen=True)
class Outcome:
    """What an executor call came to (also the reply to a control command)."""

    intent_id: str
    status: str
    reason: str
    retcode: int | None = None
    order: int | None = None
    deal: int | None = None
    position: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in SUCCEEDED

    @classmethod
    def of(cls, intent: OrderIntent) -> Outcome:
        reason = intent.error or intent.reason
        return cls(
            intent.intent_id,
            intent.status,
            reason,
            intent.retcode,
            intent.order_ticket,
            intent.deal_ticket,
            intent.position_ticket,
        )

    def as_dict(self) -> dict:
        return {
            "intent_id": self.intent_id,
            "status": self.status,
            "reason": self.reason,
            "retcode": self.retcode,
            "tickets": {"order": self.order, "deal": self.deal, "position": self.position},
        }
