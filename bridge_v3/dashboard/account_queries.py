"""What the Account and Risk panels read: accounts, equity curves, the risk latch.

The risk state is the one the bridge's risk controller keeps in ``bridge_state``
(key ``risk_state``), with its recent ``risk_events``.
"""

from __future__ import annotations

DAYS = 30


def accounts(db) -> list[int]:
    """Accounts with stored bars or durable state, in order."""
    found = db.rows(
        "SELECT account FROM bar_watermarks UNION SELECT account FROM bridge_state ORDER BY 1"
    )
    return [row["account"] for row in found]


def equity_today(db, account: int, now: float) -> list[dict]:
    """Every account snapshot of the UTC day of ``now`` (Unix seconds) up to it: time (Unix
    seconds), balance, equity."""
    return db.rows(
        "SELECT EXTRACT(EPOCH FROM time)::float8 AS time, balance, equity FROM account_snapshots"
        " WHERE account = %s"
        " AND time >= date_trunc('day', to_timestamp(%s) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        " AND time <= to_timestamp(%s) ORDER BY time",
        (account, now, now),
    )


def equity_days(db, account: int, now: float, days: int = DAYS) -> list[dict]:
    """The last snapshot of each hour over the ``days`` days up to ``now`` (a few hundred
    points)."""
    return db.rows(
        "SELECT EXTRACT(EPOCH FROM date_trunc('hour', time))::float8 AS time,"
        " (array_agg(balance ORDER BY time DESC))[1] AS balance,"
        " (array_agg(equity ORDER BY time DESC))[1] AS equity"
        " FROM account_snapshots WHERE account = %s"
        " AND time > to_timestamp(%s) - make_interval(days => %s) AND time <= to_timestamp(%s)"
        " GROUP BY 1 ORDER BY 1",
        (account, now, days, now),
    )


def risk(db, account: int) -> dict:
    """The persisted risk state (None before the first check) and the last risk events."""
    state = db.rows(
        "SELECT value, updated_at FROM bridge_state WHERE account = %s AND key = 'risk_state'",
        (account,),
    )
    events = db.rows(
        "SELECT time, kind, state, reason, acknowledged_by FROM risk_events"
        " WHERE account = %s ORDER BY id DESC LIMIT 5",
        (account,),
    )
    return {"state": state[0]["value"] if state else None, "events": events}
