"""Lifting the risk latch by a person, in the caller's transaction (``--risk-reset``, the
remote ``resume`` command).

The state becomes ACTIVE, recorded with who lifted it; the halt's events are acknowledged;
a ``reset`` event is added. ``rebase_pending`` tells the running bridge's next risk check
to publish the change and to count the day's loss from the equity at that moment.
"""

from __future__ import annotations

from datetime import datetime

from bridge_v3.models.risk import RiskState
from bridge_v3.models.trade import iso
from bridge_v3.services import bridge_state
from bridge_v3.services.risk_events import RiskEvent, insert_event
from bridge_v3.services.risk_store import STATE_KEY


def lift_halt(cursor, account: int, by: str, now: datetime) -> tuple[dict | None, str]:
    """(the state written, or None when there was no halt to lift; the state found)."""
    value = bridge_state.read(cursor, account, STATE_KEY, for_update=True)
    found = value.get("state") if value else "not recorded"
    if value is None or found != RiskState.HALTED.value:
        return None, found
    reason = f"halt lifted by {by}"
    lifted = {
        **value,
        "state": RiskState.ACTIVE.value,
        "previous": RiskState.HALTED.value,
        "reason": reason,
        "since": iso(now),
        "reset_by": by,
        "reset_at": iso(now),
        "rebase_pending": True,
    }
    bridge_state.write(cursor, account, STATE_KEY, lifted)
    cursor.execute(
        "UPDATE risk_events SET acknowledged_by = %s, acknowledged_at = %s WHERE account = %s"
        " AND kind = 'state_change' AND state = 'HALTED' AND acknowledged_by IS NULL",
        (by, now, account),
    )
    details = {k: value.get(k) for k in ("since", "reason", "daily_loss_pct", "equity")}
    insert_event(
        cursor, account, RiskEvent("reset", now, RiskState.ACTIVE.value, reason, details, by)
    )
    return lifted, found
