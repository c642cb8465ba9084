"""What the Positions and orders panel reads: open positions, pending orders, the last deals,
signals and order intents. MT5's numeric types are named here, so the page only shows text."""

from __future__ import annotations

RECENT = 20
# ORDER_STATE_*: started, placed, partial, request add/modify/cancel are still pending.
PENDING_STATES = (0, 1, 3, 7, 8, 9)
ORDER_TYPES = {
    0: "buy",
    1: "sell",
    2: "buy limit",
    3: "sell limit",
    4: "buy stop",
    5: "sell stop",
    6: "buy stop limit",
    7: "sell stop limit",
    8: "close by",
}
DEAL_TYPES = {0: "buy", 1: "sell", 2: "balance", 3: "credit", 4: "charge", 5: "correction"}
DEAL_ENTRIES = {0: "in", 1: "out", 2: "in/out", 3: "out by"}


def positions(db, account: int) -> list[dict]:
    rows = db.rows(
        "SELECT ticket, symbol, type, volume, price_open, price_current, sl, tp, swap, profit,"
        " magic, comment, time FROM positions WHERE account = %s AND closed_at IS NULL"
        " ORDER BY time, ticket",
        (account,),
    )
    return _named(rows, "type", ORDER_TYPES)


def pending_orders(db, account: int) -> list[dict]:
    rows = db.rows(
        "SELECT ticket, symbol, type, volume_current AS volume, price_open, sl, tp, magic,"
        " time_setup, time_expiration FROM orders WHERE account = %s AND state IN %s"
        " ORDER BY time_setup, ticket",
        (account, PENDING_STATES),
    )
    return _named(rows, "type", ORDER_TYPES)


def recent_deals(db, account: int, limit: int = RECENT) -> list[dict]:
    rows = db.rows(
        "SELECT ticket, time, symbol, type, entry, volume, price, profit, commission, swap, fee,"
        " magic, position_id FROM deals WHERE account = %s ORDER BY time DESC, ticket DESC"
        " LIMIT %s",
        (account, limit),
    )
    return _named(_named(rows, "type", DEAL_TYPES), "entry", DEAL_ENTRIES)


def recent_signals(db, account: int, limit: int = RECENT) -> list[dict]:
    return db.rows(
        "SELECT time, strategy, symbol, timeframe, side, price, sl, tp, mode, reason FROM signals"
        " WHERE account = %s ORDER BY time DESC LIMIT %s",
        (account, limit),
    )


def recent_intents(db, account: int, limit: int = RECENT) -> list[dict]:
    rows = db.rows(
        "SELECT created_at, intent_id, strategy, symbol, type, volume, price, status, retcode,"
        " error FROM order_intents WHERE account = %s ORDER BY created_at DESC LIMIT %s",
        (account, limit),
    )
    return _named(rows, "type", ORDER_TYPES)


def _named(rows: list[dict], column: str, names: dict[int, str]) -> list[dict]:
    for row in rows:
        value = row[column]
        row[column] = names.get(value, str(value)) if value is not None else None
    return rows
