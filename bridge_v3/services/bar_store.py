"""Bars in PostgreSQL: idempotent batch writes, per-series watermarks and the quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

import numpy as np

from bridge_v3.services.database_service import DatabaseService

BAR_COLUMNS = (
    "account",
    "symbol",
    "timeframe",
    "time",
    "open",
    "high",
    "low",
    "close",
    "tick_volume",
    "spread",
    "real_volume",
)
BAR_KEY = ("account", "symbol", "timeframe", "time")
BAR_VALUES = BAR_COLUMNS[4:]


def utc_iso(seconds: np.ndarray) -> np.ndarray:
    """UTC epoch seconds -> ISO-8601 strings ending in Z (vectorised)."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC")


class BarStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    def watermarks(self) -> dict[tuple[str, str], int]:
        """Last stored closed bar per (symbol, timeframe), as UTC epoch seconds."""
        rows = self._database.fetch_all(
            "SELECT symbol, timeframe, EXTRACT(EPOCH FROM last_time)::bigint"
            " FROM bar_watermarks WHERE account = %s",
            (self._account,),
        )
        return {(symbol, timeframe): int(last) for symbol, timeframe, last in rows}

    def save(self, symbol: str, timeframe: str, rates: np.ndarray) -> int:
        """Upsert closed bars (``time`` in UTC seconds); returns rows inserted or changed."""
        if not len(rates):
            return 0
        rows = self._rows(symbol, timeframe, rates)
        return self._database.upsert("bars", BAR_COLUMNS, rows, key=BAR_KEY, update=BAR_VALUES)

    def advance_watermark(self, symbol: str, timeframe: str, last_time: int) -> None:
        """Move the watermark forward (never back) to ``last_time`` (UTC seconds)."""
        self._database.execute(
            "INSERT INTO bar_watermarks (account, symbol, timeframe, last_time, updated_at)"
            " VALUES (%s, %s, %s, to_timestamp(%s), now())"
            " ON CONFLICT (account, symbol, timeframe) DO UPDATE"
            " SET last_time = GREATEST(bar_watermarks.last_time, EXCLUDED.last_time),"
            " updated_at = now()",
            (self._account, symbol, timeframe, last_time),
        )

    def quarantine(
        self, symbol: str, timeframe: str, rejected: Iterable[tuple[int | None, str, dict]]
    ) -> None:
        """Keep rejected bars with their reason, for a person to look at."""
        for time, reason, row in rejected:
            stamp = datetime.fromtimestamp(time, tz=timezone.utc) if time is not None else None
            self._database.execute(
                "INSERT INTO bar_quarantine (account, symbol, timeframe, time, reason, payload)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (self._account, symbol, timeframe, stamp, reason, json.dumps(row, default=str)),
            )

    def _rows(self, symbol: str, timeframe: str, rates: np.ndarray) -> list[tuple]:
        times = utc_iso(rates["time"].astype(np.int64)).tolist()
        columns = zip(
            times,
            rates["open"].tolist(),
            rates["high"].tolist(),
            rates["low"].tolist(),
            rates["close"].tolist(),
            rates["tick_volume"].tolist(),
            rates["spread"].tolist(),
            rates["real_volume"].tolist(),
            strict=False,
        )
        return [(self._account, symbol, timeframe, *values) for values in columns]
