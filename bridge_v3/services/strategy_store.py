"""What strategies read and write in PostgreSQL: the closed bars of a series, and signals.

A signal is keyed by (account, strategy, symbol, timeframe, bar time): storing it again,
as a replayed bar would, inserts nothing, and only a newly inserted signal is announced
or acted on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bridge_v3.services.database_service import DatabaseService

if TYPE_CHECKING:  # pandas is loaded only when a strategy runs: it costs tens of MB
    import pandas as pd

BAR_FIELDS = ("open", "high", "low", "close", "tick_volume")


@dataclass(frozen=True)
class SignalRow:
    strategy: str
    symbol: str
    timeframe: str
    time: datetime
    side: str
    price: float
    sl: float
    tp: float
    strength: float
    reason: str
    mode: str
    payload: dict


class StrategyStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    def bars(self, symbol: str, timeframe: str, until: int, count: int) -> pd.DataFrame:
        """The newest ``count`` closed bars with open time at or before ``until`` (UTC
        seconds), oldest first, indexed by their UTC open time."""
        rows = self._database.fetch_all(
            "SELECT time, open, high, low, close, tick_volume FROM bars"
            " WHERE account = %s AND symbol = %s AND timeframe = %s"
            " AND time <= to_timestamp(%s) ORDER BY time DESC LIMIT %s",
            (self._account, symbol, timeframe, int(until), int(count)),
        )
        import pandas as pd

        rows.reverse()
        frame = pd.DataFrame(rows, columns=("time", *BAR_FIELDS))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame.set_index("time").astype(float)

    def transaction(self):
        return self._database.connection()

    def insert_signals(self, conn, signals: list[SignalRow]) -> list[SignalRow]:
        """Insert in the caller's transaction; returns those that were new."""
        new = []
        with conn.cursor() as cursor:
            for row in signals:
                cursor.execute(
                    "INSERT INTO signals (account, strategy, symbol, timeframe, time, side,"
                    " price, sl, tp, strength, reason, mode, payload, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
                    " ON CONFLICT (account, strategy, symbol, timeframe, time) DO NOTHING"
                    " RETURNING 1",
                    (
                        self._account,
                        row.strategy,
                        row.symbol,
                        row.timeframe,
                        row.time,
                        row.side,
                        row.price,
                        row.sl,
                        row.tp,
                        row.strength,
                        row.reason,
                        row.mode,
                        json.dumps(row.payload),
                    ),
                )
                if cursor.fetchone() is not None:
                    new.append(row)
        return new
