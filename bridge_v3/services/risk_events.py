"""``risk_events``: the audit trail of risk state changes, resets and reconciliations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RiskEvent:
    """One row: ``kind`` is ``state_change``, ``reset`` or ``reconciliation``."""

    kind: str
    time: datetime
    state: str | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)
    acknowledged_by: str | None = None


def insert_event(cursor, account: int, event: RiskEvent) -> None:
    """Add ``event`` in the caller's transaction."""
    acknowledged_at = event.time if event.acknowledged_by else None
    cursor.execute(
        "INSERT INTO risk_events"
        " (account, time, kind, state, reason, details, acknowledged_by, acknowledged_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            account,
            event.time,
            event.kind,
            event.state,
            event.reason,
            json.dumps(event.details, default=str),
            event.acknowledged_by,
            acknowledged_at,
        ),
    )
