"""What the Market and Data quality panels read: bars, our fills and signals, series health.

Times leave as Unix seconds (UTC), the unit the chart library takes; a "day" is the UTC day.
"""

from __future__ import annotations

from bisect import bisect_right

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.dashboard.trading_queries import DEAL_ENTRIES

BAR_LIMIT = 300
_DEAL_BUY, _DEAL_SELL = 0, 1


def series(db, account: int) -> list[dict]:
    """Every (symbol, timeframe) the bridge stores bars for, from its watermarks."""
    return db.rows(
        "SELECT symbol, timeframe FROM bar_watermarks WHERE account = %s ORDER BY symbol,"
        " timeframe",
        (account,),
    )


def bars(db, account: int, symbol: str, timeframe: str, limit: int = BAR_LIMIT) -> list[dict]:
    """The newest ``limit`` closed bars of one series, oldest first."""
    rows = db.rows(
        "SELECT EXTRACT(EPOCH FROM time)::bigint AS time, open, high, low, close FROM bars"
        " WHERE account = %s AND symbol = %s AND timeframe = %s ORDER BY time DESC LIMIT %s",
        (account, symbol, timeframe, limit),
    )
    rows.reverse()
    return rows


def markers(db, account: int, symbol: str, timeframe: str, since: float) -> list[dict]:
    """Our fills (buy and sell deals) and the strategies' signals on ``symbol`` from
    ``since`` (Unix seconds), oldest first; ``kind`` is ``fill`` or ``signal``."""
    fills = db.rows(
        "SELECT 'fill' AS kind, ticket, EXTRACT(EPOCH FROM time)::float8 AS time, type, entry,"
        " volume, price FROM deals WHERE account = %s AND symbol = %s AND type IN (%s, %s)"
        " AND time >= to_timestamp(%s) ORDER BY time LIMIT 500",
        (account, symbol, _DEAL_BUY, _DEAL_SELL, since),
    )
    signals = db.rows(
        "SELECT 'signal' AS kind, strategy, EXTRACT(EPOCH FROM time)::float8 AS time, side,"
        " price, mode FROM signals WHERE account = %s AND symbol = %s AND timeframe = %s"
        " AND time >= to_timestamp(%s) ORDER BY time LIMIT 500",
        (account, symbol, timeframe, since),
    )
    for fill in fills:
        fill["side"] = "buy" if fill.pop("type") == _DEAL_BUY else "sell"
        fill["entry"] = DEAL_ENTRIES.get(fill["entry"], str(fill["entry"]))
    return sorted(fills + signals, key=lambda marker: marker["time"])


def on_bars(found: list[dict], bar_times: list[int]) -> list[dict]:
    """Markers moved to the open time of the bar they fall in (the chart pins a marker to a
    bar); those before the first bar are left out."""
    placed = []
    for marker in found:
        index = bisect_right(bar_times, marker["time"]) - 1
        if index >= 0:
            placed.append({**marker, "bar_time": bar_times[index]})
    return placed


def quality(db, account: int, now: float) -> list[dict]:
    """Per series: the last stored closed bar, how far it is behind ``now`` (seconds past
    the bar's close) and the bars quarantined since midnight (UTC) of ``now``'s day."""
    rows = db.rows(
        "SELECT w.symbol, w.timeframe, EXTRACT(EPOCH FROM w.last_time)::bigint AS last_time,"
        " (SELECT count(*) FROM bar_quarantine q WHERE q.account = w.account"
        "  AND q.symbol = w.symbol AND q.timeframe = w.timeframe"
        "  AND q.seen_at >= date_trunc('day', to_timestamp(%s) AT TIME ZONE 'UTC')"
        "  AT TIME ZONE 'UTC') AS quarantined_today"
        " FROM bar_watermarks w WHERE w.account = %s ORDER BY w.symbol, w.timeframe",
        (now, account),
    )
    for row in rows:
        length = TIMEFRAMES[row["timeframe"]].seconds if row["timeframe"] in TIMEFRAMES else 0
        row["seconds"] = length
        row["lag_seconds"] = max(0, round(now - row["last_time"] - length)) if length else None
    return rows
