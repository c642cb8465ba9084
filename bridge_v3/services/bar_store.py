"""Bars in PostgreSQL: idempotent batch writes, per-series watermarks and the quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

import numpy as np
from psycopg2.extras import execute_values

from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.recent_bars import save_recent

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

    def transaction(self):
        """A connection in a transaction, for ``save_many`` and whatever must commit with it
        (the messages describing the bars: ``Publisher.stage``)."""
        return self._database.connection()

    def save(self, symbol: str, timeframe: str, rates: np.ndarray) -> int:
        """Upsert closed bars (``time`` in UTC seconds); returns rows inserted or changed."""
        with self.transaction() as conn:
            return self.save_many(conn, [(symbol, timeframe, rates)], [])

    def save_many(
        self,
        conn,
        batches: Sequence[tuple[str, str, np.ndarray]],
        watermarks: Sequence[tuple[str, str, int]],
    ) -> int:
        """Upsert the bars of several series and move their watermarks, in the caller's
        transaction ``conn``. Returns rows inserted or changed."""
        data = self._columns(batches)
        stored = 0
        if data is not None:
            stored = self._database.upsert_columns("bars", data, BAR_KEY, BAR_VALUES, conn=conn)
        if watermarks:
            self._advance(conn, watermarks)
        return stored

    def save_recent(
        self,
        conn,
        batches: Sequence[tuple[str, str, np.ndarray]],
        watermarks: Sequence[tuple[str, str, int]],
    ) -> int:
        """``save_many`` in one statement, for a cycle's few bars per series (see
        ``recent_bars``)."""
        return save_recent(conn, self._account, batches, watermarks)

    def stored(
        self, conn, bars: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], tuple]:
        """The stored values (``BAR_VALUES`` order) of those ``(symbol, timeframe, time)``
        bars that exist, read in the caller's transaction: what a broker correction replaces."""
        if not bars:
            return {}
        columns = ", ".join(f"b.{name}" for name in BAR_VALUES)
        with conn.cursor() as cursor:
            rows = execute_values(
                cursor,
                f"SELECT b.symbol, b.timeframe, EXTRACT(EPOCH FROM b.time)::bigint, {columns}"
                " FROM bars b JOIN (VALUES %s) AS v (account, symbol, timeframe, time)"
                " ON b.account = v.account AND b.symbol = v.symbol"
                " AND b.timeframe = v.timeframe AND b.time = to_timestamp(v.time)",
                [(self._account, symbol, timeframe, int(time)) for symbol, timeframe, time in bars],
                template="(%s::bigint, %s, %s, %s::bigint)",
                fetch=True,
            )
        return {(symbol, tf, int(time)): tuple(values) for symbol, tf, time, *values in rows}

    def _advance(self, conn, watermarks: Sequence[tuple[str, str, int]]) -> None:
        rows = [(self._account, symbol, timeframe, last) for symbol, timeframe, last in watermarks]
        with conn.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO bar_watermarks (account, symbol, timeframe, last_time, updated_at)"
                " SELECT v.account, v.symbol, v.timeframe, to_timestamp(v.last), now()"
                " FROM (VALUES %s) AS v (account, symbol, timeframe, last)"
                " ON CONFLICT (account, symbol, timeframe) DO UPDATE"
                " SET last_time = GREATEST(bar_watermarks.last_time, EXCLUDED.last_time),"
                " updated_at = now()",
                rows,
            )

    def _columns(self, batches: Sequence[tuple[str, str, np.ndarray]]) -> dict | None:
        """Column-major data for every bar of every batch (no per-row Python tuples)."""
        batches = [(s, tf, r) for s, tf, r in batches if len(r)]
        if not batches:
            return None
        rates = np.concatenate([r for _, _, r in batches])
        sizes = [len(r) for _, _, r in batches]
        data = {
            "account": np.full(len(rates), self._account, dtype=np.int64),
            "symbol": np.repeat([s for s, _, _ in batches], sizes),
            "timeframe": np.repeat([tf for _, tf, _ in batches], sizes),
            "time": utc_iso(rates["time"].astype(np.int64)),
        }
        data.update({name: rates[name] for name in BAR_VALUES})
        return data

    def quarantine(
        self, symbol: str, timeframe: str, rejected: Iterable[tuple[int | None, str, dict]]
    ) -> int:
        """Keep rejected bars with their reason, for a person to look at, in one statement.

        One row per (series, bar time, reason): a bar seen again (it lies in the re-fetched
        overlap) only moves ``last_seen_at`` and takes its latest payload. Returns how many
        bars were quarantined for the first time.
        """
        rows = [
            (
                self._account,
                symbol,
                timeframe,
                datetime.fromtimestamp(time, tz=timezone.utc) if time is not None else None,
                reason,
                json.dumps(row, default=str),
            )
            for time, reason, row in rejected
        ]
        if not rows:
            return 0
        with self._database.connection() as conn, conn.cursor() as cursor:
            inserted = execute_values(
                cursor,
                "INSERT INTO bar_quarantine (account, symbol, timeframe, time, reason, payload)"
                " VALUES %s ON CONFLICT (account, symbol, timeframe, time, reason) DO UPDATE"
                " SET payload = EXCLUDED.payload, last_seen_at = now()"
                " RETURNING (xmax = 0)",  # true for a row inserted, false for one seen again
                _unique(rows),
                template="(%s, %s, %s, %s, %s, %s::jsonb)",
                fetch=True,
            )
        return sum(1 for (new,) in inserted if new)


def _unique(rows: list[tuple]) -> list[tuple]:
    """One row per quarantine key (the last wins): ON CONFLICT cannot touch a row twice."""
    return list({row[:5]: row for row in rows}.values())
