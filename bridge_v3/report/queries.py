"""What the daily report reads: rows of the analytics views for one account and day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

STAT_COLUMNS = (
    "trades",
    "won",
    "lost",
    "win_rate",
    "net_profit",
    "gross_profit",
    "gross_loss",
    "profit_factor",
    "avg_win",
    "avg_loss",
    "expectancy",
    "max_drawdown",
    "commission",
    "swap",
)
TRADE_COLUMNS = (
    "position_id",
    "magic",
    "symbol",
    "side",
    "volume",
    "opened_at",
    "closed_at",
    "commission",
    "swap",
    "net_profit",
)


@dataclass(frozen=True)
class DayReport:
    account: int
    day: date
    summary: dict | None  # trade_stats 'day' row; None when no trade closed that day
    strategies: list[dict]  # trade_stats 'strategy_day' rows
    symbols: list[dict]  # trade_stats 'symbol_day' rows
    trades: list[dict]  # trades closed that day, in closing order
    equity: list[tuple[datetime, float, float]]  # (time, balance, equity) that day
    daily: list[dict]  # daily_pnl rows of the days up to this one
    day_row: dict | None  # this day's daily_pnl row


def resolve_account(conn, account: int | None) -> int:
    """``account``, or the only account with deals or snapshots; ValueError naming --account."""
    if account is not None:
        return account
    found = _rows(conn, "SELECT account FROM deals UNION SELECT account FROM account_snapshots")
    accounts = sorted(row["account"] for row in found)
    if len(accounts) != 1:
        listed = ", ".join(map(str, accounts)) or "none"
        raise ValueError(f"--account: choose one of the accounts in the database ({listed})")
    return accounts[0]


def load_day_report(
    conn, day: date, account: int | None = None, history_days: int = 30
) -> DayReport:
    account = resolve_account(conn, account)
    stats = "SELECT * FROM trade_stats WHERE account = %s AND day = %s AND level = %s"
    summary = _rows(conn, stats, (account, day, "day"))
    daily = _rows(
        conn,
        "SELECT * FROM daily_pnl WHERE account = %s AND day > %s AND day <= %s ORDER BY day",
        (account, day - timedelta(days=history_days), day),
    )
    return DayReport(
        account=account,
        day=day,
        summary=summary[0] if summary else None,
        strategies=_rows(conn, stats + " ORDER BY magic", (account, day, "strategy_day")),
        symbols=_rows(conn, stats + " ORDER BY symbol", (account, day, "symbol_day")),
        trades=_rows(
            conn,
            "SELECT * FROM trades WHERE account = %s AND day = %s ORDER BY closed_at, position_id",
            (account, day),
        ),
        equity=_equity(conn, account, day),
        daily=daily,
        day_row=next((row for row in daily if row["day"] == day), None),
    )


def _equity(conn, account: int, day: date) -> list[tuple[datetime, float, float]]:
    rows = _rows(
        conn,
        "SELECT time, balance, equity FROM equity_curve WHERE account = %s"
        " AND (time AT TIME ZONE 'UTC')::date = %s ORDER BY time",
        (account, day),
    )
    return [(row["time"], row["balance"], row["equity"]) for row in rows]


def _rows(conn, sql: str, params: tuple = ()) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [column.name for column in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
